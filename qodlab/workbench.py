"""`Workbench`: the state behind the widgets, and every call they make.

Widgets are views: they read a Workbench and call its methods; the HTTP (through the client)
and the pandas (through the event log) happen here. Its state changes on the thread that called
it; widgets are redrawn only by the pump, which calls `apply` with each batch of events.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .client import QodClient
from .errors import ApiError, QodError
from .eventlog import EventLog
from .models import CreateSession, Device, QosProfile, QosStatus, SessionInfo, StatusInfo
from .notifications import StatusEvent

if TYPE_CHECKING:
    from .listener import Listener
    from .sandbox import Sandbox

__all__ = ["ActionResult", "Tracked", "Workbench"]


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

    @property
    def ok(self) -> bool:
        return self.error is None


class Workbench:
    """A client, the sessions it created or retrieved, and the log their notifications land in."""

    def __init__(
        self, client: QodClient, log: EventLog, listener: Listener | None = None, sandbox: Sandbox | None = None
    ) -> None:
        self.client = client
        self.log = log
        self.listener = listener
        self.sandbox = sandbox
        self.profiles: list[QosProfile] = []
        self._sessions: dict[str, Tracked] = {}
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------

    def sessions(self) -> list[Tracked]:
        """The followed sessions, newest first."""
        with self._lock:
            return sorted(self._sessions.values(), key=lambda t: t.updated, reverse=True)

    def now(self) -> datetime:
        """The API's clock: the sandbox's when there is one."""
        return self.sandbox.now() if self.sandbox is not None else datetime.now(UTC)

    def seconds_left(self, info: SessionInfo) -> float | None:
        """Seconds until an AVAILABLE session expires."""
        if info.qos_status is not QosStatus.AVAILABLE or info.expires_at is None:
            return None
        return max(0.0, (info.expires_at - self.now()).total_seconds())

    @property
    def sink(self) -> tuple[str, str] | None:
        """The listener's URL and token, to pre-fill a session's notification target."""
        if self.listener is None:
            return None
        return self.listener.url, self.listener.token

    # -- acting ----------------------------------------------------------------------------

    def load_profiles(self) -> list[QosProfile]:
        """Fetch the profile catalogue (kept in `profiles`)."""
        self.profiles = self.client.list_profiles()
        return self.profiles

    def create(self, request: CreateSession) -> ActionResult:
        """Create a session; a REQUESTED one is recorded in the log as a `client` event."""
        before = self.now()
        outcome = self._call(lambda: self.client.create_session(request))
        if outcome.session is not None and outcome.session.qos_status is QosStatus.REQUESTED:
            # The API does not say when it created the session: the middle of the call is the
            # best estimate (off by half the request's latency, times the sandbox's speed).
            self._record_requested(outcome.session, before + (self.now() - before) / 2)
        return outcome

    def extend(self, session_id: str, seconds: int) -> ActionResult:
        """Extend a session by `seconds`."""
        return self._call(lambda: self.client.extend_session(session_id, seconds))

    def delete(self, session_id: str) -> ActionResult:
        """Delete a session; it stays listed as UNAVAILABLE / DELETE_REQUESTED."""
        with self._lock:
            tracked = self._sessions.get(session_id)
        try:
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

    def retrieve(self, device: Device) -> ActionResult:
        """Find a device's sessions (created by anyone) and follow them."""
        try:
            sessions = self.client.retrieve_sessions(device)
        except QodError as exc:
            return ActionResult(error=_describe(exc))
        for session in sessions:
            self._track(session)
        return ActionResult(found=tuple(sessions))

    def apply(self, batch: list[StatusEvent]) -> None:
        """Update followed sessions from notifications (the pump calls this; no HTTP)."""
        with self._lock:
            for event in batch:
                tracked = self._sessions.get(event.session_id)
                if tracked is None or event.shape == "client":
                    continue
                info = tracked.info.model_copy(
                    update={"qos_status": event.qos_status, "status_info": event.status_info}
                )
                self._sessions[event.session_id] = replace(tracked, info=info)

    def forget(self, session_id: str) -> None:
        """Stop following a session."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def _call(self, action: Any) -> ActionResult:
        try:
            session = action()
        except QodError as exc:
            return ActionResult(error=_describe(exc))
        self._track(session)
        return ActionResult(session=session)

    def _track(self, info: SessionInfo) -> None:
        with self._lock:
            self._sessions[str(info.session_id)] = Tracked(info, datetime.now(UTC))

    def _record_requested(self, session: SessionInfo, at: datetime) -> None:
        sid = str(session.session_id)
        self.log.append(StatusEvent(
            event_id=f"client:{sid}:requested", session_id=sid, qos_status=QosStatus.REQUESTED, status_info=None,
            event_time=at, type="qodlab.session-created", source="qodlab-client", shape="client",
            raw={"sessionId": sid, "qosStatus": "REQUESTED"},
        ))  # fmt: skip


def _describe(exc: QodError) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.code}: {exc.message}"
    return str(exc)
