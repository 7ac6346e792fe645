"""The older Network as Code API releases, served on the sandbox's one engine.

| SDK      | base path  | create body                                               | listing                  |
|----------|------------|-----------------------------------------------------------|--------------------------|
| 1.x-3.x  | root       | top-level `notificationUrl`, `notificationAuthToken`      | GET /sessions?device id  |
| 4.x-7.x  | /qod/v0    | `webhook: {notificationUrl, notificationAuthToken}`, duration | POST /retrieve-sessions |

Their sessions notify in the Network as Code hybrid shape, with the token put in the
Authorization header exactly as given (these SDKs already prefix `Bearer `), and with their
release's Content-Type (`Release.notification_content_type`): `application/json` from the root,
`application/cloudevents+json` from /qod/v0 (smee.io relays the first and refuses the second).

SDK 10.x (the generated `NetworkAsCodeApi`) calls /qod/v0 too, but its models read `startedAt`
and `expiresAt` as integer seconds since the Unix epoch (CAMARA v0.x), always present, where the
classic SDKs parse ISO 8601 strings. It says who it is with an `X-Fern-Language` header: /qod/v0
answers that client with epoch seconds (a REQUESTED session: its creation time, plus its
duration) and every other client with ISO strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..apis import Release
from ..models import (
    AccessTokenCredential,
    ApplicationServer,
    CreateSession,
    Device,
    ExtendSession,
    PortsSpec,
    ProfileStatus,
    RetrieveSessions,
    to_wire,
)
from ..notifications import Shape
from .params import SessionId, access, without_nulls
from .refusals import EngineError
from .versions import shaped

if TYPE_CHECKING:
    from collections.abc import Callable

    from .engine import Engine, SandboxSession
    from .server import Sandbox

    Shown = Callable[[SandboxSession, Request], dict[str, Any]]  # a session's body as the release shows it

__all__ = ["legacy_router"]

NAC_SHAPE: Shape = "nac-hybrid"
GENERATED_CLIENT = "x-fern-language"  # the header SDK 10.x (a Fern-generated client) sends


class _Legacy(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class Webhook(_Legacy):
    """Where a /qod/v0 session's notifications go."""

    notification_url: str = Field(alias="notificationUrl")
    """The sink."""
    notification_auth_token: str | None = Field(default=None, alias="notificationAuthToken")
    """Sent as the Authorization header, as given."""


class LegacyCreate(_Legacy):
    """A create body of the root or /qod/v0 release."""

    device: Device | None = None
    """The device."""
    application_server: ApplicationServer = Field(alias="applicationServer")
    """The server end of the flow."""
    device_ports: PortsSpec | None = Field(default=None, alias="devicePorts")
    """Device ports."""
    application_server_ports: PortsSpec | None = Field(default=None, alias="applicationServerPorts")
    """Server ports."""
    qos_profile: str = Field(alias="qosProfile")
    """Profile name."""
    duration: int | None = Field(default=None, ge=1)
    """Seconds; the root release may leave it out."""
    webhook: Webhook | None = None
    """/qod/v0 notification target."""
    notification_url: str | None = Field(default=None, alias="notificationUrl")
    """Root-release notification target."""
    notification_auth_token: str | None = Field(default=None, alias="notificationAuthToken")
    """Root-release notification token."""

    def to_camara(self, default_duration: int | None) -> CreateSession:
        """The CAMARA v1 request the engine runs."""
        url, token = self.notification_url, self.notification_auth_token
        if self.webhook is not None:
            url, token = self.webhook.notification_url, self.webhook.notification_auth_token
        duration = self.duration or default_duration
        if duration is None:
            raise EngineError(400, "INVALID_ARGUMENT", "duration: a session duration in seconds is required.")
        return CreateSession(
            device=self.device,
            application_server=self.application_server,
            device_ports=self.device_ports,
            application_server_ports=self.application_server_ports,
            qos_profile=self.qos_profile,
            duration=duration,
            sink=url,
            sink_credential=AccessTokenCredential(access_token=token) if token else None,
        )


def legacy_router(sandbox: Sandbox, release: Release) -> APIRouter:
    """The router of a Network as Code release (a row of `qodlab.apis.RELEASES` with `nac`): the root
    release (`default_duration`: its create body may leave the duration out) or /qod/v0."""
    router = APIRouter(dependencies=[without_nulls])
    engine = sandbox.engine
    default_duration = release.default_duration

    def info(session: SandboxSession, request: Request) -> dict[str, Any]:
        return _shown(release, session, request)

    _find_routes(router, engine, release, info)
    _session_routes(router, engine, info)
    if default_duration is None:  # /qod/v0 is also CAMARA 0.10, whose profiles live beside its sessions

        @router.get("/qos-profiles", summary="QoS profiles (CAMARA QoD 0.10)")
        async def profiles(name: str | None = None, status: ProfileStatus | None = None) -> JSONResponse:
            return JSONResponse([to_wire(p) for p in engine.find_profiles(name, status)])

        @router.get("/qos-profiles/{name}", summary="A QoS profile (CAMARA QoD 0.10)")
        async def profile(name: str) -> JSONResponse:
            return JSONResponse(to_wire(engine.profile(name)))

    return router


def _find_routes(router: APIRouter, engine: Engine, release: Release, info: Shown) -> None:
    """Create a session, and find a device's sessions (a query on 1.x to 4.x, a body from 5.x)."""
    default_duration = release.default_duration

    @router.post("/sessions", status_code=201, summary="Create a session (Network as Code)")
    async def create(body: LegacyCreate, request: Request) -> JSONResponse:
        session = engine.create(
            body.to_camara(default_duration),
            flavor=NAC_SHAPE,
            content_type=release.notification_content_type,
            correlator=request.headers.get("x-correlator"),
            access=access(request),
        )
        return JSONResponse(info(session, request), 201)

    @router.get("/sessions", summary="A device's sessions (Network as Code 1.x to 4.x)")
    async def list_sessions(
        request: Request,
        network_access_identifier: str | None = Query(default=None, alias="networkAccessIdentifier"),
        phone_number: str | None = Query(default=None, alias="phoneNumber"),
    ) -> JSONResponse:
        if not network_access_identifier and not phone_number:
            raise EngineError(400, "INVALID_ARGUMENT", "Give networkAccessIdentifier or phoneNumber.")
        device = Device(network_access_identifier=network_access_identifier, phone_number=phone_number)
        return JSONResponse([info(s, request) for s in engine.retrieve(device, access(request))])

    @router.post("/retrieve-sessions", summary="A device's sessions (Network as Code 5.x and later)")
    async def retrieve(body: RetrieveSessions, request: Request) -> JSONResponse:
        return JSONResponse([info(s, request) for s in engine.retrieve(body.device, access(request))])


def _session_routes(router: APIRouter, engine: Engine, info: Shown) -> None:
    """One session by its id: read, delete, extend."""

    @router.get("/sessions/{sessionId}", summary="Get a session (Network as Code)")
    async def get(session_id: SessionId, request: Request) -> JSONResponse:
        return JSONResponse(info(engine.get(session_id, access(request)), request))

    @router.delete("/sessions/{sessionId}", status_code=204, summary="Delete a session (Network as Code)")
    async def delete(session_id: SessionId, request: Request) -> Response:
        engine.delete(session_id, access(request))
        return Response(status_code=204)

    @router.post("/sessions/{sessionId}/extend", summary="Extend a session (Network as Code)")
    async def extend(session_id: SessionId, body: ExtendSession, request: Request) -> JSONResponse:
        return JSONResponse(
            info(engine.extend(session_id, body.requested_additional_duration, access(request)), request)
        )


def _shown(release: Release, session: SandboxSession, request: Request) -> dict[str, Any]:
    """A session as the release shows it: a webhook beside the sink, and epoch seconds for the generated client."""
    body = shaped(release, session.info(), "")  # no address list, no sinkCredential: as 1.1 shows it
    if body.get("sink"):
        body["webhook"] = {"notificationUrl": body["sink"]}
    if release.default_duration is None and GENERATED_CLIENT in request.headers:  # /qod/v0, SDK 10.x
        start = session.started_at if session.started_at is not None else session.created_at
        end = session.expires_at if session.expires_at is not None else start + session.duration
        body["startedAt"], body["expiresAt"] = int(start), int(end)
    return body
