"""The sandbox's HTTP routes: CAMARA QoD and QoS Profiles 1.1.0 and 1.2.0-rc.3 (`versions`), and `/_sandbox` controls.

Every error, bad input included, is a CAMARA ErrorInfo body with the right status, and
`x-correlator` is echoed. Nothing here holds state: it all lives in the engine.
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import apis
from ..apis import Release
from ..models import (
    CreateAssignment,
    CreateSession,
    Device,
    ExtendSession,
    RetrieveProfiles,
    RetrieveSessions,
    to_wire,
)
from ..providers import NAC_API_HOST
from . import contract
from .clock import rfc3339
from .engine import Access
from .faults import NoticeFaultKind
from .nac_api import legacy_router
from .oidc import SCOPES
from .oidc_api import oidc_router
from .params import SessionId, access, conforming
from .refusals import EngineError
from .versions import code_for, shaped

if TYPE_CHECKING:
    from .engine import SandboxSession
    from .server import Sandbox

__all__ = ["CONTROLS", "CamaraMiddleware", "api_prefixes", "create_app", "error_response"]

CONTROL = "/_sandbox"
CONTROLS = (CONTROL, "/_classroom")  # the paths that change the sandbox: a classroom's instructor's only
JWKS_PATH = "/.well-known/qodlab-notifications-jwks.json"  # the `jwksUri` of PRIVATE_KEY_JWT sessions
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
_OPEN_PATHS = ("/docs", "/openapi.json", "/redoc", "/health", "/.well-known/", "/oauth2/", "/bc-authorize")


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A CAMARA ErrorInfo response."""
    return JSONResponse({"status": status, "code": code, "message": message}, status, headers=headers)


def create_app(sandbox: Sandbox) -> FastAPI:
    """The sandbox's FastAPI app, bound to one Sandbox's engine, notifier and faults."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        contract.load()
        await sandbox.notifier.start()
        await sandbox.scheduler.start()
        try:
            yield
        finally:
            await sandbox.scheduler.stop()
            await sandbox.notifier.aclose()

    app = FastAPI(
        title="qodlab sandbox",
        description="A simulated CAMARA Quality on Demand API with a real session lifecycle.",
        version="1.1.0",
        lifespan=lifespan,
    )
    _install_error_handlers(app)
    app.add_middleware(CamaraMiddleware, sandbox=sandbox)
    camara = [r for r in apis.RELEASES if r.contracts is not None and r.profiles_path is not None]
    for release in camara:
        qod, profiles, _ = release.contracts or ("", "", None)
        app.include_router(_qod_router(sandbox, release, qod), prefix=release.qod_path,
                           tags=[f"QoS Sessions {release.name}"])  # fmt: skip
        app.include_router(_profiles_router(sandbox, release, profiles), prefix=release.profiles_path or "",
                           tags=[f"QoS Profiles {release.name}"])  # fmt: skip
    app.include_router(_control_router(sandbox), prefix=CONTROL, tags=["Sandbox controls"])
    for release in camara:
        provisioning = release.contracts[2] if release.contracts else None
        if release.provisioning_path is not None and provisioning is not None:
            app.include_router(_provisioning_router(sandbox, release, provisioning), prefix=release.provisioning_path,
                               tags=[f"QoS Provisioning {release.provisioning} ({release.name})"])  # fmt: skip
    for release in apis.RELEASES:
        if release.nac:
            app.include_router(legacy_router(sandbox, release), prefix=release.qod_path,
                               tags=["Network as Code (older generations)"])  # fmt: skip
    if sandbox.provider is not None:
        app.include_router(oidc_router(sandbox), tags=["OpenID provider (--auth oidc)"])
    for make_router in sandbox.routers:
        app.include_router(make_router(sandbox))

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(JWKS_PATH, summary="The public keys that sign PRIVATE_KEY_JWT client assertions", tags=["QoS Sessions"])
    async def notification_keys() -> JSONResponse:
        return JSONResponse(sandbox.notifier.signer.jwks())

    return app


# -- errors and middleware -------------------------------------------------------------------


def _install_error_handlers(app: FastAPI) -> None:
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

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox
        self.prefixes = api_prefixes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sandbox, headers, path = self.sandbox, Headers(scope=scope), scope["path"]
        state: dict[str, Any] = scope.setdefault("state", {})
        correlator = headers.get("x-correlator")
        echo = {"x-correlator": correlator} if correlator is not None else {}
        refused = self._refusal(scope["method"], path, headers, state, correlator)
        if refused is not None:
            status, code, message, extra = refused
            await error_response(status, code, message, {**echo, **extra})(scope, receive, send)
            return
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
        self, method: str, path: str, headers: Headers, state: dict[str, Any], correlator: str | None
    ) -> tuple[int, str, str, dict[str, str]] | None:
        """Why the request is refused before it reaches a route (status, code, message, headers), or None."""
        sandbox = self.sandbox
        if correlator is not None and not _CORRELATOR.match(correlator):
            return 400, "INVALID_ARGUMENT", "x-correlator: invalid value.", {}
        api = path.startswith(self.prefixes)
        if api:
            gateway = rapidapi_refusal(headers)
            if gateway is not None:
                return gateway
        sees_all = False  # the gate admitted someone who needs no token (a classroom's instructor)
        try:
            if sandbox.gate is not None and (api or path.startswith(CONTROLS)):
                state["caller"], state["access"] = sandbox.gate.admit(path, headers)
                sees_all = state["access"] is None
            if sandbox.provider is not None and api and not sees_all:
                state["access"] = _access(headers, path, method, sandbox)
        except EngineError as exc:
            return exc.status, exc.code, exc.message, dict(exc.headers or {})
        if (
            sandbox.api_key is not None
            and not path.startswith(_OPEN_PATHS)
            and not _authorized(headers, sandbox.api_key)
        ):
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


def api_prefixes() -> tuple[str, ...]:
    """The path prefixes of every served release's API requests (`qodlab.apis.RELEASES`)."""
    return tuple(prefix for release in apis.RELEASES for prefix in release.prefixes)


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
    auth = headers.get("authorization", "")
    if auth[:7].lower() != "bearer " or not auth[7:].strip():
        raise EngineError(401, "UNAUTHENTICATED", "An access token is required: Authorization: Bearer <token>.")
    caller = sandbox.provider.verify(auth[7:].strip())
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
        auth = headers.get("authorization", "")
        given = auth[7:] if auth[:7].lower() == "bearer " else None
    return given is not None and hmac.compare_digest(given.encode(), key.encode())


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status)


# -- CAMARA QoD v1 ----------------------------------------------------------------------------


def _qod_router(sandbox: Sandbox, release: Release, api: contract.Api) -> APIRouter:
    router = APIRouter()
    engine = sandbox.engine

    def schema(name: str) -> Any:
        return [conforming(api, name, strict=release.strict, http_sinks=lambda: not engine.strict)]

    def shown(session: SandboxSession) -> dict[str, Any]:
        return shaped(release, session.info(), sandbox.jwks_uri)

    @router.post("/sessions", status_code=201, summary="Create a QoS session", dependencies=schema("CreateSession"))
    async def create_session(body: CreateSession, request: Request) -> JSONResponse:
        session = engine.create(
            body,
            correlator=request.headers.get("x-correlator"),
            access=access(request),
            content_type=release.notification_content_type,
        )
        return _json(shown(session), 201)

    @router.get("/sessions/{sessionId}", summary="Get a QoS session")
    async def get_session(session_id: SessionId, request: Request) -> JSONResponse:
        return _json(shown(engine.get(session_id, access(request))))

    @router.delete("/sessions/{sessionId}", status_code=204, summary="Delete a QoS session")
    async def delete_session(session_id: SessionId, request: Request) -> Response:
        engine.delete(session_id, access(request))
        return Response(status_code=204)

    @router.post(
        "/sessions/{sessionId}/extend",
        summary="Extend an AVAILABLE session",
        dependencies=schema("ExtendSessionDuration"),
    )
    async def extend_session(session_id: SessionId, body: ExtendSession, request: Request) -> JSONResponse:
        return _json(shown(engine.extend(session_id, body.requested_additional_duration, access(request))))

    @router.post("/retrieve-sessions", summary="A device's sessions", dependencies=schema("RetrieveSessionsInput"))
    async def retrieve_sessions(body: RetrieveSessions, request: Request) -> JSONResponse:
        sessions = engine.retrieve(body.device, access(request))
        return _json([shown(s) for s in sessions])

    return router


# -- QoS Provisioning 0.3.0 and 0.4.0-rc.1 ----------------------------------------------------


AssignmentId = Annotated[uuid.UUID, Path(alias="assignmentId", description="Assignment ID (UUID)")]


def _provisioning_router(sandbox: Sandbox, release: Release, api: contract.Api) -> APIRouter:
    """QoS Provisioning: a profile assigned to a device until revoked, on the same engine as sessions.

    DELETE answers 202 (AVAILABLE / DELETE_REQUESTED) while the revocation is under way, the
    engine's `revocation_delay`; 204 when there was nothing to wait for (REQUESTED, UNAVAILABLE, or
    a delay of 0).
    """
    router = APIRouter()
    engine = sandbox.engine

    def schema(name: str) -> Any:
        return [conforming(api, name, strict=release.strict, http_sinks=lambda: not engine.strict)]

    @router.post("/qos-assignments", status_code=201, summary="Assign a QoS profile to a device",
                 dependencies=schema("CreateAssignment"))  # fmt: skip
    async def assign(body: CreateAssignment, request: Request) -> JSONResponse:
        made = engine.assign(body, correlator=request.headers.get("x-correlator"), access=access(request))
        return _json(made.info(), 201)

    @router.get("/qos-assignments/{assignmentId}", summary="Get a QoS profile assignment")
    async def get(assignment_id: AssignmentId, request: Request) -> JSONResponse:
        return _json(engine.get(assignment_id, access(request), "assignment").info())

    @router.delete("/qos-assignments/{assignmentId}", status_code=204, summary="Revoke a QoS profile assignment")
    async def revoke(assignment_id: AssignmentId, request: Request) -> Response:
        revoked, under_way = engine.revoke(assignment_id, access(request))
        if not under_way:
            return Response(status_code=204)
        return _json({**revoked.info(), "statusInfo": "DELETE_REQUESTED"}, 202)  # AVAILABLE while under way

    @router.post("/retrieve-qos-assignment", summary="A device's assignment",
                 dependencies=schema("RetrieveAssignmentByDevice"))  # fmt: skip
    async def retrieve(body: RetrieveSessions, request: Request) -> JSONResponse:
        return _json(engine.assignment_for(body.device, access(request)).info())

    return router


# -- QoS Profiles v1 --------------------------------------------------------------------------


def _profiles_router(sandbox: Sandbox, release: Release, api: contract.Api) -> APIRouter:
    router = APIRouter()
    engine = sandbox.engine

    @router.post(
        "/retrieve-qos-profiles",
        summary="Find QoS profiles",
        dependencies=[conforming(api, "QosProfileDeviceRequest", strict=release.strict, http_sinks=lambda: False)],
    )
    async def retrieve_profiles(body: RetrieveProfiles, request: Request) -> JSONResponse:
        found = engine.find_profiles(body.name, body.status, body.device, access(request))
        return _json([to_wire(p) for p in found])

    @router.get("/qos-profiles/{name}", summary="Get a QoS profile")
    async def get_profile(name: str) -> JSONResponse:
        contract.check_value(name, api, "QosProfileName", where="name")  # malformed: 400; unknown: 404
        return _json(to_wire(engine.profile(name)))

    return router


# -- sandbox-only controls --------------------------------------------------------------------


class ClockUpdate(BaseModel):
    """Change the sandbox clock."""

    speed: float | None = Field(default=None, gt=0)
    """New speed: sandbox seconds per real second."""
    advance: float | None = Field(default=None, ge=0)
    """Jump forward by this many sandbox seconds."""


class ProvisioningFault(BaseModel):
    """Make provisioning fail for a device or a profile."""

    device: Device | None = None
    """Sessions for this device fail."""
    profile: str | None = None
    """Sessions with this profile fail."""


class CreationFault(BaseModel):
    """The network refuses the next sessions at creation: 201 UNAVAILABLE / NETWORK_TERMINATED."""

    count: int = Field(default=1, ge=1)
    """How many sessions."""
    profile: str | None = None
    """Only sessions with this profile."""


class SharedPrivateKeyJwt(BaseModel):
    """Onboarding for PRIVATE_KEY_JWT: the consumer's client id and token endpoint, shared in advance."""

    client_id: str = Field(alias="clientId", min_length=1, max_length=128)
    """The client id the sandbox authenticates as."""
    token_uri: str = Field(alias="tokenUri", min_length=1, max_length=2048)
    """The consumer's token endpoint."""
    api_client: str | None = Field(default=None, alias="apiClient")
    """The API client (a token's client id) it is for; every caller without a token when absent."""


class NotificationFault(BaseModel):
    """Do something to the next notifications."""

    kind: NoticeFaultKind
    """drop, delay or duplicate."""
    count: int = Field(default=1, ge=1)
    """How many notifications."""
    delay: float = Field(default=0.0, ge=0)
    """Real seconds, for delay."""


class CongestionRequest(BaseModel):
    """Load a cell more for a while."""

    device: Device | None = None
    """Only this device's cell; every device's when absent."""
    factor: float = Field(default=2.0, gt=0, le=100)
    """How many times the usual load."""
    seconds: float = Field(default=300.0, gt=0, le=86400)
    """How long, in sandbox seconds, from now."""


class ApiFaultRequest(BaseModel):
    """Answer the next API calls with an error."""

    status: int = 503
    """429 or 503."""
    count: int = Field(default=1, ge=1)
    """How many calls."""
    retry_after: float | None = Field(default=None, ge=0, alias="retryAfter")
    """Seconds for a Retry-After header."""


def _control_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    faults = sandbox.faults

    @router.get("/deliveries", summary="Every notification delivery attempt")
    async def deliveries() -> JSONResponse:
        return _json([d.as_dict() for d in sandbox.deliveries()])

    @router.get("/test-devices", summary="The documented test devices and how each answers")
    async def test_devices() -> JSONResponse:
        devices = sandbox.engine.devices
        return _json([d.as_dict() for d in devices.devices] if devices is not None else [])

    @router.get("/sessions", summary="Every session the sandbox holds")
    async def sessions() -> JSONResponse:
        return _json([s.info() for s in sandbox.engine.sessions()])

    @router.get("/clock", summary="The sandbox clock")
    async def clock() -> JSONResponse:
        return _json(sandbox.clock_info())

    @router.put("/clock", summary="Change the clock's speed or jump it forward")
    async def set_clock(body: ClockUpdate) -> JSONResponse:
        if body.speed is not None:
            sandbox.speed = body.speed
        if body.advance:
            sandbox.advance(body.advance)
        return _json(sandbox.clock_info())

    @router.post("/sessions/{sessionId}/terminate", summary="The network terminates a session")
    async def terminate(session_id: SessionId) -> JSONResponse:
        return _json(sandbox.engine.terminate(session_id).info())

    @router.post("/faults/provisioning", status_code=204, summary="Provisioning fails for a device or profile")
    async def fail_provisioning(body: ProvisioningFault) -> Response:
        _control(lambda: faults.fail_provisioning(body.device, body.profile))
        return Response(status_code=204)

    @router.post("/faults/creation", status_code=204, summary="The network refuses the next sessions at creation")
    async def fail_at_creation(body: CreationFault) -> Response:
        _control(lambda: faults.fail_at_creation(body.count, body.profile))
        return Response(status_code=204)

    @router.post("/private-key-jwt", status_code=204, summary="Share a PRIVATE_KEY_JWT client id and token endpoint")
    async def share_private_key_jwt(body: SharedPrivateKeyJwt) -> Response:
        sandbox.share_private_key_jwt(body.client_id, body.token_uri, body.api_client)
        return Response(status_code=204)

    @router.post("/faults/notifications", status_code=204, summary="Drop, delay or duplicate notifications")
    async def notification_fault(body: NotificationFault) -> Response:
        _control(lambda: faults.add_notice_fault(body.kind, body.count, body.delay))
        return Response(status_code=204)

    @router.post("/faults/api", status_code=204, summary="Answer the next API calls with 429 or 503")
    async def api_fault(body: ApiFaultRequest) -> Response:
        _control(lambda: faults.add_api_fault(body.status, body.count, body.retry_after))
        return Response(status_code=204)

    @router.post("/faults/congestion", summary="Congest a device's cell, or every cell, for a while")
    async def congestion(body: CongestionRequest) -> JSONResponse:
        episode = sandbox.congest(body.device, body.factor, body.seconds)
        return _json({"start": rfc3339(episode.start), "end": rfc3339(episode.end), "factor": episode.factor})

    @router.get("/devices/metrics", summary="A device's simulated link, one sample per sandbox second")
    async def metrics(
        phone_number: Annotated[str | None, Query(alias="phoneNumber")] = None,
        network_access_identifier: Annotated[str | None, Query(alias="networkAccessIdentifier")] = None,
        ipv6_address: Annotated[str | None, Query(alias="ipv6Address")] = None,
        public_address: Annotated[str | None, Query(alias="publicAddress")] = None,
        private_address: Annotated[str | None, Query(alias="privateAddress")] = None,
        public_port: Annotated[int | None, Query(alias="publicPort")] = None,
        start: Annotated[datetime | None, Query(alias="from")] = None,
        end: Annotated[datetime | None, Query(alias="to")] = None,
    ) -> JSONResponse:
        ipv4 = {"publicAddress": public_address, "privateAddress": private_address, "publicPort": public_port}
        fields = {
            "phoneNumber": phone_number,
            "networkAccessIdentifier": network_access_identifier,
            "ipv6Address": ipv6_address,
            "ipv4Address": {k: v for k, v in ipv4.items() if v is not None} if public_address else None,
        }
        try:
            device = Device.model_validate({k: v for k, v in fields.items() if v is not None})
            frame = sandbox.metrics(device, start, end)
        except ValueError as exc:  # pydantic's ValidationError is one
            raise EngineError(400, "INVALID_ARGUMENT", validation_message(getattr(exc, "errors", lambda: [])())
                              or str(exc)) from None  # fmt: skip
        frame["time"] = frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
        frame = frame.astype(object).where(frame.notna(), None)
        return _json(frame.to_dict("records"))

    @router.delete("/faults", status_code=204, summary="Clear every pending fault")
    async def clear_faults() -> Response:
        faults.clear()
        return Response(status_code=204)

    return router


def _control(action: Callable[[], None]) -> None:
    try:
        action()
    except ValueError as exc:
        raise EngineError(400, "INVALID_ARGUMENT", str(exc)) from None
