"""`Watcher`: notifications without a webhook, by polling the API for each followed session.

A background thread GETs each followed session and records every change of
`(qosStatus, statusInfo)` in an `EventLog` as a status event of shape `poll`, dated with the best
time the API gives: `startedAt` for AVAILABLE, `expiresAt` for UNAVAILABLE (CAMARA: when it
ended), otherwise the moment the poll asked (not when its answer was read: on a busy machine that
can come after the next status's own `startedAt`, and the statuses would be out of order). A
session that vanishes (404) after it was seen live was deleted: nothing else removes a live
session. It polls again just after a session's `expiresAt` rather than a whole interval later,
waits out a 429's `Retry-After`, stops following a session once it has ended or is gone, and
never raises into the notebook: errors go to `errors`.

Polled and notified events meet in one log: `intervals()` shows a transition seen both ways once,
at the notification's time; `.df` keeps both rows, with their shapes.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..client.assignments import as_session_info
from ..errors import NotFound, QodError, RateLimited, describe
from ..models import Device, QosStatus, SessionInfo, StatusInfo
from ..notifications import StatusEvent

if TYPE_CHECKING:
    from ..client.clients import QodClient
    from ..eventlog import EventLog

__all__ = ["POLL_TYPE", "ApiClock", "Watcher"]

POLL_TYPE = "qodlab.session-polled"
_AFTER_EXPIRY = 0.05  # real seconds after expiresAt for the poll that sees it expired
_Status = tuple[QosStatus, StatusInfo | None]


class ApiClock(Protocol):
    """The API's clock: `now()` in epoch seconds, running `speed` times faster than real time."""

    def now(self) -> float: ...

    @property
    def speed(self) -> float: ...


class WallClock:
    """A real network's clock: real time."""

    speed = 1.0

    def now(self) -> float:
        return time.time()


@dataclass
class _Followed:
    due: float  # time.monotonic() of the next poll
    assignment: bool = False  # a QoS Provisioning assignment (polled with get_assignment)
    last: _Status | None = None  # the last status recorded (or found in the log)
    seen: _Status | None = None  # a status seen but not recorded yet (only_missing's grace)


class Watcher:
    """Polls followed sessions in a background thread and records their changes in `log`.

    Parameters:
        client: the API client (its own retries apply to each call).
        log: where status events go (shape `poll`).
        interval: real seconds between two polls of a session.
        clock: the API's clock (a sandbox's `clock`), to poll right after `expiresAt`; real time by default.
        only_missing: a safety net under notifications: record a change only if, this many real
            seconds after a poll saw it, the log still has no event of it.
    """

    def __init__(
        self,
        client: QodClient,
        log: EventLog,
        interval: float = 5.0,
        *,
        clock: ApiClock | None = None,
        only_missing: float | None = None,
    ) -> None:
        if not interval > 0:
            msg = f"interval must be positive, got {interval!r}"
            raise ValueError(msg)
        self.client = client
        self.log = log
        self.interval = interval
        self.clock: ApiClock = clock or WallClock()
        self.only_missing = only_missing
        self.calls = 0
        """API calls made so far."""
        self.errors: deque[str] = deque(maxlen=200)
        """What went wrong, newest last (never a token)."""
        self._followed: dict[str, _Followed] = {}
        self._devices: dict[tuple[tuple[str, str], ...], tuple[Device, float]] = {}
        self._done: set[str] = set()  # ended or gone: not followed again when a device's sessions are listed
        self._assignments: set[str] = set()  # the followed ids that are assignments (recorded as such)
        self._paused_until = 0.0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.start()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Watcher every {self.interval:g} s, {len(self._followed)} sessions, {self.calls} calls, {state}>"

    # -- what it follows -------------------------------------------------------------------

    def watch(self, session_id: str | Any, known: SessionInfo | None = None) -> None:
        """Follow a session until it ends or is gone: polled at once, then every `interval`.

        `known`: the session as the caller just had it from the API (a create's answer); it counts
        as the first poll, which saves a call.
        """
        sid = str(session_id)
        with self._cond:
            self._done.discard(sid)
            # With `known`, no poll until _observe has scheduled the next one.
            followed = self._followed.setdefault(sid, _Followed(due=math.inf if known else time.monotonic()))
        if known is not None:
            self._observe(sid, followed, known, self._now())
        with self._cond:
            self._cond.notify()

    def watch_assignment(self, assignment_id: str | Any) -> None:
        """Follow a QoS Provisioning assignment until it ends or is gone, like a session (no expiry to look for)."""
        sid = str(assignment_id)
        with self._cond:
            self._done.discard(sid)
            self._assignments.add(sid)
            self._followed.setdefault(sid, _Followed(due=time.monotonic(), assignment=True))
            self._cond.notify()

    def watch_device(self, device: Device | dict[str, Any]) -> None:
        """Follow every session of a device, those created later included (found every `interval`)."""
        found = device if isinstance(device, Device) else Device.model_validate(device)
        with self._cond:
            self._devices[tuple(found.identifiers())] = (found, time.monotonic())
            self._cond.notify()

    def unwatch(self, session_id: str | Any) -> None:
        """Stop following a session."""
        with self._cond:
            self._followed.pop(str(session_id), None)

    @property
    def followed(self) -> list[str]:
        """The sessions it follows now."""
        with self._cond:
            return list(self._followed)

    # -- life --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether its thread polls."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Watcher:
        """Start polling (a no-op when running)."""
        if not self.running:
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="qodlab-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling; the sessions stay followed for a later `start()`."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the thread --------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                sessions = [sid for sid, f in self._followed.items() if f.due <= now]
                devices = [d for d, due in self._devices.values() if due <= now]
                if now < self._paused_until or not (sessions or devices):
                    self._cond.wait(self._next_wake(now))
                    continue
            try:
                for device in devices:
                    self._find(device)
                for session_id in sessions:
                    self._poll(session_id)
            except Exception as exc:  # never into the notebook, and never a tight loop
                if getattr(getattr(self.client, "_http", None), "is_closed", False):
                    self.errors.append("the client was closed: polling stopped")
                    with self._cond:
                        self._stopping = True
                    return
                self.errors.append(f"polling failed ({type(exc).__name__}); trying again in {self.interval:g} s")
                later = time.monotonic() + self.interval
                with self._cond:
                    for session_id in sessions:
                        if (followed := self._followed.get(session_id)) is not None:
                            followed.due = max(followed.due, later)
                    for key, (device, due) in list(self._devices.items()):
                        self._devices[key] = (device, max(due, later))

    def _next_wake(self, now: float) -> float:
        dues = [f.due for f in self._followed.values()] + [due for _, due in self._devices.values()]
        wake = max(min(dues, default=now + self.interval), self._paused_until)
        return max(0.0, wake - now)

    def _failed(self, exc: QodError) -> None:
        """Record why a call failed; a 429 pauses every poll for its Retry-After."""
        if isinstance(exc, RateLimited):
            wait = _retry_after(exc) or self.interval
            with self._cond:
                self._paused_until = time.monotonic() + wait
            self.errors.append(f"429 rate limited: waiting {wait:g} s")
        else:
            self.errors.append(describe(exc))

    def _find(self, device: Device) -> None:
        self.calls += 1
        try:
            sessions = self.client.retrieve_sessions(device)
        except QodError as exc:
            self._failed(exc)
            sessions = []
        with self._cond:
            key = tuple(device.identifiers())
            if key in self._devices:
                self._devices[key] = (device, max(time.monotonic() + self.interval, self._paused_until))
            for session in sessions:
                session_id = str(session.session_id)
                if session_id not in self._done:
                    self._followed.setdefault(session_id, _Followed(due=time.monotonic()))

    def _poll(self, session_id: str) -> None:
        with self._cond:
            followed = self._followed.get(session_id)
        if followed is None:
            return
        self.calls += 1
        asked = self._now()  # the status answered held at this moment or later: never after a later startedAt
        try:
            if followed.assignment:
                info = as_session_info(self.client.get_assignment(session_id))
            else:
                info = self.client.get_session(session_id)
        except NotFound:
            self._gone(session_id, followed)
            return
        except QodError as exc:
            self._failed(exc)
            with self._cond:
                followed.due = max(time.monotonic() + self.interval, self._paused_until)
            return
        self._observe(session_id, followed, info, asked)

    def _observe(self, session_id: str, followed: _Followed, info: SessionInfo, asked: datetime) -> None:
        """What a poll saw: record a change, then schedule the next poll or stop following."""
        status: _Status = (info.qos_status, info.status_info)
        if status != followed.last and not self._missing_yet(session_id, followed, status):
            with self._cond:
                followed.due = time.monotonic() + (self.only_missing or 0.0)  # look again after the grace
            return
        if status != followed.last:
            self._record(session_id, status, _event_time(info, asked), info)
            followed.last = status
        with self._cond:
            if info.qos_status is QosStatus.UNAVAILABLE:
                self._end(session_id)  # ended: nothing more will change
            else:
                followed.due = self._next_poll(info)

    def _missing_yet(self, session_id: str, followed: _Followed, status: _Status) -> bool:
        """Whether to record `status` now: always, or (a safety net) once it is missing after the grace."""
        if self.only_missing is None:
            return True
        if self.log.has(session_id, *status):
            followed.last, followed.seen = status, None  # notified: nothing to add
            return True
        if followed.seen != status:
            followed.seen = status  # first sight: give the notification its grace
            return False
        return True

    def _end(self, session_id: str) -> None:
        self._followed.pop(session_id, None)
        self._done.add(session_id)

    def _gone(self, session_id: str, followed: _Followed) -> None:
        """404: deleted, if it was last seen live (only a delete removes a live session)."""
        if followed.last is not None and followed.last[0] is not QosStatus.UNAVAILABLE:
            self._record(session_id, (QosStatus.UNAVAILABLE, StatusInfo.DELETE_REQUESTED), self._now(), None)
        with self._cond:
            self._end(session_id)

    def _next_poll(self, info: SessionInfo) -> float:
        """An interval from now; or just after `expiresAt`, in place of the regular poll around it.

        Never a regular poll *and* one a moment later at expiresAt: a session costs one call per
        interval, and its expiry is seen within `_AFTER_EXPIRY` plus a tenth of an interval.
        """
        now = time.monotonic()
        due = now + self.interval
        if info.qos_status is QosStatus.AVAILABLE and info.expires_at is not None:
            left = (info.expires_at.timestamp() - self.clock.now()) / self.clock.speed
            expiry = now + max(0.0, left) + _AFTER_EXPIRY
            if expiry <= due + self.interval / 10:
                due = expiry
        return due

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def _record(self, session_id: str, status: _Status, when: datetime, info: SessionInfo | None) -> None:
        qos_status, status_info = status
        raw: dict[str, Any] = {"sessionId": session_id, "qosStatus": qos_status.value}
        if status_info is not None:
            raw["statusInfo"] = status_info.value
        if info is not None:  # what the API said, less the sink (a relay channel URL is a secret)
            raw.update(info.model_dump(mode="json", by_alias=True, exclude_none=True, include=_RAW_FIELDS))
        event = StatusEvent(
            event_id=f"poll:{session_id}:{qos_status.value}:{status_info.value if status_info else ''}",
            session_id=session_id,
            qos_status=qos_status,
            status_info=status_info,
            event_time=when,
            type=POLL_TYPE,
            source=self.client.qod_url,
            shape="poll-assignment" if session_id in self._assignments else "poll",
            raw=raw,
        )
        try:
            self.log.append(event)
        except Exception as exc:  # a full disk: say so, and see it again on the next poll
            self.errors.append(f"{session_id}: could not store the event ({type(exc).__name__})")
            with self._cond:
                if session_id in self._followed:
                    self._followed[session_id].last = None


_RAW_FIELDS = {"session_id", "qos_status", "status_info", "started_at", "expires_at", "duration", "qos_profile"}


def _event_time(info: SessionInfo, seen: datetime) -> datetime:
    if info.qos_status is QosStatus.AVAILABLE and info.started_at is not None:
        return info.started_at
    if info.qos_status is QosStatus.UNAVAILABLE and info.expires_at is not None:
        return info.expires_at
    return seen


def _retry_after(exc: RateLimited) -> float | None:
    from .._net.http import parse_retry_after

    return parse_retry_after(exc.response.headers.get("retry-after")) if exc.response is not None else None
