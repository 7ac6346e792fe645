"""Which `Host` a qodlab server answers to, and which browser origins may change its state (as Jupyter Server does).

A web page can reach a server on the laptop that shows it: by DNS rebinding (its own host name, resolving to
127.0.0.1, so the browser lets it read the answers) or by a cross-site form or `fetch` (a POST the browser sends
without reading the answer). Jupyter Server answers both 403 (`jupyter_server/base/handlers.py`: `check_host`,
`check_origin`, `allow_remote_access`); every qodlab server does the same (`guarded`, applied by `ServerThread`):

- `Host`: an IP address (a page cannot rebind an address), `localhost` and `*.localhost` (browsers resolve
  these to loopback themselves), or a name in `allowed_hosts` (a leading dot: the name and its subdomains; "*":
  any). As in Jupyter Server, the check is on when the server is bound to a loopback address or is given
  `allowed_hosts`; bound to another address (`0.0.0.0` for a classroom or a deployed relay) it answers any
  `Host` unless `allowed_hosts` says which.
- `Origin` (and `Sec-Fetch-Site`), on every request that is not GET, HEAD or OPTIONS, and every websocket:
  the server's own origin or one whose host is in `allowed_hosts`; any other (`null` included) is refused.
  Programs (SDKs, providers' webhooks, curl) send no `Origin` and are not affected.

The same guard answers 400 a request that carries `Authorization` (or `X-RapidAPI-Key`) twice: RFC 9110 allows
one, and servers disagree on which of two they read (Starlette the first, a dict of the headers the last), so
a proxy and the server behind it could judge two different credentials.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from .asgi import App, Receive, Scope, Send

__all__ = ["HostPolicy", "guarded"]

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_ONCE = {b"authorization": "Authorization", b"x-rapidapi-key": "X-RapidAPI-Key"}  # credential headers: once at most


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _hostname(netloc: str) -> str:
    """`netloc` without its port, lower case (`[::1]:80` -> `[::1]`)."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc.split("]", 1)[0] + "]"
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


class HostPolicy:
    """The host names and origins a server bound to `bound` answers to (see the module's docstring)."""

    def __init__(self, bound: str, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed = tuple(name.strip().lower() for name in allowed_hosts if name.strip())
        loopback = bound == "localhost" or (_is_address(bound) and ipaddress.ip_address(bound.strip("[]")).is_loopback)
        self.checks_host = loopback or bool(self.allowed)

    def __repr__(self) -> str:
        return f"HostPolicy(allowed={list(self.allowed)}, checks_host={self.checks_host})"

    def named(self, host: str) -> bool:
        """Whether `host` (no port) is a name given in `allowed_hosts`."""
        return any(
            entry == "*" or host == entry or (entry.startswith(".") and (host.endswith(entry) or host == entry[1:]))
            for entry in self.allowed
        )

    def host_allowed(self, host: str) -> bool:
        """Whether a request with this `Host` header (port included) is answered."""
        name = _hostname(host)
        if not self.checks_host or not name or _is_address(name):
            return True
        return name == "localhost" or name.endswith(".localhost") or self.named(name)

    def refusal(self, method: str, headers: dict[bytes, bytes], websocket: bool = False) -> str | None:
        """Why a request is refused (a sentence for a 403), or None."""
        host = headers.get(b"host", b"").decode("latin-1")
        if not self.host_allowed(host):
            return (
                f"Host {_hostname(host)!r} is not one this server answers to (a DNS rebinding page?): "
                "start it with allowed_hosts=[...] (CLI: --allow-host NAME) to serve that name."
            )
        if method in _SAFE and not websocket:
            return None
        origin = headers.get(b"origin")
        if origin is None:
            site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
            return "Cross-site requests may not change this server's state." if site == "cross-site" else None
        given = origin.decode("latin-1").strip().lower()
        parts = urlsplit(given)
        if parts.netloc and (parts.netloc == host.strip().lower() or self.named(_hostname(parts.netloc))):
            return None
        return f"Origin {given!r} may not change this server's state (cross-origin requests are refused)."


def guarded(app: App, policy: HostPolicy) -> App:
    """`app`, with requests `policy` refuses answered 403, and those with a credential header twice 400 (a CAMARA
    error body), before they reach it."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind in ("http", "websocket"):
            raw = scope.get("headers") or ()
            headers = dict(raw)
            why = policy.refusal(scope.get("method", "GET"), headers, websocket=kind == "websocket")
            refusal = (403, "PERMISSION_DENIED", why) if why is not None else _doubled(raw)
            if refusal is not None:
                if kind == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await _refuse(send, *refusal)
                return
        await app(scope, receive, send)

    return guard


def _doubled(raw: Iterable[tuple[bytes, bytes]]) -> tuple[int, str, str] | None:
    """400 when a credential header comes more than once (which one would count is the server's guess)."""
    names = [name.lower() for name, _ in raw]
    for header, name in _ONCE.items():
        if names.count(header) > 1:
            message = f"One {name} header at most: this request has {names.count(header)}."
            return 400, "INVALID_ARGUMENT", message
    return None


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"status": status, "code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
