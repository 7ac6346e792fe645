"""Every request's CAMARA duties before and around the sandbox's routes: error bodies, the x-correlator,
who may call (API keys, access tokens and scopes, a classroom's gate, RapidAPI's gateway), injected faults.

Apart from the per-API routers (`api`), and naming none of them: each route declares its audience
(`audience`: api, control or public) and the guard follows it, so no path escapes a list of prefixes.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._net.bearer import bearer_token
from ..client.providers import NAC_API_HOST
from .audience import Audiences
from .engine import Access
from .oidc import SCOPES
from .refusals import EngineError
from .versions import code_for

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = [
    "NAC_RAPIDAPI_HOSTS",
    "MAX_BODY",
    "CamaraMiddleware",
    "error_response",
    "install_error_handlers",
    "rapidapi_refusal",
    "validation_message",
]

MAX_BODY = 1024 * 1024  # bytes of a request body; the largest real one (an address list, a token) is a few KiB
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_CORRELATOR = re.compile(r"^[a-zA-Z0-9-_:;./<>{}]{0,256}$")
# The API hosts the official SDKs name in X-RapidAPI-Host: network-as-code 8.x and 10.x's docs (and
# 8.x's stage and dev environments), and 3.x's QoD-only API.
NAC_RAPIDAPI_HOSTS = frozenset(
    {
        NAC_API_HOST,
        "network-as-code.nokia-stage.rapidapi.com",
        "network-as-code1.nokia-dev.rapidapi.com",
        "quality-of-service-on-demand.nokia.rapidapi.com",
    }
)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A CAMARA ErrorInfo response."""
    return JSONResponse({"status": status, "code": code, "message": message}, status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error a CAMARA ErrorInfo body: engine errors (worded by the release serving the path), invalid
    input 400, unknown paths and methods 404 and 405, anything unexpected 500 INTERNAL."""

    @app.exception_handler(EngineError)
    async def engine_error(request: Request, exc: EngineError) -> JSONResponse:
        code = code_for(request.url.path, exc.code)
        request.state.error_code = code  # for a classroom's tally
        return error_response(exc.status, code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        request.state.error_code = "INVALID_ARGUMENT"
        return error_response(400, "INVALID_ARGUMENT", validation_message(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}
        code = codes.get(exc.status_code, "INVALID_ARGUMENT" if exc.status_code < 500 else "INTERNAL")
        message = {404: "No such path in this API.", 405: "Method not allowed on this path."}.get(
            exc.status_code, str(exc.detail)
        )
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "INTERNAL", f"Unexpected sandbox error ({type(exc).__name__}).")


def validation_message(errors: Sequence[Any]) -> str:
    """One readable line naming each invalid field, e.g. `device.phoneNumber: ...`."""
    parts = []
    for error in errors[:5]:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "path", "query", "header")]
        kind = error.get("type", "")
        text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if kind == "json_invalid":
            text = f"malformed JSON body ({error.get('ctx', {}).get('error', 'invalid JSON')})"
            loc = []
        elif kind == "missing" and not loc:
            text = "a JSON request body is required"
        elif kind == "uuid_parsing":
            text = "not a UUID"
        parts.append(f"{'.'.join(loc)}: {text}" if loc else text)
    return "; ".join(parts) or "Invalid request."


class CamaraMiddleware:
    """Every request's CAMARA duties: the x-correlator, who may call, injected API faults, a tally.

    Plain ASGI, not `@app.middleware("http")`: starlette's BaseHTTPMiddleware runs each request in
    a task and streams the response through a memory channel, which cost about 40% of the
    sandbox's requests per second (benchmarks/classroom.py: the trivial route 1,650/s with it).
    What handlers and exception handlers read (`request.state.access`) and write
    (`request.state.error_code`) lives in the scope's `state`, shared with starlette's Request.
    """

    def __init__(self, app: ASGIApp, sandbox: Sandbox, audiences: Audiences) -> None:
        self.app = app
        self.sandbox = sandbox
        self.audiences = audiences

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sandbox, headers, path = self.sandbox, Headers(scope=scope), scope["path"]
        state: dict[str, Any] = scope.setdefault("state", {})
        correlator = headers.get("x-correlator")
        echo = {"x-correlator": correlator} if correlator is not None else {}
        client = scope.get("client")
        refused = self._refusal(scope["method"], path, headers, state, correlator, client[0] if client else None)
        if refused is not None:
            status, code, message, extra = refused
            await error_response(status, code, message, {**echo, **extra})(scope, receive, send)
            return
        if scope["method"] in _WITH_BODY:
            body = await _capped_body(headers, receive)
            if body is None:
                message = f"Request body over the {MAX_BODY // 1024} KiB limit."
                await error_response(413, "PAYLOAD_TOO_LARGE", message, echo)(scope, receive, send)
                return
            receive = _replay(body, receive)
        caller = state.get("caller")
        if not echo and caller is None:
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                if correlator is not None:
                    message["headers"] = [*message.get("headers", ()), (b"x-correlator", correlator.encode())]
                if caller is not None and sandbox.gate is not None:
                    sandbox.gate.answered(caller, message["status"], state.get("error_code"))
            await send(message)

        await self.app(scope, receive, sending)

    def _refusal(
        self,
        method: str,
        path: str,
        headers: Headers,
        state: dict[str, Any],
        correlator: str | None,
        client: str | None,
    ) -> tuple[int, str, str, dict[str, str]] | None:
        """Why the request is refused before it reaches a route (status, code, message, headers), or None."""
        sandbox = self.sandbox
        if correlator is not None and not _CORRELATOR.match(correlator):
            return 400, "INVALID_ARGUMENT", "x-correlator: invalid value.", {}
        audience = self.audiences.of(path)
        api = audience == "api"
        if api:
            gateway = rapidapi_refusal(headers)
            if gateway is not None:
                return gateway
        sees_all = False  # the gate admitted someone who needs no token (a classroom's instructor)
        try:
            if sandbox.limiter is not None and api:  # before the credential checks: a flood of bad ones too
                sandbox.limiter.admit(headers, client)
            if sandbox.gate is not None and audience in ("api", "control"):
                state["caller"], state["access"] = sandbox.gate.admit(audience == "control", headers)
                sees_all = state["access"] is None
            if sandbox.provider is not None and api and not sees_all:
                state["access"] = _access(headers, path, method, sandbox)
        except EngineError as exc:
            return exc.status, exc.code, exc.message, dict(exc.headers or {})
        if sandbox.api_key is not None and audience != "public" and not _authorized(headers, sandbox.api_key):
            return (
                401,
                "UNAUTHENTICATED",
                "Request not authenticated due to missing, invalid, or expired credentials.",
                {},
            )
        fault = sandbox.faults.take_api_fault() if api else None
        if fault is None:
            return None
        extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        if fault.status == 429:
            return 429, "TOO_MANY_REQUESTS", "Rate limit reached.", extra
        return 503, "UNAVAILABLE", "Service unavailable (injected fault).", extra


async def _capped_body(headers: Headers, receive: Receive) -> bytes | None:
    """The whole request body, or None past MAX_BODY (declared or sent): nothing beyond it is kept."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        return None
    body = bytearray()
    for _ in range(MAX_BODY + 2):  # each message carries at least a byte, or ends the body
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            return None
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` once, then what the connection says (a disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def rapidapi_refusal(headers: Headers) -> tuple[int, str, str, dict[str, str]] | None:
    """How RapidAPI's gateway refuses a request before Network as Code sees it, or None.

    A request that names an `X-RapidAPI-Host` is one for the gateway: a host that is not a
    Network as Code API's is 404 "API doesn't exists", and no `X-RapidAPI-Key` is 401 "Missing
    RapidAPI application key" (RapidAPI's own words; the body adds CAMARA's status and code).
    """
    host = headers.get("x-rapidapi-host")
    if host is None:
        return None
    if host.lower() not in NAC_RAPIDAPI_HOSTS and not _names_this_server(host, headers):
        return 404, "NOT_FOUND", "API doesn't exists", {}
    if not headers.get("x-rapidapi-key"):
        message = (
            "Missing RapidAPI application key. Go to https://docs.rapidapi.com/docs/keys to learn how to get "
            "your API application key."
        )
        return 401, "UNAUTHENTICATED", message, {}
    return None


def _names_this_server(host: str, headers: Headers) -> bool:
    """Whether `X-RapidAPI-Host` names the server it was sent to: SDK 3.x derives it from the base URL it
    is given (its production URL with `p-eu` made `nokia`), so pointed at the sandbox it names the sandbox."""
    given = host.lower().removeprefix("http://").removeprefix("https://").rstrip("/")
    return given == headers.get("host", "").lower()


def _access(headers: Headers, path: str, method: str, sandbox: Sandbox) -> Access:
    """The caller an access token names, checked for this operation's scope (401, 403)."""
    assert sandbox.provider is not None
    token = bearer_token(headers.get("authorization"))
    if token is None:
        raise EngineError(401, "UNAUTHENTICATED", "An access token is required: Authorization: Bearer <token>.")
    caller = sandbox.provider.verify(token)
    needed = _scope(method, path)
    if needed is not None and needed not in caller.scopes:
        raise EngineError(403, "PERMISSION_DENIED", f"The access token lacks the scope {needed}.")
    return Access(caller.client_id, caller.device)


def _scope(method: str, path: str) -> str | None:
    """The scope an operation needs (CAMARA's security requirements)."""
    if path.startswith("/qos-profiles/"):
        return SCOPES["profiles"]
    if path.startswith("/qos-provisioning/"):
        if path.endswith("/retrieve-qos-assignment"):
            return SCOPES["assignment-by-device"]
        if method == "POST":
            return SCOPES["assign"]
        return {"GET": SCOPES["assignment"], "DELETE": SCOPES["revoke"]}.get(method)
    if path.endswith("/retrieve-sessions") or (method == "GET" and path.rstrip("/").endswith("/sessions")):
        return SCOPES["retrieve"]
    if path.endswith("/extend"):
        return SCOPES["update"]
    if method == "POST" and path.rstrip("/").endswith("/sessions"):
        return SCOPES["create"]
    return {"GET": SCOPES["read"], "DELETE": SCOPES["delete"]}.get(method)


def _authorized(headers: Headers, key: str) -> bool:
    given = headers.get("x-rapidapi-key")
    if given is None:
        given = bearer_token(headers.get("authorization"))
    return given is not None and hmac.compare_digest(given.encode(), key.encode())
