"""Each caller's API requests a second, on a sandbox without a classroom's gate (which limits each student).

A caller is its credential (an API key, an access token: kept as a digest) or, without one, its client
address. The default is generous: a person, the suite, the demo, the notebooks and the benchmarks stay far
below it, while a loop flooding the API is answered 429 TOO_MANY_REQUESTS with Retry-After, as a real
gateway does. At most `callers` buckets are kept, the least recently used dropped first, so a flood of
fresh credentials costs bounded memory.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .refusals import EngineError

if TYPE_CHECKING:
    from ..classroom.gate import TokenBucket

__all__ = ["RATE_LIMIT", "CallerLimiter"]

RATE_LIMIT = 1000.0
"""A caller's API requests a second by default (bursts of ten seconds' worth); None on `Sandbox` turns it off."""


class CallerLimiter:
    """A token bucket per caller; thread-safe."""

    def __init__(self, rate: float = RATE_LIMIT, burst: float | None = None, callers: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, 10 * rate)
        self.callers = callers
        self.limited = 0
        """How many requests were answered 429."""
        from ..classroom.gate import TokenBucket  # here: the classroom package imports the sandbox

        self._bucket = TokenBucket
        self._buckets: OrderedDict[bytes, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, headers: Mapping[str, str], client: str | None) -> None:
        """Count one request of the caller; EngineError 429 with Retry-After past its rate."""
        key = _caller(headers, client)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = self._bucket(self.rate, self.burst)
                if len(self._buckets) > self.callers:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            wait = bucket.take()
            if wait is not None:
                self.limited += 1
        if wait is not None:
            raise EngineError(
                429,
                "TOO_MANY_REQUESTS",
                f"At most {self.rate:g} requests a second per caller.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


def _caller(headers: Mapping[str, str], client: str | None) -> bytes:
    """A digest of the caller's credential (never the credential itself), else of its address."""
    credential = headers.get("x-rapidapi-key") or headers.get("authorization") or ""
    who = f"credential:{credential.strip()}" if credential.strip() else f"address:{client or '?'}"
    return hashlib.sha256(who.encode()).digest()
