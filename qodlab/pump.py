"""The pump: the one thread that writes to widgets.

Background threads (the listener, the sandbox) hand events over through a queue with `submit`;
widget callbacks ask for a redraw with `poke`. The pump takes whatever is queued, up to
`max_batch` events, hands the batch to every view, and then waits out `interval` before the
next redraw: at most 1 / interval redraws per second however fast events arrive.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .notifications import StatusEvent

__all__ = ["Pump", "PumpState"]

log = logging.getLogger("qodlab")
View = Callable[[list["StatusEvent"]], None]
_POKE = object()


class PumpState(Enum):
    """Where the pump is in its life."""

    NEW = 1  # built, not started
    RUNNING = 2  # applying batches
    STOPPED = 3  # stopped; views keep what they show


class Pump:
    """Applies queued events to views in batches, at most `1 / interval` redraws per second."""

    def __init__(self, interval: float = 0.2, max_batch: int = 10_000, tick: float | None = None) -> None:
        self.interval = interval
        self.tick = tick
        """Redraw at least this often (seconds) even without events, for countdowns and "now"."""
        self.max_batch = max_batch
        self.state = PumpState.NEW
        self.redraws = 0
        """Batches applied so far."""
        self.applied = 0
        """Events applied so far."""
        self._views: list[View] = []
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<Pump {self.state.name.lower()} {self.redraws} redraws, {self.applied} events>"

    def add_view(self, view: View) -> None:
        """Call `view(batch)` on every redraw (on the pump's thread)."""
        self._views.append(view)

    def submit(self, event: StatusEvent) -> None:
        """Queue an event (any thread); suits `EventLog.on_event`."""
        self._queue.put(event)

    def poke(self) -> None:
        """Ask for a redraw with no new event (after a button changed the model)."""
        self._queue.put(_POKE)

    def start(self) -> Pump:
        """Start the thread (a no-op when running)."""
        if self.state is not PumpState.RUNNING:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="qodlab-pump", daemon=True)
            self.state = PumpState.RUNNING
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current batch."""
        self._stop.set()
        self._queue.put(_POKE)
        if self._thread is not None:
            self._thread.join(timeout)
        self.state = PumpState.STOPPED

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far has been applied; False on timeout."""
        marker = threading.Event()
        self._queue.put(marker)
        return marker.wait(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=self.tick or 0.5)
            except queue.Empty:
                if self.tick is None:
                    continue
                first = _POKE
            batch, markers = self._drain(first)
            if self._stop.is_set():
                break
            started = time.monotonic()
            self._apply(batch)
            for marker in markers:
                marker.set()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _drain(self, first: object) -> tuple[list[StatusEvent], list[threading.Event]]:
        batch: list[StatusEvent] = []
        markers: list[threading.Event] = []
        item: object = first
        while True:
            if isinstance(item, threading.Event):
                markers.append(item)
            elif item is not _POKE:
                batch.append(item)  # type: ignore[arg-type]
            if len(batch) >= self.max_batch:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return batch, markers

    def _apply(self, batch: list[StatusEvent]) -> None:
        for view in list(self._views):
            try:
                view(batch)
            except Exception:  # one broken view must not stop the others, or the pump
                log.exception("pump view %r failed", view)
        self.redraws += 1
        self.applied += len(batch)
