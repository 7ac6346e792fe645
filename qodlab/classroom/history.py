"""The class's status changes, numbered, for the instructor's timeline.

Every change the engine publishes is kept (up to `limit`, the oldest dropped first) with its
owner and a sequence number; a reader asks for what came `after` the last number it saw, so a
view that polls once a second misses nothing and reads nothing twice.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from ..sandbox import StatusChange
from ..sandbox.clock import rfc3339

__all__ = ["History"]


class History:
    """Numbered status changes with their owners; thread-safe."""

    def __init__(self, limit: int = 100_000) -> None:
        self._changes: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._changes)

    def record(self, change: StatusChange) -> None:
        """Keep a change (an engine subscriber)."""
        entry = {
            "sessionId": str(change.session_id),
            "owner": change.owner,
            "qosProfile": change.profile,
            "qosStatus": change.qos_status.value,
            "statusInfo": change.status_info.value if change.status_info is not None else None,
            "time": rfc3339(change.time),
            "createdAt": rfc3339(change.created_at) if change.created_at is not None else None,
        }
        with self._lock:
            self._seq += 1
            self._changes.append({"seq": self._seq, **entry})

    def after(self, seq: int = 0, limit: int = 10_000) -> dict[str, Any]:
        """Up to `limit` changes numbered above `seq`, and the number to ask after next."""
        with self._lock:
            first = self._changes[0]["seq"] if self._changes else self._seq + 1
            start = max(0, seq + 1 - first)
            page = [self._changes[i] for i in range(start, min(len(self._changes), start + limit))]
            last = page[-1]["seq"] if page else min(seq, self._seq)  # a restarted classroom counts from 0 again
        return {"changes": page, "next": last}
