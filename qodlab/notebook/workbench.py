"""`Workbench`: the state behind the widgets, and every call they make.

Widgets are views: they read a Workbench and call its methods; the HTTP (through the client)
and the pandas (through the event log) happen here. Its state changes on the thread that called
it; widgets are redrawn only by the pump, which calls `apply` with each batch of events.

How notifications reach the log (`notifications`) is `qodlab.receiving.plan.plan()`'s to decide, on
the workbench's facts (again when the provider refuses a sink); `how` is its sentence:

- direct: the network POSTs to the listener (on loopback, or at its `public_url`). `auto` picks
  it for a sandbox, an API on this machine, or a listener with a public URL.
- relay: the network POSTs to a relay channel the listener follows. `auto` picks it for a
  listener with `relay=`, and then also polls, as a safety net, for what the relay missed; but
  not when the relay refuses the content type this API's notifications come with (smee.io and
  CAMARA's `application/cloudevents+json`: the listener's probe found out): then `auto` polls,
  says why in `how` and a `RelayRefuses` warning, and "relay" is an InvalidRequest.
- poll: a `Watcher` GETs each session every few seconds; sessions get no sink. `auto`'s last resort,
  and where it goes when the provider refuses a sink (422 EVENT_NOTIFICATIONS_NOT_SUPPORTED,
  Commonalities r4.4): the create is sent again without one, and `how` says why it polls.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._net.http import is_loopback
from .._net.server import _warn
from ..client.assignments import as_session_info
from ..client.clients import QodClient
from ..errors import ApiError, NotificationsNotSupported, QodError, RelayRefuses, ServerStopped
from ..eventlog import EventLog
from ..models import CreateSession, Device, QosProfile, QosStatus, SessionInfo, StatusInfo
from ..notifications import StatusEvent
from ..receiving.plan import Notifications, Plan, plan
from ..receiving.watcher import Watcher
from ..relay.probe import RELAY_ADVICE, Refusal

if TYPE_CHECKING:
    from ..receiving.listener import Listener
    from ..sandbox import Sandbox

__all__ = ["SAFETY_NET_GRACE", "ActionResult", "Notifications", "Tracked", "Workbench"]

SAFETY_NET_GRACE = 3.0  # real seconds a notification may trail a change polling saw, before polling records it


@dataclass(frozen=True)
class Tracked:
    """A session the workbench follows: the last state the API or a notification gave."""

    info: SessionInfo
    updated: datetime


@dataclass(frozen=True)
class ActionResult:
    """What an action gave: a session, or an error to show (never a traceback)."""

    session: SessionInfo | None = None
    error: str | None = None
    found: tuple[SessionInfo, ...] = ()  # what a search by device returned
    code: str | None = None  # the API error's CAMARA code, so a form can show it beside its field
    note: str | None = None  # how it was done, when not as asked (e.g. sent again without a sink)

    @property
    def ok(self) -> bool:
        return self.error is None


class Workbench:
    """A client, the sessions it created or retrieved, and the log their notifications land in.

    Parameters:
        notifications: how status changes reach `log`: "direct", "relay", "poll", or "auto" (see
            the module's table).
        poll_interval: real seconds between two polls of a session, when polling.
    """

    def __init__(
        self,
        client: QodClient,
        log: EventLog,
        listener: Listener | None = None,
        sandbox: Sandbox | None = None,
        *,
        notifications: Notifications = "auto",
        poll_interval: float = 5.0,
    ) -> None:
        self.client = client
        self.log = log
        self.listener = listener
        self.sandbox = sandbox
        self._sandbox_now: datetime | None = None  # its clock when last read: where it stands once stopped
        self.profiles: list[QosProfile] = []
        self._sessions: dict[str, Tracked] = {}
        self._assignments: set[str] = set()  # the followed ids that are QoS Provisioning assignments
        self._forgotten: set[str] = set()  # ids forget() was told: never adopted again from a notification
        self._lock = threading.Lock()
        self._choice: Notifications = notifications
        self.auto = notifications == "auto"
        """Whether it chose `notifications` itself (and may change its mind: a provider that refuses sinks)."""
        self.refused: str | None = None
        """The error code with which the provider refused a sink, once it has (then it polls)."""
        self.watcher: Watcher | None = None
        """The poller: the only path in poll mode, a safety net under an automatic relay."""
        self._poll_interval = poll_interval
        relaying = listener is not None and listener.subscription is not None
        self._refusal = listener.relay_refusal(client.release.notification_content_type) if relaying else None  # type: ignore[union-attr]
        chosen = self._plan()  # the relay's refusal as now: a later probe's answer does not change the way
        self.notifications: Notifications = chosen.way
        """How notifications reach the log: direct, relay or poll (never auto)."""
        self.relay_refused: Refusal | None = self._refusal if chosen.reason == "relay refuses" else None
        """Why the listener's relay cannot carry this API's notifications (then `auto` polls), or None."""
        if chosen.way == "poll" or chosen.safety_net:
            self._start_polling(None if chosen.way == "poll" else SAFETY_NET_GRACE)
        if self.relay_refused is not None:
            _warn(f"{self.how}. {RELAY_ADVICE}.", RelayRefuses)

    def _start_polling(self, grace: float | None) -> Watcher:
        if self.watcher is None:
            clock = self.sandbox.clock if self.sandbox is not None else None
            self.watcher = Watcher(self.client, self.log, self._poll_interval, clock=clock, only_missing=grace)
        self.watcher.only_missing = grace
        return self.watcher

    def _plan(self, sink_refused: str | None = None) -> Plan:
        """`plan()` on this workbench's facts (the relay's refusal as it was when the way was chosen)."""
        listener = self.listener
        watcher = self.watcher
        return plan(
            self._choice,
            local=self.sandbox is not None or is_loopback(urlsplit(self.client.base_url).hostname or ""),
            listener=listener.how if listener is not None else None,
            public=listener is not None and listener.public_url is not None,
            relay="followed" if listener is not None and listener.subscription is not None else None,
            relay_refusal=str(self._refusal) if self._refusal is not None else None,
            sink_refused=sink_refused or self.refused,
            interval=watcher.interval if watcher is not None else self._poll_interval,
            release=self.client.release.name,
        )

    @property
    def how(self) -> str:
        """How notifications reach the log, in words (the dashboard's header): `plan()`'s sentence."""
        return self._plan().sentence

    def __repr__(self) -> str:
        from .display import plural

        n = len(self._sessions)
        return (
            f"<Workbench {self.client.base_url} {plural(n, 'session')} followed, notifications: {self.notifications}>"
        )

    def _repr_html_(self) -> str:
        """A card: the API, how notifications arrive, the followed sessions (each with its status badge)."""
        import html

        from .display import badge, card, plural

        followed = self.sessions()
        rows = [
            ("API", html.escape(self.client.base_url)),
            ("notifications", html.escape(self.how)),
            ("log", html.escape(repr(self.log))),
            ("followed", plural(len(followed), "session")),
        ]
        for t in followed[:10]:
            rows.append(
                (
                    str(t.info.session_id)[:8] + "…",
                    badge(t.info.qos_status.value) + " " + html.escape(t.info.qos_profile or ""),
                )
            )
        return card("Workbench", rows, note=f"and {len(followed) - 10} more" if len(followed) > 10 else "")

    def close(self) -> None:
        """Stop polling, if it polls (the servers keep running: they may be shared)."""
        if self.watcher is not None:
            self.watcher.stop()

    # -- reading ---------------------------------------------------------------------------

    def sessions(self) -> list[Tracked]:
        """The followed sessions, newest first."""
        with self._lock:
            return sorted(self._sessions.values(), key=lambda t: t.updated, reverse=True)

    def kinds(self) -> dict[str, str]:
        """ "assignment" by id for the followed assignments (a timeline's groups: their rows say so)."""
        with self._lock:
            return dict.fromkeys(sorted(self._assignments), "assignment")

    def is_assignment(self, session_id: str) -> bool:
        """Whether a followed id is an assignment (Delete revokes it; nothing to extend)."""
        with self._lock:
            return session_id in self._assignments

    def infos(self) -> dict[str, SessionInfo]:
        """The followed sessions' last known state by id (a timeline's row labels)."""
        with self._lock:
            return {sid: tracked.info for sid, tracked in self._sessions.items()}

    def now(self) -> datetime:
        """The API's clock: the sandbox's when there is one (standing where it stopped, once it is stopped)."""
        if self.sandbox is None:
            return datetime.now(UTC)
        try:
            self._sandbox_now = self.sandbox.now()
        except ServerStopped:  # stopped or replaced: the Sandbox panel says so, the views keep drawing
            if self._sandbox_now is None:
                return datetime.now(UTC)
        return self._sandbox_now

    def seconds_left(self, info: SessionInfo) -> float | None:
        """Seconds until an AVAILABLE session expires."""
        if info.qos_status is not QosStatus.AVAILABLE or info.expires_at is None:
            return None
        return max(0.0, (info.expires_at - self.now()).total_seconds())

    @property
    def sink(self) -> tuple[str, str] | None:
        """The listener's URL and token, to pre-fill a session's notification target (none when polling)."""
        if self.listener is None or self.notifications == "poll":
            return None
        return self.listener.url, self.listener.token

    @property
    def credential_types(self) -> tuple[str, ...]:
        """The sink credentials a session may use here: ACCESSTOKEN, and PRIVATE_KEY_JWT where the API has
        it (its release's `private_key_jwt`, 1.2) and the provider can reach the listener's token endpoint
        (not through a relay: it is one-way)."""
        listener = self.listener
        reachable = listener is not None and (listener.subscription is None or listener.public_url is not None)
        known = self.sandbox is not None or (listener is not None and listener.tokens is not None)
        return (
            ("ACCESSTOKEN", "PRIVATE_KEY_JWT")
            if self.client.release.private_key_jwt and reachable and known
            else ("ACCESSTOKEN",)
        )

    def private_key_jwt(self) -> dict[str, Any]:
        """The `sinkCredential` of a PRIVATE_KEY_JWT session whose notifications come to the listener."""
        assert self.listener is not None
        if self.listener.tokens is None and self.sandbox is not None:
            self.listener.accept_private_key_jwt(self.sandbox.jwks_uri)
        return self.listener.sink_credential("private_key_jwt")

    # -- acting ----------------------------------------------------------------------------

    def load_profiles(self) -> list[QosProfile]:
        """Fetch the profile catalogue (kept in `profiles`)."""
        self.profiles = self.client.list_profiles()
        return self.profiles

    def profiles_for(self, device: Device | dict[str, Any]) -> list[QosProfile]:
        """The profiles offered to a device (restricted ones included, where it may use them); [] if the API refuses."""
        try:
            return self.client.list_profiles(device=device)
        except QodError:
            return []

    def test_devices(self) -> list[dict[str, Any]]:
        """The sandbox's documented test devices (`GET /_sandbox/test-devices` entries); none elsewhere."""
        devices = self.sandbox.engine.devices if self.sandbox is not None else None
        return [d.as_dict() for d in devices.devices] if devices is not None else []

    def try_load_profiles(self) -> str | None:
        """Fetch the profile catalogue; what went wrong, in words, if it could not (a wrong key, no network)."""
        try:
            self.load_profiles()
        except QodError as exc:
            return _describe(exc)
        return None

    def create(self, request: CreateSession) -> ActionResult:
        """Create a session; a REQUESTED one is recorded in the log as a `client` event."""
        before = self.now()
        if self.refused is not None and request.sink is not None:  # refused before: do not ask again
            request = _without_sink(request)
        outcome = self._call(lambda: self.client.create_session(request))
        if outcome.code == NotificationsNotSupported.code_name and self._poll_instead(outcome.code):
            before = self.now()
            outcome = replace(self._call(lambda: self.client.create_session(_without_sink(request))), note=self.how)
        if outcome.session is not None and outcome.session.qos_status is QosStatus.REQUESTED:
            # The API does not say when it created the session: the middle of the call is the
            # best estimate (off by half the request's latency, times the sandbox's speed).
            self._record_requested(outcome.session, before + (self.now() - before) / 2)
        return outcome

    def extend(self, session_id: str, seconds: int) -> ActionResult:
        """Extend a session by `seconds`."""
        return self._call(lambda: self.client.extend_session(session_id, seconds))

    def assign(self, device: Device | None, profile: str) -> ActionResult:
        """Assign a profile to a device until revoked (QoS Provisioning), notified to the listener."""
        sink = self.sink
        fields = {"sink": sink[0], "sink_token": sink[1]} if sink else {}
        note = None
        try:
            try:
                assignment = self.client.assign_qos(device, profile, **fields)
            except NotificationsNotSupported as exc:
                if not (fields and self._poll_instead(exc.code)):
                    raise
                assignment, note = self.client.assign_qos(device, profile), self.how
        except (QodError, ValueError) as exc:
            code = exc.code if isinstance(exc, ApiError) else None
            return ActionResult(error=_describe(exc) if isinstance(exc, QodError) else str(exc), code=code)
        info = as_session_info(assignment)
        with self._lock:
            self._assignments.add(str(info.session_id))
            self._sessions[str(info.session_id)] = Tracked(info, datetime.now(UTC))
        if self.watcher is not None and info.qos_status is not QosStatus.UNAVAILABLE:
            self.watcher.watch_assignment(info.session_id)
        if info.qos_status is QosStatus.REQUESTED:
            self._record_requested(info, self.now())
        return ActionResult(session=info, note=note)

    def delete(self, session_id: str) -> ActionResult:
        """Delete a session (revoke an assignment); it stays listed as UNAVAILABLE / DELETE_REQUESTED."""
        with self._lock:
            tracked = self._sessions.get(session_id)
        try:
            if self.is_assignment(session_id):
                under_way = self.client.revoke_assignment(session_id)
                if under_way is not None:  # 202: AVAILABLE / DELETE_REQUESTED until the notification
                    shown = as_session_info(under_way)
                    with self._lock:
                        self._sessions[session_id] = Tracked(shown, datetime.now(UTC))
                    return ActionResult(session=shown)
            else:
                self.client.delete_session(session_id)
        except QodError as exc:
            return ActionResult(error=_describe(exc))
        if tracked is None:
            return ActionResult()
        ended = tracked.info.model_copy(
            update={"qos_status": QosStatus.UNAVAILABLE, "status_info": StatusInfo.DELETE_REQUESTED}
        )
        self._track(ended)
        return ActionResult(session=ended)

    def refresh(self, session_id: str) -> ActionResult:
        """Fetch a session's current state, and follow it from now on (also one created elsewhere)."""
        return self._call(lambda: self.client.get_session(session_id.strip()))

    def retrieve(self, device: Device | None) -> ActionResult:
        """Find a device's sessions and follow them (None: the device a three-legged token names)."""
        try:
            sessions = self.client.retrieve_sessions(device)
        except QodError as exc:
            return ActionResult(error=_describe(exc), code=exc.code if isinstance(exc, ApiError) else None)
        for session in sessions:
            self._track(session)
        return ActionResult(found=tuple(sessions))

    def apply(self, batch: list[StatusEvent]) -> None:
        """Update followed sessions from notifications (the pump calls this; no HTTP)."""
        with self._lock:
            for event in batch:
                tracked = self._sessions.get(event.session_id)
                if tracked is None and event.shape != "client" and event.session_id not in self._forgotten:
                    adopted = self._adopted(event)  # made elsewhere (in code), notified to this log
                    if adopted is not None:
                        self._sessions[event.session_id] = tracked = Tracked(adopted, datetime.now(UTC))
                if tracked is None or event.shape == "client":
                    continue
                update: dict[str, Any] = {"qos_status": event.qos_status, "status_info": event.status_info}
                known = tracked.info
                if event.qos_status is QosStatus.AVAILABLE and known.expires_at is None and event.event_time:
                    # A notification carries no expiresAt, and a create answered REQUESTED had none:
                    # CAMARA's rule gives it (startedAt + duration), so "time left" can count down.
                    update |= {
                        "started_at": event.event_time,
                        "expires_at": event.event_time + timedelta(seconds=known.duration),
                    }
                self._sessions[event.session_id] = replace(tracked, info=known.model_copy(update=update))

    def forget(self, session_id: str) -> None:
        """Stop following a session (its later notifications do not bring it back)."""
        with self._lock:
            self._sessions.pop(session_id, None)
            self._forgotten.add(session_id)

    def _adopted(self, event: StatusEvent) -> SessionInfo | None:
        """A session this workbench did not create whose notification reached its log: what its sandbox
        knows of it (profile, device, expiry), else what the notification says; None for an assignment."""
        try:
            session_id = uuid.UUID(event.session_id)
        except ValueError:
            return None
        if self.sandbox is not None:
            from ..sandbox.refusals import EngineError  # a sandbox is given: its package is loaded

            try:
                found = self.sandbox.engine.get(session_id)
            except EngineError:  # not this sandbox's session (or an assignment): the notification alone
                pass
            else:
                return SessionInfo.model_validate(found.info())
        return SessionInfo.model_construct(
            session_id=session_id,
            duration=0,
            qos_profile="",
            started_at=None,
            expires_at=None,
            qos_status=event.qos_status,
            status_info=event.status_info,
        )

    def _poll_instead(self, code: str) -> bool:
        """The provider refused a sink: poll from now on if `plan()` says so (on "auto"; else the refusal stands)."""
        if self._plan(sink_refused=code).way != "poll":
            return False
        self.refused = code
        self.notifications = "poll"
        self._start_polling(None)
        return True

    def _call(self, action: Any) -> ActionResult:
        try:
            session = action()
        except QodError as exc:
            return ActionResult(error=_describe(exc), code=exc.code if isinstance(exc, ApiError) else None)
        self._track(session)
        return ActionResult(session=session)

    def _track(self, info: SessionInfo) -> None:
        with self._lock:
            self._sessions[str(info.session_id)] = Tracked(info, datetime.now(UTC))
        if self.watcher is not None and info.qos_status is not QosStatus.UNAVAILABLE:
            self.watcher.watch(info.session_id, known=info)

    def _record_requested(self, session: SessionInfo, at: datetime) -> None:
        sid = str(session.session_id)
        self.log.append(
            StatusEvent(
                event_id=f"client:{sid}:requested",
                session_id=sid,
                qos_status=QosStatus.REQUESTED,
                status_info=None,
                event_time=at,
                type="qodlab.session-created",
                source="qodlab-client",
                shape="client",
                raw={"sessionId": sid, "qosStatus": "REQUESTED"},
            )
        )


def _without_sink(request: CreateSession) -> CreateSession:
    return request.model_copy(update={"sink": None, "sink_credential": None})


def _describe(exc: QodError) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.code}: {exc.message}"
    return str(exc)
