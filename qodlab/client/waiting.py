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

from ..errors import InvalidRequest, NotFound, WaitError, WaitTimeout
from ..models import QosStatus

if TYPE_CHECKING:
    from ..eventlog import EventLog
    from ..receiving.listener import Listener

__all__ = ["Progress", "Target", "wait_async", "wait_sync"]

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


class Progress:
    """A wait's status so far and time left, shown in the cell while it waits and gone when it returns.

    Shown with an IPython display handle, updated by the waiting code itself, so from the thread
    that runs the cell (the kernel's main thread, or its event loop for the async clients); at most
    four times a second. Outside IPython, or with `enabled` False, it does nothing.
    """

    def __init__(self, target: Target, wanted: QosStatus, deadline: float, enabled: bool) -> None:
        self.target, self.wanted, self.deadline = target, wanted, deadline
        self.status: str | None = None  # what the log says so far, where the wait reads a log
        self.handle: Any = None
        self._shown_at = 0.0
        if enabled:
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is not None:
                self.handle = display(self.bundle(), raw=True, display_id=True)  # type: ignore[no-untyped-call]
                self._shown_at = time.monotonic()

    def bundle(self) -> dict[str, str]:
        """What it shows: text, and HTML with the status as a badge."""
        import html

        from ..notebook.display import badge

        now = self.status or self.target.current.value
        left = max(0.0, self.deadline - time.monotonic())
        head = f"waiting for {self.target.kind} {self.target.ident[:8]}… to be {self.wanted.value}"
        text = f"{head}: {now} so far, {left:.0f} s left"
        page = f'<div class="qodlab-progress">{html.escape(head)}: {badge(now)} so far, <b>{left:.0f} s</b> left</div>'
        return {"text/plain": text, "text/html": page}

    def show(self) -> None:
        """Update what it shows (skipped when it did less than a quarter of a second ago)."""
        if self.handle is not None and time.monotonic() - self._shown_at >= 0.25:
            self.handle.update(self.bundle(), raw=True)
            self._shown_at = time.monotonic()

    def close(self) -> None:
        """Take it off the cell: the wait is over."""
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)
            self.handle = None


def _status(status: QosStatus | str) -> QosStatus:
    try:
        return QosStatus(str(status).upper())
    except ValueError:
        choices = ", ".join(s.value for s in QosStatus)
        msg = f"status: {status!r} is not a status (status takes {choices})"
        raise InvalidRequest(msg, "status") from None


def _log_of(log: EventLog | Listener | None) -> tuple[EventLog | None, Listener | None]:
    from ..receiving.listener import Listener

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
    progress: bool = False,
) -> None:
    """Block until `target` is at `status` (see the module docstring); `refresh()` fetches it in place.

    With `progress`, the cell shows the status so far and the time left while it waits (`Progress`).
    """
    wanted, deadline = _status(status), time.monotonic() + timeout
    events, listener = _log_of(log)
    shown = Progress(target, wanted, deadline, progress)
    try:
        if events is not None:
            found = _wait_log(events, target, wanted, deadline, shown)
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
            shown.show()
            time.sleep(min(delay, left, 0.25 if progress else delay))  # the poll interval, bounded by the deadline
            delay = min(delay * 2, interval)
    finally:
        shown.close()


async def wait_async(
    target: Target,
    refresh: Any,
    status: QosStatus | str,
    timeout: float,
    log: EventLog | Listener | None,
    interval: float,
    progress: bool = False,
) -> None:
    """`wait_sync` for the async clients: the event loop keeps running while it waits."""
    wanted, deadline = _status(status), time.monotonic() + timeout
    events, listener = _log_of(log)
    shown = Progress(target, wanted, deadline, progress)
    try:
        if events is not None:
            found = await _await_log(events, target, wanted, deadline, shown)
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
            shown.show()
            await asyncio.sleep(min(delay, left, 0.25 if progress else delay))
            delay = min(delay * 2, interval)
    finally:
        shown.close()


async def _await_log(
    events: EventLog, target: Target, wanted: QosStatus, deadline: float, shown: Progress
) -> str | None:
    """`_wait_log` in a thread, in slices of a second, so that `shown` is updated from the event loop."""
    if shown.handle is None:
        return await asyncio.to_thread(_wait_log, events, target, wanted, deadline)
    while True:
        found = await asyncio.to_thread(_wait_log, events, target, wanted, min(deadline, time.monotonic() + 1.0))
        if found is not None or time.monotonic() >= deadline:
            return found
        _log_status(events, target, shown)
        shown.show()


def _log_status(events: EventLog, target: Target, shown: Progress) -> None:
    """What the log says of `target` so far, for `shown`."""
    newest = events.recent(1, session_id=target.ident, columns=("qos_status",))
    shown.status = str(newest[0]["qos_status"]) if newest else None


def _wait_log(
    events: EventLog, target: Target, wanted: QosStatus, deadline: float, shown: Progress | None = None
) -> str | None:
    """ "reached" once the log holds `wanted`, "ended" once it holds an end short of it, None at the deadline."""
    ident = target.ident
    while True:
        if shown is not None and shown.handle is not None:
            _log_status(events, target, shown)
            shown.show()
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
