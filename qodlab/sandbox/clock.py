"""The sandbox's adjustable clock: wall time at start, running `speed` times faster."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..errors import InvalidRequest

__all__ = ["Clock", "rfc3339"]


def rfc3339(ts: float) -> str:
    """An epoch time as RFC 3339 in UTC with milliseconds, e.g. `2026-11-26T10:00:00.125Z`."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Clock:
    """Sandbox time in epoch seconds; `speed` 60 runs one sandbox minute per real second.

    Changing the speed or advancing the clock never moves time backwards, and calls the
    registered callbacks so timers can be re-armed.
    """

    def __init__(self, speed: float = 1.0) -> None:
        self._check(speed)
        self._lock = threading.Lock()
        self._base = time.time()  # sandbox time at `_mono`
        self._mono = time.monotonic()
        self._speed = float(speed)
        self._callbacks: list[Callable[[], None]] = []

    @staticmethod
    def _check(speed: float) -> None:
        if not speed > 0:
            msg = f"speed must be above 0, got {speed!r} (sandbox seconds per real second: 1 is real time, 60 fast)"
            raise InvalidRequest(msg, "speed")

    def now(self) -> float:
        """Current sandbox time, epoch seconds."""
        with self._lock:
            return self._base + (time.monotonic() - self._mono) * self._speed

    @property
    def speed(self) -> float:
        """Sandbox seconds per real second."""
        return self._speed

    @speed.setter
    def speed(self, speed: float) -> None:
        self._check(speed)
        with self._lock:
            mono = time.monotonic()
            self._base += (mono - self._mono) * self._speed
            self._mono = mono
            self._speed = float(speed)
        self._changed()

    def advance(self, seconds: float) -> None:
        """Jump sandbox time forward; everything due in between happens at once."""
        if seconds < 0:
            msg = f"the clock only moves forward, got {seconds!r}"
            raise ValueError(msg)
        with self._lock:
            self._base += seconds
        self._changed()

    def real_delay(self, due: float) -> float:
        """Real seconds until sandbox time `due` (0 if past)."""
        return max(0.0, (due - self.now()) / self._speed)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every change of speed or time."""
        self._callbacks.append(callback)

    def _changed(self) -> None:
        for callback in list(self._callbacks):
            callback()
