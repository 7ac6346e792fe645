"""The one exception tree of qodlab.

QodError
├── TransportError           the request did not get an answer (connection, timeout)
│   └── QodTimeout
├── InvalidRequest           refused before sending: a keyword's value (.field), and what it accepts
├── ServerStartError         a sandbox or listener could not start (port in use, ...)
├── ServerStopped            a stopped or replaced sandbox, listener or relay was used (names its replacement)
├── AuthError                no access token: the authorization server refused (.error)
├── WaitError                a session or assignment will not reach the awaited status (.wanted .status)
│   └── WaitTimeout          ... not within the timeout (also a TimeoutError)
└── ApiError                 the API answered with an error (.status .code .message .response)
    ├── InvalidArgument      400
    ├── Unauthenticated      401
    ├── PermissionDenied     403
    ├── NotFound             404
    ├── Conflict             409
    ├── Unprocessable        422
    │   └── NotificationsNotSupported   422 EVENT_NOTIFICATIONS_NOT_SUPPORTED: create it without a sink
    ├── RateLimited          429
    └── ServiceUnavailable   500, 502, 503, 504

SettingsChanged (a UserWarning): a re-run `Sandbox(...)`, `Listener(...)` or `Relay(...)` (the same cell or
line) asked for other settings than the one it replaces; it names what changed.
RelayRefuses (a UserWarning): a listener's relay will not carry what providers send (smee.io and
`application/cloudevents+json`); it says so and what to use instead.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, ClassVar

import httpx

__all__ = [
    "ApiError",
    "AuthError",
    "Conflict",
    "InvalidArgument",
    "InvalidRequest",
    "NotFound",
    "NotificationsNotSupported",
    "PermissionDenied",
    "QodError",
    "QodTimeout",
    "RateLimited",
    "RelayRefuses",
    "ServerStartError",
    "ServerStopped",
    "ServiceUnavailable",
    "SettingsChanged",
    "TransportError",
    "Unauthenticated",
    "Unprocessable",
    "WaitError",
    "WaitTimeout",
    "describe",
]


class QodError(Exception):
    """Root of every error qodlab raises.

    Raised, a cell shows IPython's traceback, whose last line is the message (it says what to do). Kept
    and shown as a value (`except QodError as err:` then `err` at the end of a cell), it is a card: its
    kind, its message and the facts it carries (`_repr_html_`), never a credential.
    """

    def _repr_html_(self) -> str:
        """An HTML card: the error's kind, its message, then the facts it carries."""
        import html

        from .notebook.display import card

        rows = [("message", html.escape(getattr(self, "message", "") or str(self)))]  # an API's words, or ours
        rows += [(name, html.escape(value)) for name, value in self._facts() if value]
        return card(type(self).__name__, rows)

    def _facts(self) -> list[tuple[str, str]]:
        """The facts beside the message a card shows, as (name, text)."""
        return []


class TransportError(QodError):
    """The request got no answer: the connection failed or was cut."""


class QodTimeout(TransportError):
    """The request timed out."""


class InvalidRequest(QodError, ValueError):
    """A value qodlab refused before sending or starting anything: `.field` names the Python keyword.

    The message says what the keyword accepts. It is a ValueError too, as pydantic's errors are.
    `.problems` holds every (keyword, message) found, the first one being `.field`'s.
    """

    def __init__(self, message: str, field: str | None = None, problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.problems = problems or ((field or "", message),)

    def _facts(self) -> list[tuple[str, str]]:
        return [("field", self.field or "")] + [(f"also {k}", m) for k, m in self.problems[1:]]


class ServerStartError(QodError):
    """A background server could not start."""


class ServerStopped(QodError, RuntimeError):
    """A method of a stopped sandbox, listener or relay was called; the message names what replaced it, if anything.

    A stopped one comes back with `start()`; a replaced one (its cell or line ran again) does not: use the
    one that replaced it, which serves at the same URL.
    """


class SettingsChanged(UserWarning):
    """A construction found a running server with other settings: they were applied, or it was restarted."""


class RelayRefuses(UserWarning):
    """A relay refuses a content type providers send notifications with: they cannot come through it."""


class AuthError(QodError):
    """No access token could be had: the authorization server refused, or could not be found.

    `.error` is OAuth's error code (`invalid_client`, `access_denied`, ...); never a secret.
    """

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error

    def _facts(self) -> list[tuple[str, str]]:
        return [("OAuth error", self.error or "")]


class WaitError(QodError):
    """`wait_for()` cannot succeed: the session or assignment is past the status awaited (it ended first).

    `.ident` is its id, `.wanted` the status awaited, `.status` and `.status_info` the last seen.
    """

    def __init__(self, message: str, ident: str, wanted: str, status: str, status_info: str | None = None) -> None:
        super().__init__(message)
        self.ident, self.wanted, self.status, self.status_info = ident, wanted, status, status_info

    def _facts(self) -> list[tuple[str, str]]:
        last = self.status + (f" ({self.status_info})" if self.status_info else "")
        return [("id", self.ident), ("awaited", self.wanted), ("last seen", last)]


class WaitTimeout(WaitError, TimeoutError):
    """`wait_for()` ran out of time; the message says the status it was in (and, with a listener, its refusals)."""


class ApiError(QodError):
    """The API answered with an error status and (usually) a CAMARA ErrorInfo body."""

    statuses: ClassVar[tuple[int, ...]] = ()

    def __init__(self, status: int, code: str, message: str, response: httpx.Response | None = None):
        self.status = status
        self.code = code
        self.message = message
        self.response = response
        super().__init__(f"{status} {code}: {message}")

    def _facts(self) -> list[tuple[str, str]]:
        request = ""
        if self.response is not None:
            with contextlib.suppress(RuntimeError):  # a response built without a request has none
                # the method and path only: a query or a header could hold a credential
                request = f"{self.response.request.method} {self.response.request.url.path}"
        return [("status", str(self.status)), ("code", self.code), ("request", request)]

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Build the most specific error for a response with an error status."""
        status, code, message = response.status_code, "", ""
        body = _json_or_none(response)
        if isinstance(body, dict):
            code = str(body.get("code") or "")
            message = str(body.get("message") or body.get("detail") or "")
        if not code:
            code = httpx.codes.get_reason_phrase(status).upper().replace(" ", "_") or "ERROR"
        if not message:
            message = response.text[:200] if body is None else ""
        if status == 401 and (note := _REPLACED.get(_origin(response))):
            message = f"{message} ({note})" if message else note
        return cls.of(status, code, message, response)

    @classmethod
    def of(cls, status: int, code: str, message: str, response: httpx.Response | None = None) -> ApiError:
        """The most specific error for a status (the sandbox's own methods raise these too)."""
        for special in _BY_CODE:
            if status in special.statuses and code == special.code_name:
                return special(status, code, message, response)
        for sub in _SUBCLASSES:
            if status in sub.statuses:
                return sub(status, code, message, response)
        return cls(status, code, message, response)


_REPLACED: dict[str, str] = {}
"""A server's origin (scheme://host:port) -> how a restart in its place changed its credentials, for a 401."""


def note_replacement(url: str, note: str | None) -> None:
    """Say (or forget, with None) why a client of the server at `url` may get 401: restarted with other credentials."""
    origin = _origin_of(httpx.URL(url))
    if note is None:
        _REPLACED.pop(origin, None)
    else:
        _REPLACED[origin] = note


def _origin(response: httpx.Response) -> str:
    try:
        return _origin_of(response.request.url)
    except RuntimeError:  # a response built without a request
        return ""


def _origin_of(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


class InvalidArgument(ApiError):
    """400: the request is malformed or a value is out of range."""

    statuses = (400,)


class Unauthenticated(ApiError):
    """401: missing or wrong credentials."""

    statuses = (401,)


class PermissionDenied(ApiError):
    """403: the credentials do not allow this."""

    statuses = (403,)


class NotFound(ApiError):
    """404: no such session, profile or device."""

    statuses = (404,)


class Conflict(ApiError):
    """409: the device has a session already, or the session cannot be extended now."""

    statuses = (409,)


class Unprocessable(ApiError):
    """422: valid but not applicable (profile not usable, identifier missing or unsupported)."""

    statuses = (422,)


class NotificationsNotSupported(Unprocessable):
    """422 EVENT_NOTIFICATIONS_NOT_SUPPORTED: the provider delivers no notifications to a `sink`, and created nothing.

    CAMARA Commonalities r4.4: send the request again without `sink` (and `sinkCredential`) and
    follow the status by reading it (`qodlab.Watcher` polls; a Workbench on "auto" does so itself).
    """

    code_name: ClassVar[str] = "EVENT_NOTIFICATIONS_NOT_SUPPORTED"
    FIX: ClassVar[str] = "send it again with sink=None and poll its status (qodlab.Watcher; a dashboard does it itself)"

    def __init__(self, status: int, code: str, message: str, response: httpx.Response | None = None):
        super().__init__(status, code, message, response)
        self.args = (f"{status} {code}: {message} Fix: {self.FIX}.",)


class RateLimited(ApiError):
    """429: too many requests or quota exceeded."""

    statuses = (429,)


class ServiceUnavailable(ApiError):
    """5xx: the provider failed or is unavailable."""

    statuses = (500, 502, 503, 504)


_SUBCLASSES: tuple[type[ApiError], ...] = (
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    Conflict,
    Unprocessable,
    RateLimited,
    ServiceUnavailable,
)


_BY_CODE: tuple[type[NotificationsNotSupported], ...] = (NotificationsNotSupported,)  # a code with its own class


def describe(exc: QodError) -> str:
    """An error in one line for a widget or a table: `403 PERMISSION_DENIED: ...`, or its kind and text."""
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
