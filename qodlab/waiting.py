"""Waiting for a session or an assignment to reach a status: `session.wait_for("AVAILABLE", timeout=10)`.

Two ways to know, never a fixed sleep:

- **notifications**, given `log=` (an `EventLog`, or a `Listener` and its log): it returns as soon
  as the status's notification is in the log (the log wakes its waiters on every append); a
  timeout then asks the API once what the status is, so the error can tell a provider that is slow
  from notifications that never arrive (a wrong sink or token: the listener's refusals are named).
- **polling** otherwise: GET at once, then after 0.05 s, doubling up to `interval` (1 s), until the
  status is reached or the deadline passes; 429s are waited out by the client itself.

Statuses only move forward (REQUESTED, AVAILABLE, UNAVAILABLE), so a wait that can no longer
succeed (an UNAVAILABLE session awaited as AVAILABLE) raises `WaitError` at once instead of running
out the clock. A 404 means the provider has forgotten it (ended and purged, deleted, an assignment
revoked): the answer to a wait for UNAVAILABLE, a `WaitError` for any other.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from .errors import InvalidRequest, NotFound, WaitError, WaitTimeout
from .models import QosStatus

if TYPE_CHECKING:
    from .eventlog import EventLog
    from .listener import Listener

__all__ = ["Target", "wait_async", "wait_sync"]

_ORDER = {QosStatus.REQUESTED: 0, QosStatus.AVAILABLE: 1, QosStatus.UNAVAILABLE: 2}
_FIRST_POLL = 0.05  # seconds: a sandbox provisions in milliseconds at speed 60


class Target:
    """A session or an assignment as a wait sees it: its id, its status, and how to fetch it."""

    def __init__(self, obj: Any, kind: str, id_field: str, status_field: str) -> None:
        self.obj, self.kind, self._id, self._status = obj, kind, id_field, status_field
        self.gone = False  # the API answered 404: it has ended and been forgotten (or deleted)

    @property
    def ident(self) -> str:
        return str(getattr(self.obj, self._id))

    @property
    def current(self) -> QosStatus:
        return QosStatus(getattr(self.obj, self._status))

    @property
    def info(self) -> str | None:
        info = self.obj.status_info
        return None if info is None else str(info.value if hasattr(info, "value") else info)

    def mark_gone(self) -> None:
        """The provider forgot it (404), or the log saw it end: it is UNAVAILABLE."""
        setattr(self.obj, self._status, QosStatus.UNAVAILABLE)


def _status(status: QosStatus | str) -> QosStatus:
    try:
        return QosStatus(str(status).upper())
    except ValueError:
        choices = ", ".join(s.value for s in QosStatus)
        msg = f"status: {status!r} is not a status (status takes {choices})"
        raise InvalidRequest(msg, "status") from None


def _log_of(log: EventLog | Listener | None) -> tuple[EventLog | None, Listener | None]:
    from .listener import Listener

    if isinstance(log, Listener):
        return log.log, log
    feeding = log.feeders() if log is not None else []  # the listener writing into it: what it refused
    return log, feeding[0] if feeding else None


def _reached(target: Target, wanted: QosStatus) -> bool:
    """Whether `target` is at `wanted`; raises WaitError when it never will be."""
    now = target.current
    if now is wanted:
        return True
    if _ORDER[now] > _ORDER[wanted]:
        why = f" ({target.info})" if target.info else ""
        state = "gone (404 NOT_FOUND: ended or deleted)" if target.gone else f"{now.value}{why}"
        msg = f"{target.kind} {target.ident} is {state}, past {wanted.value}: it will not be {wanted.value} again"
        raise WaitError(msg, target.ident, wanted.value, now.value, target.info)
    return False


def _timeout(target: Target, wanted: QosStatus, timeout: float, listener: Listener | None, log: bool) -> WaitTimeout:
    now = target.current.value + (f" ({target.info})" if target.info else "")
    msg = f"{target.kind} {target.ident} did not become {wanted.value} within {timeout:g} s: "
    if not log:
        msg += f"polling, it was still {now}"
    elif target.current is wanted:
        msg += f"the API says it is {now}, but no notification of it reached the log (check sink and sink_token)"
    else:
        msg += f"no notification of it in the log, and the API says it is {now}"
    if listener is not None:
        refused = listener.recent_rejections(1)
        if refused:
            last = refused[0]
            msg += f"; the listener refused requests (last: {last.status} {last.code}: {last.reason}"
            msg += "; see listener.rejections)"
    return WaitTimeout(msg, target.ident, wanted.value, target.current.value, target.info)


def wait_sync(
    target: Target,
    refresh: Any,
    status: QosStatus | str,
    timeout: float,
    log: EventLog | Listener | None,
    interval: float,
) -> None:
    """Block until `target` is at `status` (see the module docstring); `refresh()` fetches it in place."""
    wanted, deadline = _status(status), time.monotonic() + timeout
    events, listener = _log_of(log)
    if events is not None:
        found = _wait_log(events, target, wanted, deadline)
        _fetch(refresh, target, wanted)
        _settle(found, target, wanted, timeout, listener)
        return
    delay = _FIRST_POLL
    while True:
        _fetch(refresh, target, wanted)
        if _reached(target, wanted):
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise _timeout(target, wanted, timeout, listener, log=False)
        time.sleep(min(delay, left))  # the poll interval, bounded by the deadline
        delay = min(delay * 2, interval)


async def wait_async(
    target: Target,
    refresh: Any,
    status: QosStatus | str,
    timeout: float,
    log: EventLog | Listener | None,
    interval: float,
) -> None:
    """`wait_sync` for the async clients: the event loop keeps running while it waits."""
    wanted, deadline = _status(status), time.monotonic() + timeout
    events, listener = _log_of(log)
    if events is not None:
        found = await asyncio.to_thread(_wait_log, events, target, wanted, deadline)
        await _afetch(refresh, target, wanted)
        _settle(found, target, wanted, timeout, listener)
        return
    delay = _FIRST_POLL
    while True:
        await _afetch(refresh, target, wanted)
        if _reached(target, wanted):
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise _timeout(target, wanted, timeout, listener, log=False)
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 2, interval)


def _wait_log(events: EventLog, target: Target, wanted: QosStatus, deadline: float) -> str | None:
    """ "reached" once the log holds `wanted`, "ended" once it holds an end short of it, None at the deadline."""
    ident = target.ident
    while True:
        if events.has(ident, wanted):
            return "reached"
        if wanted is not QosStatus.UNAVAILABLE and events.has(ident, QosStatus.UNAVAILABLE):
            return "ended"
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:  # wakes on the first matching append; looks for an end at least twice a second
            events.wait_for(ident, wanted, timeout=min(left, 0.5))
        except TimeoutError:
            continue
        return "reached"


def _settle(found: str | None, target: Target, wanted: QosStatus, timeout: float, listener: Listener | None) -> None:
    """After a wait on the log and one fetch: return if reached, else the error that says what happened."""
    if found == "reached":
        return
    if found == "ended" or target.current is QosStatus.UNAVAILABLE:
        target.mark_gone()  # the log saw it end, whatever a lagging API still says
        _reached(target, wanted)
    raise _timeout(target, wanted, timeout, listener, log=True)


def _fetch(refresh: Any, target: Target, wanted: QosStatus) -> None:
    try:
        refresh()
    except NotFound:
        _gone(target, wanted)


async def _afetch(refresh: Any, target: Target, wanted: QosStatus) -> None:
    try:
        await refresh()
    except NotFound:
        _gone(target, wanted)


def _gone(target: Target, wanted: QosStatus) -> None:
    """A 404: the provider has forgotten it, so it is UNAVAILABLE (what a wait for UNAVAILABLE wants)."""
    target.gone = True
    target.mark_gone()
    _reached(target, wanted)
