"""The sandbox's HTTP routes: one router per API of each release served (`qodlab.apis.RELEASES`), and `/_sandbox`.

Each release with CAMARA contracts gets its Quality on Demand, QoS Profiles and QoS Provisioning
routers at its base paths, checked against its OpenAPI files; the Network as Code releases get
theirs from `nac_api`. What every request goes through first (error bodies, the x-correlator,
credentials, a gate, injected faults) is `middleware`'s. Nothing here holds state: it all lives
in the engine.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

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
from . import contract
from .audience import Audience, Audiences
from .clock import rfc3339
from .faults import NoticeFaultKind
from .middleware import CamaraMiddleware, install_error_handlers, validation_message
from .nac_api import legacy_router
from .oidc_api import oidc_router
from .params import SessionId, access, conforming
from .refusals import EngineError
from .versions import shaped

if TYPE_CHECKING:
    from .engine import SandboxSession
    from .server import Sandbox

__all__ = ["CONTROL", "JWKS_PATH", "create_app"]

CONTROL = "/_sandbox"
JWKS_PATH = "/.well-known/qodlab-notifications-jwks.json"  # the `jwksUri` of PRIVATE_KEY_JWT sessions


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
        version=apis.default().name,
        lifespan=lifespan,
        docs_url=None,  # served below, naming its schema relatively
    )
    install_error_handlers(app)
    audiences = sandbox.audiences
    app.add_middleware(CamaraMiddleware, sandbox=sandbox, audiences=audiences)
    audiences.declare(app.router.routes, "public")  # FastAPI's own: /openapi.json, /docs, /redoc
    _include_routers(app, sandbox)
    own = len(app.router.routes)  # the app's own routes below are public (a count kept /health out, issue 36)
    _own_routes(app, sandbox)
    audiences.declare(app.router.routes[own:], "public")
    return app


def _include_routers(app: FastAPI, sandbox: Sandbox) -> None:
    """Every API the sandbox speaks, and its controls, each router declared for its audience."""
    audiences = sandbox.audiences
    camara = [r for r in apis.RELEASES if r.contracts is not None and r.profiles_path is not None]
    for release in camara:
        qod, profiles, _ = release.contracts or ("", "", None)
        _include(
            app,
            audiences,
            "api",
            _qod_router(sandbox, release, qod),
            prefix=release.qod_path,
            tags=[f"QoS Sessions {release.name}"],
        )
        _include(
            app,
            audiences,
            "api",
            _profiles_router(sandbox, release, profiles),
            prefix=release.profiles_path or "",
            tags=[f"QoS Profiles {release.name}"],
        )
    _include(app, audiences, "control", _control_router(sandbox), prefix=CONTROL, tags=["Sandbox controls"])
    for release in camara:
        provisioning = release.contracts[2] if release.contracts else None
        if release.provisioning_path is not None and provisioning is not None:
            tags = [f"QoS Provisioning {release.provisioning} ({release.name})"]
            router = _provisioning_router(sandbox, release, provisioning)
            _include(app, audiences, "api", router, prefix=release.provisioning_path, tags=tags)
    for release in apis.RELEASES:
        if release.nac:
            _include(
                app,
                audiences,
                "api",
                legacy_router(sandbox, release),
                prefix=release.qod_path,
                tags=["Network as Code (older releases)"],
            )
    if sandbox.provider is not None:  # its endpoints check client credentials themselves; its controls are controls
        provider, minting = oidc_router(sandbox)
        _include(app, audiences, "public", provider, tags=["OpenID provider (--auth oidc)"])
        _include(app, audiences, "control", minting, tags=["OpenID provider (--auth oidc)"])
    for make_router in sandbox.routers:  # a classroom's controls
        _include(app, audiences, "control", make_router(sandbox))


def _own_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """The app's own routes: health, the Swagger UI, and the keys that sign client assertions."""

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        """Swagger UI fetching `openapi.json` beside itself: behind jupyter-server-proxy (Binder, JupyterHub:
        `/user/NAME/proxy/PORT/docs`) that is under the proxy's prefix, where FastAPI's `/openapi.json` is not."""
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(openapi_url="openapi.json", title=f"{app.title} - Swagger UI")

    @app.get(JWKS_PATH, summary="The public keys that sign PRIVATE_KEY_JWT client assertions", tags=["QoS Sessions"])
    async def notification_keys() -> JSONResponse:
        return JSONResponse(sandbox.notifier.signer.jwks())


def _include(app: FastAPI, audiences: Audiences, audience: Audience, router: APIRouter, **options: Any) -> None:
    """Include a router, its routes declared for `audience` (`qodlab.sandbox.audience`)."""
    app.include_router(router, **options)
    audiences.declare(router.routes, audience, options.get("prefix", ""))


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
        if not release.address_list and body.application_server.ip_addresses is not None:
            # a property 1.1.0 does not know: its server would find no address it reads, not the list's first
            msg = f"applicationServer: ipAddresses is QoD 1.2's; {release.name} takes ipv4Address or ipv6Address"
            raise EngineError(400, "INVALID_ARGUMENT", msg)
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

    @router.post(
        "/qos-assignments",
        status_code=201,
        summary="Assign a QoS profile to a device",
        dependencies=schema("CreateAssignment"),
    )
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

    @router.post(
        "/retrieve-qos-assignment", summary="A device's assignment", dependencies=schema("RetrieveAssignmentByDevice")
    )
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
    _state_routes(router, sandbox)
    _fault_routes(router, sandbox)
    _metrics_route(router, sandbox)

    @router.delete("/faults", status_code=204, summary="Clear every pending fault")
    async def clear_faults() -> Response:
        faults.clear()
        return Response(status_code=204)

    return router


def _state_routes(router: APIRouter, sandbox: Sandbox) -> None:
    """The controls that read what the sandbox holds, move its clock, and terminate a session as the network."""

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


def _fault_routes(router: APIRouter, sandbox: Sandbox) -> None:
    """The controls that set what the next calls and notifications meet: faults, congestion, a shared client."""
    faults = sandbox.faults

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


def _metrics_route(router: APIRouter, sandbox: Sandbox) -> None:
    """The control that reads a device's simulated link, the device given as query parameters."""

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
            raise EngineError(
                400, "INVALID_ARGUMENT", validation_message(getattr(exc, "errors", lambda: [])()) or str(exc)
            ) from None
        frame["time"] = frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
        frame = frame.astype(object).where(frame.notna(), None)
        return _json(frame.to_dict("records"))


def _control(action: Callable[[], None]) -> None:
    try:
        action()
    except ValueError as exc:
        raise EngineError(400, "INVALID_ARGUMENT", str(exc)) from None
