"""The pump: what writes to widgets, on the kernel's own thread where there is a kernel.

Background threads (the listener, the sandbox) hand events over through a queue with `submit`;
widget callbacks ask for a redraw with `poke`. The pump takes whatever is queued, up to
`max_batch` events, hands the batch to every view, and then waits out `interval` before the
next redraw: at most 1 / interval redraws per second however fast events arrive.

Where it runs (`runner`): in a Jupyter kernel the batches are applied by the kernel's own event
loop, on its main thread, and background threads only enqueue. Colab renders no widget update sent
from any other thread (googlecolab/colabtools#3373), and every frontend gets its messages in order
with the ones the kernel sends for clicks. A cell that runs blocks that loop, so views redraw when
it ends; qodlab's own waits (`EventLog.wait_for`, the client's retry pauses, `Pump.wait_idle`)
call `run_pending` while they wait, so they keep the view live. In plain Python (no kernel) a
`qodlab-pump` thread applies them.

Waiting in a cell that way lives in `qodlab.notebook.kernel`; `kernel_loop`, `pause`, `run_pending` and
`wait_slice` are still importable from here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from . import kernel
from .kernel import _on_kernel_thread, kernel_loop, pause, run_pending, wait_slice

if TYPE_CHECKING:
    from ..notifications import StatusEvent

__all__ = ["Pump", "PumpState", "Runner", "kernel_loop", "pause", "run_pending", "wait_slice"]

log = logging.getLogger("qodlab")
View = Callable[[list["StatusEvent"]], None]
Runner = Literal["auto", "kernel", "thread"]
_POKE = object()


class PumpState(Enum):
    """Where the pump is in its life."""

    NEW = 1  # built, not started
    RUNNING = 2  # applying batches
    STOPPED = 3  # stopped; views keep what they show


class Pump:
    """Applies queued events to views in batches, at most `1 / interval` redraws per second.

    Parameters:
        runner: "kernel" applies batches on the IPython kernel's event loop (its main thread),
            "thread" on a `qodlab-pump` thread; "auto" (the default) picks "kernel" when started
            inside a kernel, else "thread".
    """

    def __init__(
        self, interval: float = 0.2, max_batch: int = 10_000, tick: float | None = None, runner: Runner = "auto"
    ) -> None:
        self.interval = interval
        self.tick = tick
        """Redraw at least this often (seconds) even without events, for countdowns and "now"."""
        self.max_batch = max_batch
        self.runner: Runner = runner
        """Where batches are applied: "kernel" or "thread" once started ("auto" until then)."""
        self.state = PumpState.NEW
        self.redraws = 0
        """Batches applied so far."""
        self.applied = 0
        """Events applied so far."""
        self._views: list[View] = []
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: Any = None
        self._lock = threading.Lock()
        self._wake_pending = False  # a flush is scheduled on the kernel's loop
        self._last = 0.0  # time.monotonic() of the last redraw

    def __repr__(self) -> str:
        where = f" on the {self.runner}" if self.state is PumpState.RUNNING else ""
        return f"<Pump {self.state.name.lower()}{where} {self.redraws} redraws, {self.applied} events>"

    def add_view(self, view: View) -> None:
        """Call `view(batch)` on every redraw (on the kernel's thread, or the pump's)."""
        self._views.append(view)

    def submit(self, event: StatusEvent) -> None:
        """Queue an event (any thread); suits `EventLog.on_event`."""
        self._queue.put(event)
        self._wake()

    def poke(self) -> None:
        """Ask for a redraw with no new event (after a button changed the model)."""
        self._queue.put(_POKE)
        self._wake()

    def start(self) -> Pump:
        """Start applying batches (a no-op when running)."""
        if self.state is PumpState.RUNNING:
            return self
        self._stop.clear()
        loop = kernel_loop() if self.runner in ("auto", "kernel") else None
        if self.runner == "kernel" and loop is None:
            msg = "Pump(runner='kernel') needs a running IPython kernel; use 'auto' or 'thread'"
            raise RuntimeError(msg)
        self.state = PumpState.RUNNING
        if loop is not None:
            self.runner, self._loop = "kernel", loop
            kernel.attach(self)
            if self.tick is not None:
                loop.add_callback(self._on_tick)
            self._wake()
        else:
            self.runner = "thread"
            self._thread = threading.Thread(target=self._run, name="qodlab-pump", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current batch."""
        self._stop.set()
        self._queue.put(_POKE)
        if self._thread is not None:
            self._thread.join(timeout)
        kernel.detach(self)
        self.state = PumpState.STOPPED

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far has been applied; False on timeout.

        On the kernel's thread it applies what is queued itself (its loop cannot while a cell runs).
        """
        if self._loop is not None and self.state is PumpState.RUNNING and _on_kernel_thread():
            self._flush(due_only=False)
            return True
        marker = threading.Event()
        self._queue.put(marker)
        self._wake()
        return marker.wait(timeout)

    # -- on the kernel's loop --------------------------------------------------------------

    def flush_due(self) -> None:
        """Apply what is queued if a redraw is due (`kernel.run_pending` calls it while a cell waits)."""
        self._flush(due_only=True)

    def _wake(self) -> None:
        """Have the kernel's loop flush soon (any thread; at most one flush scheduled at a time)."""
        loop = self._loop
        if loop is None:
            return
        with self._lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        loop.add_callback(self._due)  # thread-safe: it only enqueues on the loop

    def _due(self) -> None:
        delay = self._last + self.interval - time.monotonic()
        if delay > 0:
            self._loop.call_later(delay, self._flush)
        else:
            self._flush()

    def _flush(self, due_only: bool = False) -> None:
        """Apply one batch of what is queued (on the kernel's thread)."""
        now = time.monotonic()
        if self.state is not PumpState.RUNNING or self._loop is None:
            return
        if due_only:
            ticking = self.tick is not None and now - self._last >= self.tick
            if now - self._last < self.interval or (self._queue.empty() and not ticking):
                return
            if ticking:
                self._queue.put(_POKE)
        with self._lock:
            self._wake_pending = False
        batch, markers, asked = self._drain(None)
        if asked:
            self._apply(batch)
            self._last = time.monotonic()
        for marker in markers:
            marker.set()
        if not self._queue.empty():  # more than max_batch: the next batch after `interval`
            self._wake()

    def _on_tick(self) -> None:
        if self.state is not PumpState.RUNNING or self.tick is None:
            return
        left = self._last + self.tick - time.monotonic()
        if left <= 0:
            self.poke()
            left = self.tick
        self._loop.call_later(left, self._on_tick)

    # -- on the pump's own thread (no kernel) ----------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=self.tick or 0.5)
            except queue.Empty:
                if self.tick is None:
                    continue
                first = _POKE
            batch, markers, _ = self._drain(first)
            if self._stop.is_set():
                break
            started = time.monotonic()
            self._apply(batch)
            for marker in markers:
                marker.set()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _drain(self, first: object) -> tuple[list[StatusEvent], list[threading.Event], bool]:
        """What is queued (after `first`, if any): the events, the idle markers, and whether a redraw was asked."""
        batch: list[StatusEvent] = []
        markers: list[threading.Event] = []
        asked = False
        item: object = first
        while True:
            if isinstance(item, threading.Event):
                markers.append(item)
            elif item is _POKE:
                asked = True
            elif item is not None:
                batch.append(item)  # type: ignore[arg-type]
                asked = True
            if len(batch) >= self.max_batch:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return batch, markers, asked

    def _apply(self, batch: list[StatusEvent]) -> None:
        for view in list(self._views):
            try:
                view(batch)
            except Exception:  # one broken view must not stop the others, or the pump
                log.exception("pump view %r failed", view)
        self.redraws += 1
        self.applied += len(batch)
