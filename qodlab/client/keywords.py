"""A request's Python keywords, checked as a person types them, before anything is sent.

pydantic words its errors for models (`application_server.ipv4Address`, a link to its own docs);
a person typed keywords (`duration=0`, `application_server="example.com"`). `checked()` turns a
ValidationError into an `InvalidRequest` naming the keyword and what it accepts; `no_unknown`
refuses a typo (`sink_tokn=`) that pydantic would silently ignore; `sink_fields` lets a sink be a
`Listener` (its URL and its credential) and warns when a sink is a running listener's URL
without the token it checks. `renamed` takes a keyword by its old name too, and `deprecated` warns
about an old name at the line the person wrote.
"""

from __future__ import annotations

import difflib
import sys
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._caller import outside
from ..errors import InvalidRequest
from ..models import AccessTokenCredential, to_snake

if TYPE_CHECKING:
    from ..receiving.listener import Listener

__all__ = [
    "ACCEPTS",
    "checked",
    "deprecated",
    "no_unknown",
    "profile_keyword",
    "renamed",
    "sink_credential",
    "sink_fields",
]

_PORTS = "{'ports': [80, 443]} and/or {'ranges': [{'from': 5000, 'to': 5010}]}, ports 0 to 65535"
ACCEPTS: dict[str, str] = {
    "device": (
        "a dict with phoneNumber (E.164, e.g. '+36701234567'), networkAccessIdentifier, ipv6Address, or "
        "ipv4Address: {'publicAddress': ..., plus 'privateAddress' or 'publicPort'}"
    ),
    "application_server": (
        "an IPv4 or IPv6 address, optionally with a mask (e.g. '198.51.100.0/24'), or (QoD 1.2) a list of up "
        "to 16 addresses; not a host name (resolve it first, e.g. socket.gethostbyname)"
    ),
    "qos_profile": (
        "a profile name of 3 to 256 letters, digits, '_', '.' or '-', e.g. 'QOS_L'; client.list_profiles() lists them"
    ),
    "duration": "whole seconds, at least 1, within the profile's minDuration and maxDuration",
    "seconds": "whole seconds to add, at least 1",
    "sink": "a Listener, or an https URL (outside strict mode also http on loopback)",
    "sink_token": "the bearer token the sink checks, a string: listener.token, or pass sink=listener",
    "sink_token_expires": "a datetime with a time zone, or an RFC 3339 string such as '2030-01-01T00:00:00Z'",
    "device_ports": _PORTS,
    "application_server_ports": _PORTS,
    "status": "ACTIVE, INACTIVE or DEPRECATED",
    "name": "a profile name, e.g. 'QOS_L'",
}
# Where a model's field comes from among the keywords a person gives.
_KEYWORD_OF = {
    "sink_credential": "sink_token",
    "access_token": "sink_token",
    "access_token_expires_utc": "sink_token_expires",
    "requested_additional_duration": "seconds",
}


def _keyword(loc: tuple[Any, ...], where: str | None) -> str:
    """The keyword an error's location is about: its first field, in snake case."""
    if where is not None:
        return where
    if not loc:
        return "request"
    first = to_snake(str(loc[0]))
    if first == "sink_credential" and len(loc) > 1 and to_snake(str(loc[-1])) == "access_token_expires_utc":
        return "sink_token_expires"
    return _KEYWORD_OF.get(first, first)


def _problem(error: Mapping[str, Any], where: str | None) -> tuple[str, str]:
    keyword = _keyword(tuple(error["loc"]), where)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        text = f"{keyword} is required"
    else:
        given = error.get("input")
        got = "" if repr(given) in message else f", got {given!r}"
        text = f"{keyword}: {message[:1].lower()}{message[1:]}{got}"
    accepts = ACCEPTS.get(keyword)
    return keyword, f"{text}. {keyword} takes {accepts}" if accepts else text


def invalid_request(exc: ValidationError, where: str | None = None) -> InvalidRequest:
    """pydantic's error as one naming the keyword and what it accepts (no link to pydantic's docs)."""
    problems = tuple(dict.fromkeys(_problem(e, where) for e in exc.errors()))
    first_field, message = problems[0]
    if len(problems) > 1:
        others = ", ".join(dict.fromkeys(field for field, _ in problems[1:]))
        message = f"{message}. Also wrong: {others}"
    return InvalidRequest(message, first_field, problems)


class checked:  # noqa: N801 (used as `with checked():`, like contextlib's lower-case helpers)
    """Inside: a ValidationError leaves as an InvalidRequest (`where`: the keyword, when it is one value)."""

    __slots__ = ("where",)

    def __init__(self, where: str | None = None) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, ValidationError):
            raise invalid_request(exc, self.where) from None


def no_unknown(fields: Iterable[str], known: Iterable[str], call: str) -> None:
    """Refuse a keyword the call does not take, suggesting the nearest one it does."""
    accepted = known if isinstance(known, frozenset | set) else frozenset(known)
    for name in fields:
        if name not in accepted:
            offered = sorted(k for k in accepted if k == to_snake(k))  # the Python spellings; wire names pass too
            near = difflib.get_close_matches(name, offered, n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            msg = f"{call} got an unknown keyword {name!r}: {hint}it takes {', '.join(offered)}"
            raise InvalidRequest(msg, name)


def profile_keyword(qos_profile: str | None, profile: str | None) -> str | None:
    """`qos_profile=`, or its other spelling `profile=` (never both)."""
    if qos_profile is not None and profile is not None and qos_profile != profile:
        msg = f"give qos_profile= or profile=, not both (got {qos_profile!r} and {profile!r})"
        raise InvalidRequest(msg, "qos_profile")
    return qos_profile if qos_profile is not None else profile


def renamed(call: str, old: str, old_value: Any, new: str, new_value: Any) -> Any:
    """`new_value`, or `old_value` given by the keyword's old name `old` (warned about; never both)."""
    if old_value is None:
        return new_value
    if new_value is not None:
        msg = f"{call} got {new}= and {old}=, its old name: give {new}= alone"
        raise InvalidRequest(msg, new)
    deprecated(f"{call}'s {old}=", f"{new}=")
    return old_value


def deprecated(old: str, new: str) -> None:
    """Warn that `old` is an old name of `new`, at the first line outside qodlab (the person's).

    Every such message starts "qodlab: ", so the test suite can make them errors.
    """
    msg = f"qodlab: {old} is deprecated, use {new}"
    warnings.warn(msg, DeprecationWarning, stacklevel=outside()[1])


def sink_fields(sink: Any, token: str | None, expires: Any, *, credential: bool = False) -> tuple[str | None, Any]:
    """The sink URL and its credential (a wire dict, an AccessTokenCredential, or None).

    A `Listener` gives both: its URL and the credential it checks. A URL a running listener serves,
    given without a token while that listener requires one, is warned about: every notification
    would be refused (401) and the session would look silent. `credential`: one is given otherwise
    (`sink_credential=`), so there is nothing to warn about.
    """
    listener = _as_listener(sink)
    if listener is not None:
        if token is not None:
            return listener.url, sink_credential(token, expires)
        if listener.tokens is not None:  # PRIVATE_KEY_JWT: it takes only the tokens its own endpoint grants
            return listener.url, listener.sink_credential("private_key_jwt")
        return listener.url, sink_credential(listener.token, expires)
    if sink is not None and not isinstance(sink, str):
        msg = f"sink: expected a URL or a Listener, got {type(sink).__name__} ({ACCEPTS['sink']})"
        raise InvalidRequest(msg, "sink")
    if sink is not None and token is None and not credential:
        _warn_if_listener(sink)
    return sink, sink_credential(token, expires)


def sink_credential(token: str | None, expires: Any) -> AccessTokenCredential | None:
    """A bearer sink credential for `token` (None without one), valid until `expires` (two days by default)."""
    if token is None:
        return None
    expiry = {"access_token_expires_utc": expires} if expires is not None else {}
    with checked():
        return AccessTokenCredential.model_validate({"access_token": token, **expiry})


def _as_listener(value: Any) -> Listener | None:
    module = sys.modules.get("qodlab.receiving.listener")  # not imported: no Listener exists in this process
    if module is not None and isinstance(value, module.Listener):
        found: Listener = value
        return found
    return None


def _warn_if_listener(sink: str) -> None:
    module = sys.modules.get("qodlab.receiving.listener")
    listener = module.listener_at(sink) if module is not None else None
    if listener is None or not listener.require_token:
        return
    msg = (
        f"sink {sink} is a running Listener, but no sink_token was given: it will refuse every "
        "notification (401). Pass sink=listener (its URL and token), or sink_token=listener.token."
    )
    warnings.warn(msg, UserWarning, stacklevel=outside()[1])  # the line the person wrote
