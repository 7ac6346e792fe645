"""The sandbox's session engine: the QoD lifecycle as a state machine on the sandbox clock.

The engine does no I/O. Every public method first applies whatever has fallen due on the clock,
so a read always sees the state the lifecycle rules give at that instant, whether or not the
scheduler has woken yet. Status changes are handed to subscribers (the notifier, the demo).
"""

from __future__ import annotations

import heapq
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._net.http import is_loopback
from .._net.outbound import OutboundPolicy
from ..models import (
    CreateAssignment,
    CreateSession,
    Device,
    Kind,
    PrivateKeyJwtCredential,
    ProfileStatus,
    QosProfile,
    QosStatus,
    StatusInfo,
    to_wire,
)
from ..notifications import Shape
from .clock import Clock, rfc3339
from .faults import Faults
from .refusals import EngineError

if TYPE_CHECKING:
    from .devices import TestDevice, TestDevices

__all__ = ["Access", "Engine", "EngineError", "JwtTarget", "SandboxSession", "StatusChange", "device_of"]

RETENTION = 360.0  # sandbox seconds an ended session stays readable (CAMARA: at least 360 s)
DEFAULT_CLIENT = ""  # the API client a PRIVATE_KEY_JWT configuration is shared for when the sandbox checks no tokens


@dataclass(frozen=True, slots=True)
class JwtTarget:
    """Where a PRIVATE_KEY_JWT session's notifications get their token: the consumer's client id and token endpoint."""

    client_id: str
    token_uri: str


@dataclass(frozen=True, slots=True)
class Access:
    """Who asks, when the sandbox checks access tokens: a client, and the device a three-legged token names."""

    client_id: str
    device: tuple[str, str] | None = None  # a device key, as `Device.identifiers()` gives them


def device_of(key: tuple[str, str]) -> Device:
    """The Device a device key stands for."""
    kind, value = key
    if kind == "ipv4Address":
        public, private, port = value.split("|")
        fields = {
            "publicAddress": public,
            "privateAddress": None if private == "None" else private,
            "publicPort": None if port == "None" else int(port),
        }
        return Device.model_validate({"ipv4Address": {k: v for k, v in fields.items() if v is not None}})
    return Device.model_validate({kind: value})


class _Timer(Enum):
    """What a scheduled entry does when it falls due."""

    PROVISION = 1  # REQUESTED -> AVAILABLE (or NETWORK_TERMINATED when provisioning fails)
    EXPIRE = 2  # AVAILABLE -> UNAVAILABLE / DURATION_EXPIRED
    REMOVE = 3  # an ended session's retention is over: forget it
    REVOKE = 4  # an assignment's revocation is done: UNAVAILABLE / DELETE_REQUESTED


@dataclass(eq=False, slots=True)
class SandboxSession:
    """One session as the sandbox holds it.

    Kept compact (slots, the echoed request as a JSON string, the device as a tuple of string
    keys) so that 10,000 live sessions give the garbage collector little to traverse: a full
    collection over pydantic request models took over 100 ms, and every timer waited for it.
    """

    id: uuid.UUID
    echo: str  # the request fields a SessionInfo echoes, as JSON
    profile: str
    device_keys: tuple[tuple[str, str], ...]
    sink: str | None
    duration: int
    created_at: float
    status: QosStatus = QosStatus.REQUESTED
    status_info: StatusInfo | None = None
    started_at: float | None = None
    expires_at: float | None = None
    flavor: Shape = "cloudevent-v1"  # which notification shape its sink gets (see notifications)
    content_type: str | None = None  # the Content-Type its notifications go with (None: the shape's usual one)
    correlator: str | None = None
    version: int = 0  # bumped when its timers change, so stale heap entries are skipped
    token: str | None = field(default=None, repr=False)
    owner: str | None = None  # the client that created it, when the sandbox checks tokens
    jwt: JwtTarget | None = None  # PRIVATE_KEY_JWT: where the notifier gets its token
    kind: Kind = "session"  # or "assignment" (QoS Provisioning: a profile until revoked, no duration)

    @classmethod
    def new(
        cls, request: CreateSession | CreateAssignment, now: float, *, echo_device: bool = True, **extra: Any
    ) -> SandboxSession:
        """A REQUESTED session for a validated request; an assignment (`kind="assignment"`) for a CreateAssignment.

        `echo_device`: False when an access token named the device, which responses then leave
        out (CAMARA: `device` is returned only when the request carried it).
        """
        if isinstance(request, CreateSession):
            echo = to_wire(request)
            echo.pop("sinkCredential", None)
            echo.pop("duration", None)
            echo.pop("device", None)
            duration = request.duration
        else:  # an assignment echoes its profile and sink alone
            echo = {k: v for k, v in to_wire(request).items() if k in ("qosProfile", "sink")}
            duration = 0
        device = request.device
        if device is not None and echo_device:
            echo["device"] = to_wire(device.single())
        return cls(
            id=uuid.uuid4(),
            echo=json.dumps(echo),
            profile=request.qos_profile,
            device_keys=tuple(device.identifiers()) if device is not None else (),
            sink=request.sink,
            duration=duration,
            created_at=now,
            **extra,
        )

    @property
    def blocks_device(self) -> bool:
        """Whether a new session for the same device is refused with 409."""
        if self.status is QosStatus.UNAVAILABLE:
            return self.status_info is StatusInfo.NETWORK_TERMINATED
        return True

    def info(self) -> dict[str, Any]:
        """The SessionInfo wire body (an assignment's: AssignmentInfo)."""
        body: dict[str, Any] = json.loads(self.echo)
        if self.kind == "assignment":
            body.update(assignmentId=str(self.id), status=self.status.value)
            # statusInfo only once UNAVAILABLE (CAMARA's test definitions); the 202 of a revocation adds it
            if self.status_info is not None and self.status is QosStatus.UNAVAILABLE:
                body["statusInfo"] = self.status_info.value
            if self.started_at is not None:
                body["startedAt"] = rfc3339(self.started_at)
            return body
        body.update(sessionId=str(self.id), duration=self.duration, qosStatus=self.status.value)
        if self.jwt is not None:  # the read-only part; a version's routes add the jwksUri (1.1 shows none)
            body["sinkCredential"] = {"credentialType": "PRIVATE_KEY_JWT"}
        if self.status_info is not None:
            body["statusInfo"] = self.status_info.value
        if self.started_at is not None:
            body["startedAt"] = rfc3339(self.started_at)
        if self.expires_at is not None:
            body["expiresAt"] = rfc3339(self.expires_at)
        return body


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A session's status changed; its notification is due now."""

    session_id: uuid.UUID
    qos_status: QosStatus
    status_info: StatusInfo | None
    time: float  # sandbox time of the change
    sink: str | None
    flavor: Shape
    correlator: str | None
    token: str | None = field(default=None, repr=False)
    jwt: JwtTarget | None = None  # PRIVATE_KEY_JWT: the token comes from the consumer's token endpoint
    content_type: str | None = None  # the session's release's notification Content-Type (None: the shape's)
    device: tuple[str, str] | None = None  # the device's preferred identifier, as a key
    profile: str = ""
    owner: str | None = None  # the client that created the session, when the sandbox tells clients apart
    created_at: float | None = None  # sandbox time the session was created (REQUESTED)


Subscriber = Callable[[StatusChange], None]


class Engine:
    """Sessions, profiles and timers; thread-safe."""

    def __init__(
        self,
        clock: Clock,
        profiles: dict[str, QosProfile],
        faults: Faults,
        *,
        provisioning_delay: float = 1.0,
        retention: float = RETENTION,
        strict: bool = False,
        devices: TestDevices | None = None,
        revocation_delay: float = 1.0,
        notifications: bool = True,
    ) -> None:
        self.notifications = notifications
        """False: this provider delivers no notifications, and a create naming a `sink` is 422
        EVENT_NOTIFICATIONS_NOT_SUPPORTED (Commonalities r4.4); one without a sink is as usual."""
        self.revocation_delay = revocation_delay
        """Sandbox seconds a revoked assignment stays AVAILABLE / DELETE_REQUESTED (the 202) before it ends."""
        self.clock = clock
        self.devices = devices
        """The network's test devices and unsupported identifier types (None: every device is ordinary)."""
        self.profiles = profiles
        self.faults = faults
        self.provisioning_delay = provisioning_delay
        self.retention = retention
        self.strict = strict
        self.sinks = OutboundPolicy()
        """Where notifications and token requests may go (`_net.outbound`); an address in a sink is checked here."""
        self._lock = threading.RLock()
        self._sessions: dict[uuid.UUID, SandboxSession] = {}
        self._by_key: dict[tuple[str, str], set[uuid.UUID]] = {}
        self._timers: list[tuple[float, int, uuid.UUID, int, _Timer]] = []
        self._seq = 0
        self._removes_at: dict[uuid.UUID, float] = {}
        self._subscribers: list[Subscriber] = []
        self._on_schedule: Callable[[], None] = lambda: None
        self._shared_jwt: dict[str, JwtTarget] = {}  # pre-shared PRIVATE_KEY_JWT configurations, per API client
        # which API client owns a PRIVATE_KEY_JWT client id or token endpoint: onboarded (shared), or its first user
        self._jwt_owners: dict[tuple[str, str], str] = {}

    # -- wiring --------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber, remove: bool = False) -> None:
        """Call `callback(change)` on every status change (from the thread that caused it)."""
        with self._lock:
            if remove:
                self._subscribers.remove(callback)
            else:
                self._subscribers.append(callback)

    def on_schedule(self, callback: Callable[[], None]) -> None:
        """Call `callback()` whenever a timer is added, so a scheduler can re-arm."""
        self._on_schedule = callback

    def next_due(self) -> float | None:
        """Sandbox time of the earliest pending timer."""
        with self._lock:
            return self._timers[0][0] if self._timers else None

    # -- sessions ------------------------------------------------------------------------

    def create(
        self,
        request: CreateSession,
        *,
        flavor: Shape = "cloudevent-v1",
        correlator: str | None = None,
        access: Access | None = None,
        content_type: str | None = None,
    ) -> SandboxSession:
        """Create a session per the lifecycle rules, or raise EngineError.

        `flavor` and `content_type` are how its notifications are sent: the shape and the Content-Type
        of the release it was created through (`qodlab.apis`; None: the shape's usual one).

        With `access`, the session belongs to its client, and a three-legged token names the
        device: the request must then leave `device` out (CAMARA: 422 UNNECESSARY_IDENTIFIER).
        """
        return self._open(request, "session", flavor, correlator, access, content_type)

    def share_private_key_jwt(self, client_id: str, token_uri: str, api_client: str | None = None) -> None:
        """Onboarding: PRIVATE_KEY_JWT sessions of `api_client` (the token's client; None: any caller without
        one) get their notification tokens at `token_uri` as `client_id`, when the request names neither."""
        check_sink(token_uri, strict=self.strict, policy=self.sinks)
        owner = api_client or DEFAULT_CLIENT
        with self._lock:
            self._bind_jwt(JwtTarget(client_id, token_uri), owner)
            self._shared_jwt[owner] = JwtTarget(client_id, token_uri)

    def identify(self, device: Device) -> TestDevice | None:
        """The test device a request names (None: an ordinary one), or EngineError as a real network answers."""
        return self.devices.identify(device) if self.devices is not None else None

    def get(self, session_id: uuid.UUID, access: Access | None = None, kind: Kind = "session") -> SandboxSession:
        """The session (or assignment), or EngineError 404 (403 when `access` may not see it)."""
        with self._lock:
            self.advance()
            return self._get(session_id, access, kind)

    # -- assignments (QoS Provisioning) ------------------------------------------------------

    def assign(
        self, request: CreateAssignment, *, correlator: str | None = None, access: Access | None = None
    ) -> SandboxSession:
        """Assign a profile to a device until revoked; at most one assignment per device (409).

        A device may hold a session and an assignment at once: they are two APIs, and the link
        follows whichever lifts it more.
        """
        return self._open(request, "assignment", "qos-provisioning", correlator, access)

    def revoke(self, assignment_id: uuid.UUID, access: Access | None = None) -> tuple[SandboxSession, bool]:
        """Revoke an assignment: (it, True) while the revocation is under way (202), (it, False) once done (204).

        An AVAILABLE one stays AVAILABLE / DELETE_REQUESTED for `revocation_delay` sandbox seconds, then
        ends UNAVAILABLE / DELETE_REQUESTED (notified) and stays readable for the retention time; a
        REQUESTED one ends at once; an UNAVAILABLE one is forgotten.
        """
        with self._lock:
            self.advance()
            assignment = self._get(assignment_id, access, "assignment")
            if assignment.status is QosStatus.UNAVAILABLE:
                self._forget(assignment)
                return assignment, False
            if assignment.status is QosStatus.AVAILABLE and self.revocation_delay > 0:
                if assignment.status_info is not StatusInfo.DELETE_REQUESTED:
                    assignment.status_info = StatusInfo.DELETE_REQUESTED
                    self._schedule(self.clock.now() + self.revocation_delay, assignment, _Timer.REVOKE)
                return assignment, True
            self._end(assignment, StatusInfo.DELETE_REQUESTED, self.clock.now())
            return assignment, False

    def assignment_for(self, device: Device | None, access: Access | None = None) -> SandboxSession:
        """A device's assignment, or EngineError 404 when it has none (403 when another API client made it:
        getQosAssignmentByDevice 403.2)."""
        found = self._of_device(device, access, "assignment", any_client=True)
        if not found:
            raise EngineError(404, "NOT_FOUND", "The device has no QoS profile assignment.")
        mine = [a for a in found if access is None or a.owner in (None, access.client_id)]
        if not mine:
            msg = "The device's QoS profile assignment was made by another API client."
            raise EngineError(403, "PERMISSION_DENIED", msg)
        return max(
            mine, key=lambda a: (a.status is not QosStatus.UNAVAILABLE, a.created_at)
        )  # the live one, or the last

    def delete(self, session_id: uuid.UUID, access: Access | None = None) -> None:
        """Delete a session; a live one notifies UNAVAILABLE / DELETE_REQUESTED first."""
        with self._lock:
            self.advance()
            session = self._get(session_id, access)
            if session.status is not QosStatus.UNAVAILABLE:
                self._end(session, StatusInfo.DELETE_REQUESTED, self.clock.now())
            self._forget(session)

    def extend(self, session_id: uuid.UUID, seconds: int, access: Access | None = None) -> SandboxSession:
        """Add `seconds` to an AVAILABLE session, capped at the profile's maxDuration."""
        with self._lock:
            self.advance()
            session = self._get(session_id, access)
            if session.status is not QosStatus.AVAILABLE or session.started_at is None:
                msg = (
                    "Extending the session duration is not allowed in the current state "
                    f"({session.status.value}). The session must be in the AVAILABLE state."
                )
                raise EngineError(409, "QUALITY_ON_DEMAND.SESSION_EXTENSION_NOT_ALLOWED", msg)
            cap = self._max_seconds(self.profiles.get(session.profile))
            session.duration = int(min(session.duration + seconds, cap))
            session.expires_at = session.started_at + session.duration
            self._schedule(session.expires_at, session, _Timer.EXPIRE)
            return session

    def retrieve(self, device: Device | None, access: Access | None = None) -> list[SandboxSession]:
        """Every readable session of a device (any identifier in common), oldest first.

        With `access`: only its client's sessions, of the device its three-legged token names.
        """
        return self._of_device(device, access, "session")

    def _of_device(
        self, device: Device | None, access: Access | None, kind: Kind, *, any_client: bool = False
    ) -> list[SandboxSession]:
        """A device's readable sessions or assignments (`kind`), oldest first, as `access` may see them
        (`any_client`: every client's, for the device `access` names or may name)."""
        if access is not None and access.device is not None:
            device = _token_device(device, access.device)
        if device is None:
            raise EngineError(422, "MISSING_IDENTIFIER", "The device cannot be identified.")
        self.identify(device)
        with self._lock:
            self.advance()
            ids: set[uuid.UUID] = set()
            for key in device.identifiers():
                ids |= self._by_key.get(key, set())
            found = (self._sessions[i] for i in ids if self._sessions[i].kind == kind)
            if access is not None and not any_client:
                found = (s for s in found if s.owner in (None, access.client_id))
            return sorted(found, key=lambda s: s.created_at)

    def terminate(self, session_id: uuid.UUID) -> SandboxSession:
        """The network ends a REQUESTED or AVAILABLE session (or assignment): UNAVAILABLE / NETWORK_TERMINATED."""
        with self._lock:
            self.advance()
            found = self._sessions.get(session_id)
            session = self._get(session_id, kind=found.kind if found is not None else "session")
            if session.status is QosStatus.UNAVAILABLE:
                msg = f"Session {session_id} is already UNAVAILABLE."
                raise EngineError(409, "CONFLICT", msg)
            self._end(session, StatusInfo.NETWORK_TERMINATED, self.clock.now())
            return session

    def sessions(self) -> list[SandboxSession]:
        """Every readable session."""
        with self._lock:
            self.advance()
            return list(self._sessions.values())

    # -- profiles ------------------------------------------------------------------------

    def profile(self, name: str) -> QosProfile:
        """A profile by name, or EngineError 404."""
        found = self.profiles.get(name)
        if found is None:
            raise EngineError(404, "NOT_FOUND", f"QoS profile {name!r} does not exist{self._profile_hint(name)}.")
        return found

    def _profile_hint(self, name: str) -> str:
        """`: this API's profiles are QOS_E, ...; did you mean QOS_L?` for a name it does not have."""
        import difflib

        names = list(self.profiles)
        by_case = {known.upper(): known for known in names}
        close = [by_case[name.upper()]] if name.upper() in by_case else difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f" (this API's profiles: {', '.join(names)}){hint}"

    def find_profiles(
        self,
        name: str | None = None,
        status: ProfileStatus | None = None,
        device: Device | None = None,
        access: Access | None = None,
    ) -> list[QosProfile]:
        """Profiles filtered by name and status, and to those a device is offered.

        A profile restricted to certain devices is listed only for such a device: never without a
        device (CAMARA's retrieveQoSProfiles 05), nor for another one.
        A three-legged token names the device: the request must then leave `device` out (422
        UNNECESSARY_IDENTIFIER), and the answer is for the token's device.
        """
        if access is not None and access.device is not None:
            device = _token_device(device, access.device)
        tested = self.identify(device) if device is not None else None
        return [
            p
            for p in self.profiles.values()
            if (name is None or p.name == name)
            and (status is None or p.status is status)
            and self._allows(tested, p.name)
        ]

    # -- time ----------------------------------------------------------------------------

    def advance(self) -> int:
        """Apply every timer that is due on the clock; returns how many ran."""
        ran = 0
        with self._lock:
            now = self.clock.now()
            while self._timers and self._timers[0][0] <= now:
                due, _, session_id, version, kind = heapq.heappop(self._timers)
                session = self._sessions.get(session_id)
                if session is None or session.version != version:
                    continue
                ran += 1
                if kind is _Timer.PROVISION:
                    self._provision(session, due)
                elif kind is _Timer.EXPIRE:
                    self._end(session, StatusInfo.DURATION_EXPIRED, due)
                elif kind is _Timer.REVOKE:
                    self._end(session, StatusInfo.DELETE_REQUESTED, due)
                else:
                    self._forget(session)
        return ran

    # -- internals -----------------------------------------------------------------------

    def _open(
        self,
        request: CreateSession | CreateAssignment,
        kind: Kind,
        flavor: Shape,
        correlator: str | None,
        access: Access | None,
        content_type: str | None = None,
    ) -> SandboxSession:
        """What a create and an assignment share: the device (the token's, or the request's), the
        notification target, the profile, the test device's answer, one per device, then REQUESTED
        until provisioned (or ended at once by an injected creation fault)."""
        named = access is not None and access.device is not None
        if access is not None and access.device is not None:
            request = request.model_copy(update={"device": _token_device(request.device, access.device)})
        owner = access.client_id if access is not None else None
        token, jwt = self._check_notification_target(request, owner)
        with self._lock:
            self.advance()
            profile = self._usable_profile(request)
            if request.device is None:
                raise EngineError(422, "MISSING_IDENTIFIER", "The device cannot be identified.")
            tested = self.identify(request.device)
            self._check_applicable(tested, profile)
            if isinstance(request, CreateSession):  # an assignment has no duration
                self._check_duration(profile, request.duration)
            self._check_conflict(request.device, owner, kind)
            now = self.clock.now()
            opened = SandboxSession.new(
                request,
                now,
                echo_device=not named,
                flavor=flavor,
                correlator=correlator,
                token=token,
                owner=owner,
                jwt=jwt,
                kind=kind,
                content_type=content_type,
            )
            self._sessions[opened.id] = opened
            for key in opened.device_keys:
                self._by_key.setdefault(key, set()).add(opened.id)
            self._provision_new(opened, tested, owner, now)
            return opened

    def _provision_new(self, opened: SandboxSession, tested: TestDevice | None, owner: str | None, now: float) -> None:
        """Provision a new session after its test device's delay (at once without one), or end it at once
        when an injected creation fault says so."""
        delay = self._provisioning_delay(tested)
        if self.faults.fails_at_creation(opened.profile, owner):  # 201 UNAVAILABLE / NETWORK_TERMINATED
            self._end(opened, StatusInfo.NETWORK_TERMINATED, now)
        elif delay <= 0:
            self._provision(opened, now)
        else:
            self._schedule(now + delay, opened, _Timer.PROVISION)

    def _get(self, session_id: uuid.UUID, access: Access | None = None, kind: Kind = "session") -> SandboxSession:
        session = self._sessions.get(session_id)
        if session is None or session.kind != kind:
            what = "Session" if kind == "session" else "QoS profile assignment"
            raise EngineError(404, "NOT_FOUND", f"{what} {session_id} does not exist.")
        if access is not None and session.owner not in (None, access.client_id):
            raise EngineError(403, "PERMISSION_DENIED", "This session was created by another API client.")
        if access is not None and access.device is not None and access.device not in session.device_keys:
            raise EngineError(403, "PERMISSION_DENIED", "This session is not for the device the access token names.")
        return session

    def _schedule(self, due: float, session: SandboxSession, kind: _Timer) -> None:
        session.version += 1
        self._seq += 1
        heapq.heappush(self._timers, (due, self._seq, session.id, session.version, kind))
        self._on_schedule()

    def _provisioning_delay(self, tested: TestDevice | None) -> float:
        return tested.provisioning_delay(self.provisioning_delay) if tested is not None else self.provisioning_delay

    def _provision(self, session: SandboxSession, at: float) -> None:
        if self._test_failure(session) or self.faults.provisioning_fails(
            session.device_keys, session.profile, session.owner
        ):
            self._end(session, StatusInfo.NETWORK_TERMINATED, at)
            return
        session.status = QosStatus.AVAILABLE
        session.started_at = at
        if session.kind == "session":  # an assignment lasts until revoked
            session.expires_at = at + session.duration
            self._schedule(session.expires_at, session, _Timer.EXPIRE)
        self._publish(session, at)

    def _test_failure(self, session: SandboxSession) -> bool:
        tested = self.devices.find(session.device_keys) if self.devices is not None else None
        return tested is not None and tested.fails_provisioning

    def _end(self, session: SandboxSession, reason: StatusInfo, at: float) -> None:
        session.status = QosStatus.UNAVAILABLE
        session.status_info = reason
        if session.kind == "session" and session.started_at is not None and reason is not StatusInfo.DURATION_EXPIRED:
            session.duration = max(1, round(at - session.started_at))
        session.expires_at = at
        self._schedule(at + self.retention, session, _Timer.REMOVE)
        self._publish(session, at)

    def _forget(self, session: SandboxSession) -> None:
        self._sessions.pop(session.id, None)
        for key in session.device_keys:
            ids = self._by_key.get(key)
            if ids is not None:
                ids.discard(session.id)
                if not ids:
                    del self._by_key[key]

    def _publish(self, session: SandboxSession, at: float) -> None:
        change = StatusChange(
            session_id=session.id,
            qos_status=session.status,
            status_info=session.status_info,
            time=at,
            sink=session.sink,
            flavor=session.flavor,
            content_type=session.content_type,
            correlator=session.correlator,
            token=session.token,
            jwt=session.jwt,
            device=session.device_keys[0] if session.device_keys else None,
            profile=session.profile,
            owner=session.owner,
            created_at=session.created_at,
        )
        for subscriber in list(self._subscribers):
            subscriber(change)

    def _allows(self, tested: TestDevice | None, profile: str) -> bool:
        """Whether `profile` is offered to a device (`tested`: its test device; None: an ordinary one, or none)."""
        return self.devices is None or self.devices.allows(tested, profile)

    def _check_applicable(self, tested: TestDevice | None, profile: QosProfile) -> None:
        if not self._allows(tested, profile.name):
            msg = f"The requested QoS Profile {profile.name} is not applicable for the device."
            raise EngineError(422, "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE", msg)

    def _usable_profile(self, request: CreateSession | CreateAssignment) -> QosProfile:
        profile = self.profiles.get(request.qos_profile)
        if profile is None:
            hint = self._profile_hint(request.qos_profile)
            msg = f"qosProfile: {request.qos_profile!r} is not a profile of this API{hint}"
            raise EngineError(400, "INVALID_ARGUMENT", msg)
        if profile.status is not ProfileStatus.ACTIVE:
            what = "a QoS assignment" if isinstance(request, CreateAssignment) else "session creation"
            msg = (
                f"The requested QoS Profile {profile.name} is currently not available for "
                f"{what} (status {profile.status.value})."
            )
            raise EngineError(422, "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE", msg)
        return profile

    @staticmethod
    def _max_seconds(profile: QosProfile | None) -> float:
        if profile is None or profile.max_duration is None:
            return float("inf")
        return profile.max_duration.seconds

    def _check_duration(self, profile: QosProfile, duration: int) -> None:
        low = profile.min_duration.seconds if profile.min_duration else 1
        high = self._max_seconds(profile)
        if not low <= duration <= high:
            msg = f"duration: {duration} s is outside {profile.name}'s range [{low:g}, {high:g}] s."
            raise EngineError(400, "QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE", msg)

    def _check_conflict(self, device: Device, owner: str | None, kind: Kind = "session") -> None:
        """409 when the device already has a session; the session is named only to the client that owns it."""
        for key in device.identifiers():
            for other in self._by_key.get(key, ()):
                session = self._sessions[other]
                if session.kind == kind and session.blocks_device:
                    if session.owner in (None, owner):
                        msg = (
                            f"Device already has session {other} "
                            f"({session.status.value}); delete it before creating another."
                        )
                    else:  # another client's: its id is theirs alone (issue #32)
                        msg = "Device already has an active session of another client."
                    raise EngineError(409, "CONFLICT", msg)

    def _check_notification_target(
        self, request: CreateSession | CreateAssignment, owner: str | None
    ) -> tuple[str | None, JwtTarget | None]:
        """The static token, or where a PRIVATE_KEY_JWT token is to be fetched; EngineError when refused."""
        if request.sink is not None:
            check_sink(request.sink, strict=self.strict, policy=self.sinks)
            if not self.notifications:  # refused before anything is created: the consumer may retry without it
                msg = "This API provider cannot deliver event notifications: create it without sink and sinkCredential."
                raise EngineError(422, "EVENT_NOTIFICATIONS_NOT_SUPPORTED", msg)
        credential = request.sink_credential
        if credential is None:
            return None, None
        if isinstance(credential, PrivateKeyJwtCredential):
            return None, self._jwt_target(credential, owner)
        if credential.credential_type != "ACCESSTOKEN":
            msg = f"sinkCredential.credentialType: only ACCESSTOKEN is allowed, got {credential.credential_type}."
            raise EngineError(400, "INVALID_CREDENTIAL", msg)
        if (credential.access_token_type or "").lower() != "bearer":
            msg = f"sinkCredential.accessTokenType: only bearer is allowed, got {credential.access_token_type}."
            raise EngineError(400, "INVALID_TOKEN", msg)
        if credential.access_token is None:
            raise EngineError(400, "INVALID_ARGUMENT", "sinkCredential.accessToken is required.")
        return credential.access_token.get_secret_value(), None

    def _bind_jwt(self, target: JwtTarget, owner: str) -> None:
        """Bind a PRIVATE_KEY_JWT client id and token endpoint to the API client that onboarded (or first named)
        them; another client naming either is refused as a bad credential (the sandbox signs every assertion with
        one key, so a client id is all that tells a consumer's token endpoint who is asking). Call with the lock."""
        keys = _jwt_keys(target)
        if any(self._jwt_owners.get(key, owner) != owner for key in keys):
            msg = "sinkCredential: this clientId or tokenUri is registered to another API consumer."
            raise EngineError(400, "INVALID_CREDENTIAL", msg)
        for key in keys:
            self._jwt_owners[key] = owner

    def _jwt_target(self, credential: PrivateKeyJwtCredential, owner: str | None) -> JwtTarget:
        if credential.client_id and credential.token_uri:
            try:
                check_sink(credential.token_uri, strict=self.strict, policy=self.sinks)
            except EngineError as exc:
                raise EngineError(
                    400, "INVALID_ARGUMENT", exc.message.replace("sink", "sinkCredential.tokenUri")
                ) from None
            target = JwtTarget(credential.client_id, credential.token_uri)
            with self._lock:
                self._bind_jwt(target, owner or DEFAULT_CLIENT)
            return target
        shared = self._shared_jwt.get(owner or DEFAULT_CLIENT)
        if shared is None:
            msg = (
                "PRIVATE_KEY_JWT was asked for, but no client id and token endpoint were shared for this client "
                "(give sinkCredential.clientId and tokenUri, or share them first)."
            )
            raise EngineError(422, "PRIVATE_KEY_JWT_NOT_CONFIGURED", msg)
        return shared


def _jwt_keys(target: JwtTarget) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("client", target.client_id), ("uri", target.token_uri.rstrip("/").lower())


def check_sink(sink: str, *, strict: bool, policy: OutboundPolicy | None = None) -> None:
    """Refuse a sink the sandbox will not deliver to (400 INVALID_SINK).

    Strict mode wants https as CAMARA v1.1 does; dev mode also allows http on loopback, the only
    place a notebook's listener can be reached without a public URL. An address the outbound policy
    refuses (a classroom's loopback, a private or link-local address) is refused here when the URL
    names it; a host name is checked when it is resolved, at delivery.
    """
    refused = policy.refusal(sink) if policy is not None else None
    if refused is not None:
        raise EngineError(400, "INVALID_SINK", f"sink {sink!r} refused: {refused}.")
    parts = urlsplit(sink)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and not strict and is_loopback(parts.hostname):
        return
    if strict:
        msg = (
            f"sink must be an https URL, got {sink!r}: this API is strict, as CAMARA v1.1 and real networks are "
            "(a listener on this machine takes notifications through a relay, or poll the session instead)."
        )
    else:
        msg = (
            f"sink must be an https URL, or an http URL on loopback (127.0.0.1, ::1, localhost) such as a "
            f"qodlab Listener's, got {sink!r}."
        )
    raise EngineError(400, "INVALID_SINK", msg)


def _token_device(given: Device | None, named: tuple[str, str]) -> Device:
    """The device a three-legged token names; the request must not name one too."""
    if given is not None:
        msg = "The device is identified by the access token: leave `device` out of the request."
        raise EngineError(422, "UNNECESSARY_IDENTIFIER", msg)
    return device_of(named)
