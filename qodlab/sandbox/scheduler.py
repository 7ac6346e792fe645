"""Wakes the engine exactly when its next timer falls due, at any clock speed."""

from __future__ import annotations

import asyncio
import contextlib

from .engine import Engine

__all__ = ["Scheduler"]


class Scheduler:
    """One task on the server loop; `wake()` (any thread) re-arms it after a change."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._task = self._loop.create_task(self._run())

    async def stop(self) -> None:
        """Stop the task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._loop = None

    def wake(self) -> None:
        """Re-arm: a timer was added or the clock changed."""
        loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        assert self._event is not None
        clock = self.engine.clock
        while True:
            self._event.clear()  # before advancing, so a wake during it is not lost
            self.engine.advance()
            due = self.engine.next_due()
            timeout = None if due is None else clock.real_delay(due)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)
