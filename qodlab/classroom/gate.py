"""Who may do what in a classroom: each request's key, its rate, and a tally per student.

A student's key gives an `Access` named after the student, so the engine's ownership rules
isolate the students (another's session is 403, `retrieve-sessions` lists one's own); device
conflicts stay global, as on a real network. The instructor's key sees everything, and alone may
use the `/_sandbox` and `/_classroom` controls. Each key may make `rate` requests a second (a token
bucket holding one second's worth): beyond it, 429 with `Retry-After`.

In a classroom with `auth="oidc"` each student holds an OAuth client instead of a key: their
access tokens (verified with the sandbox's `provider`) name them; a student's secret alone is no key.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from .._net.bearer import bearer_token
from ..sandbox.engine import Access
from ..sandbox.oidc import Provider
from ..sandbox.refusals import EngineError
from .roster import INSTRUCTOR, Roster

__all__ = ["CLASSROOM", "Gate", "Tally", "TokenBucket"]

CLASSROOM = "/_classroom"  # the classroom's own controls (its routers' prefix)


class TokenBucket:
    """`rate` requests a second, in bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._at = time.monotonic()

    def take(self) -> float | None:
        """None if a request may go now; otherwise the seconds until it may."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / self.rate


@dataclass
class Tally:
    """One student's requests: how many, which errors, how many were rate limited."""

    requests: int = 0
    limited: int = 0
    errors: Counter[str] = field(default_factory=Counter)


class Gate:
    """The classroom's check on every request to the API and the controls; thread-safe."""

    def __init__(self, roster: Roster, rate: float = 10.0) -> None:
        self.roster = roster
        self.rate = rate
        self.provider: Provider | None = None
        """Verifies students' access tokens (auth="oidc"); None: students use their keys."""
        self.tally = {name: Tally() for name in roster.names}
        self._buckets = {name: TokenBucket(rate) for name in roster.names}
        self._lock = threading.Lock()

    def admit(self, control: bool, headers: Mapping[str, str]) -> tuple[str, Access | None]:
        """The caller's name and Access (None: the instructor, who sees all), or EngineError 401/403/429.

        `control`: the route is a control (`qodlab.sandbox.audience`), the instructor's alone."""
        key = _key(headers)
        name = self.roster.who(key)
        if name == INSTRUCTOR:
            return name, None
        if self.provider is not None:
            name = self._client(key)
        if name is None:
            msg = (
                "Missing or unknown API key: use the one on your roster line."
                if self.provider is None
                else "An access token is required: get one with your roster line's client id and secret."
            )
            raise EngineError(401, "UNAUTHENTICATED", msg)
        if control:
            raise EngineError(403, "PERMISSION_DENIED", "Only the instructor may use the classroom's controls.")
        with self._lock:
            self.tally[name].requests += 1
            wait = self._buckets[name].take()
            if wait is not None:
                self.tally[name].limited += 1
        if wait is not None:
            retry = max(1, math.ceil(wait))
            raise EngineError(
                429,
                "TOO_MANY_REQUESTS",
                f"At most {self.rate:g} requests a second per key.",
                headers={"Retry-After": str(retry)},
            )
        return name, Access(name)

    def answered(self, name: str, status: int, code: str | None) -> None:
        """Count an error answer against a student."""
        if status >= 400 and name in self.tally:
            with self._lock:
                self.tally[name].errors[code or str(status)] += 1

    def _client(self, token: str) -> str | None:
        """The student an access token was issued to (its scopes are the API's to check)."""
        assert self.provider is not None
        try:
            client = self.provider.verify(token).client_id
        except EngineError:
            return None
        return client if client in self.tally else None


def _key(headers: Mapping[str, str]) -> str:
    key = headers.get("x-rapidapi-key")
    if key is None:
        key = bearer_token(headers.get("authorization")) or ""
    return key.strip()
