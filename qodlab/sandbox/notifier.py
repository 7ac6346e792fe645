"""Delivers status changes to each session's sink as notifications, with bounded retries.

Runs on the sandbox server's event loop. Each session has its own queue, so its notifications
arrive in order (AVAILABLE before UNAVAILABLE) while sessions deliver concurrently, at most
`concurrency` requests in flight and `per_sink` to any one sink (scheme, host and port), so a slow
sink holds its own slots and no other's. Every attempt is recorded; a retry sends the same event id, so
receivers can deduplicate.

Every request follows the sandbox's outbound policy (`qodlab._net.outbound`), as established webhook senders do:
the address is checked when connected to, after DNS resolution; a redirect is never followed (a 3xx is a
rejected delivery, its `Location` recorded); at most 64 KiB of an answer is read.

The sender is aiohttp rather than httpx: at this concurrency httpx's async pool delivered about
1,400 POSTs/s on loopback where aiohttp delivered about 12,000 (benchmarks/sandbox.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .._net.bearer import bearer_token
from .._net.http import parse_retry_after
from .._net.outbound import MAX_RESPONSE_BYTES, OutboundPolicy, resolver
from ..notifications import Shape, build_notification, content_type
from .clock import Clock, rfc3339
from .engine import JwtTarget, StatusChange
from .faults import Faults, NoticeFaultKind
from .signing import ASSERTION_TYPE, Signer

__all__ = ["Delivery", "Notifier", "Outcome", "authorization"]


class Outcome(StrEnum):
    """What became of one delivery attempt."""

    DELIVERED = "delivered"  # the sink answered 2xx
    RETRY = "retry"  # connection error, 5xx or 429: tried again after a backoff
    FAILED = "failed"  # retryable failure on the last attempt: given up
    REJECTED = "rejected"  # the sink answered another 4xx: not retried
    GONE = "gone"  # the sink answered 410: nothing more is sent for this session
    DROPPED = "dropped"  # a fault injection dropped it: never sent
    SKIPPED = "skipped"  # the session's sink had answered 410 before


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery attempt (no secrets: the token is never recorded)."""

    time: str  # sandbox time the attempt ended, RFC 3339
    event_id: str
    session_id: str
    qos_status: str
    status_info: str | None
    sink: str
    attempt: int
    status_code: int | None
    error: str | None
    outcome: Outcome
    lag_ms: float  # real milliseconds from the change falling due to this attempt leaving (its slot's wait included)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def authorization(token: str) -> str:
    """The Authorization header for a sink token; a token given as `Bearer x` is sent as is."""
    return token if bearer_token(token) is not None else f"Bearer {token}"


@dataclass(slots=True)
class _Notice:
    change: StatusChange
    due_mono: float  # monotonic time the change fell due
    event_id: str


class Notifier:
    """Sends notifications for status changes; `submit` may be called from any thread."""

    def __init__(
        self,
        clock: Clock,
        faults: Faults,
        *,
        source: str = "urn:qodlab:sandbox",
        max_attempts: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 5.0,
        history: int = 200_000,
        concurrency: int = 64,
        per_sink: int = 8,
        cafile: str | None = None,
        signer: Signer | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.clock = clock
        self.signer = signer or Signer()
        """Signs the client assertions a PRIVATE_KEY_JWT session's token requests carry."""
        self._tokens: dict[JwtTarget, tuple[str, float]] = {}  # access token, monotonic time to renew it
        self.cafile = cafile
        self.faults = faults
        self.source = source
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.concurrency = concurrency
        self.per_sink = per_sink
        self.policy = policy or OutboundPolicy()
        """Which addresses it may deliver to (`qodlab._net.outbound`)."""
        self._sinks: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # origin -> its slots, how many use them
        self._history: deque[Delivery] = deque(maxlen=history)
        self._history_lock = threading.Lock()
        self._queues: dict[uuid.UUID, deque[_Notice]] = {}
        self._workers: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._gone: set[uuid.UUID] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._client: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None

    async def start(self) -> None:
        """Bind to the running loop (the server's)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._slots = asyncio.Semaphore(self.concurrency)
        # https sinks: the system's CAs, plus a private one when given (a test CA, a lab's own).
        tls = ssl.create_default_context()
        if self.cafile is not None:
            tls.load_verify_locations(cafile=self.cafile)
        self._client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.concurrency, ssl=tls, resolver=resolver(self.policy)),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            trust_env=False,
        )

    async def aclose(self) -> None:
        """Cancel pending deliveries and close connections."""
        for task in list(self._workers.values()):
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        if self._client is not None:
            await self._client.close()
        self._loop = None

    def submit(self, change: StatusChange) -> None:
        """Queue the notification of a status change (no-op for a session without a sink)."""
        loop = self._loop
        if change.sink is None or loop is None:
            return
        behind = max(0.0, self.clock.now() - change.time) / self.clock.speed
        notice = _Notice(change, time.monotonic() - behind, str(uuid.uuid4()))
        if threading.get_ident() == self._loop_thread:
            self._enqueue(notice)  # from the scheduler or a route: no need to wake the loop
        else:
            loop.call_soon_threadsafe(self._enqueue, notice)

    def deliveries(self) -> list[Delivery]:
        """Every recorded attempt, oldest first."""
        with self._history_lock:
            return list(self._history)

    @property
    def pending(self) -> int:
        """Notifications queued or being delivered."""
        return sum(len(q) for q in list(self._queues.values()))

    def _enqueue(self, notice: _Notice) -> None:
        sid = notice.change.session_id
        self._queues.setdefault(sid, deque()).append(notice)
        if sid not in self._workers and self._loop is not None:
            self._workers[sid] = self._loop.create_task(self._work(sid))

    async def _work(self, sid: uuid.UUID) -> None:
        queue = self._queues[sid]
        try:
            while queue:
                await self._deliver(queue[0])
                queue.popleft()
        finally:
            del self._workers[sid]
            if not queue:
                self._queues.pop(sid, None)

    async def _deliver(self, notice: _Notice) -> None:
        if notice.change.session_id in self._gone:
            self._record(notice, 0, None, None, Outcome.SKIPPED)
            return
        fault = self.faults.take_notice_fault(notice.change.owner)
        if fault is not None and fault.kind is NoticeFaultKind.DROP:
            self._record(notice, 0, None, None, Outcome.DROPPED)
            return
        if fault is not None and fault.kind is NoticeFaultKind.DELAY:
            await _sleep_until(notice.due_mono + fault.delay)  # `delay` seconds after it fell due
        body, headers = self._request(notice)
        await self._send(notice, body, headers)
        if fault is not None and fault.kind is NoticeFaultKind.DUPLICATE:
            await self._send(notice, body, headers)

    def _request(self, notice: _Notice) -> tuple[bytes, dict[str, str]]:
        change = notice.change
        shape: Shape = change.flavor
        body = build_notification(
            shape,
            event_id=notice.event_id,
            session_id=str(change.session_id),
            qos_status=change.qos_status,
            status_info=change.status_info,
            time=rfc3339(change.time),
            source=self.source,
        )
        headers = {
            "Content-Type": change.content_type or content_type(shape),
            "x-correlator": change.correlator or str(uuid.uuid4()),
        }
        if change.token:
            headers["Authorization"] = authorization(change.token)
        return json.dumps(body).encode(), headers

    async def _authorised_post(
        self, change: StatusChange, sink: str, body: bytes, headers: dict[str, str], left: list[float]
    ) -> tuple[int | None, str | None, float | None]:
        """A POST; for PRIVATE_KEY_JWT, with a token from the consumer's endpoint (a refusal there is this
        attempt's failure, retried like any other)."""
        if change.jwt is None:
            return await self._post(sink, body, headers, left)
        token, error = await self._token(change.jwt)
        if token is None:
            return None, error, None
        code, error, retry_after = await self._post(sink, body, {**headers, "Authorization": f"Bearer {token}"}, left)
        if code == 401:  # revoked or expired early: the next attempt asks for a new one
            self._tokens.pop(change.jwt, None)
        return code, error, retry_after

    async def _token(self, target: JwtTarget) -> tuple[str | None, str | None]:
        """(an access token for the target, None) or (None, why not); kept until shortly before it expires."""
        cached = self._tokens.get(target)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0], None
        assert self._client is not None
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.signer.assertion(target.client_id, target.token_uri),
        }
        where = f"token endpoint {target.token_uri}"
        refused = self.policy.refusal(target.token_uri)
        if refused is not None:
            return None, f"{where}: {_REFUSED}{refused}"
        accept = {"Accept": "application/json"}
        try:
            async with self._client.post(target.token_uri, data=form, headers=accept, allow_redirects=False) as got:
                status = got.status
                if 300 <= status < 400:
                    return None, f"{where}: HTTP {status}, redirect not followed"
                answer = json.loads(await _capped(got)) if status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return None, f"{where}: {_reason(exc)}"
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            return None, f"{where}: HTTP {status}, no access token"
        expires_in = answer.get("expires_in", 300) if isinstance(answer, dict) else 300
        life = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 300.0
        self._tokens[target] = (token, time.monotonic() + life - min(30.0, life / 2))
        return token, None

    async def _post(
        self, sink: str, body: bytes, headers: dict[str, str], left: list[float]
    ) -> tuple[int | None, str | None, float | None]:
        """One POST: (status code, error, Retry-After seconds); `left[0]` is set when it leaves, its slots held."""
        assert self._client is not None and self._slots is not None
        refused = self.policy.refusal(sink)
        if refused is not None:
            return None, f"{_REFUSED}{refused}", None
        try:
            async with self._sink_slot(sink), self._slots:
                left[0] = time.monotonic()  # a slow sink's queue shows in `lag_ms`
                response = await self._client.post(sink, data=body, headers=headers, allow_redirects=False)
                async with response:
                    with contextlib.suppress(ValueError):  # a huge answer: its status counts, its body is dropped
                        await _capped(response)
                    error = None
                    if 300 <= response.status < 400:  # never followed: a rejected delivery (not retried)
                        error = f"redirect to {response.headers.get('Location', '?')[:200]!r} not followed"
                    return response.status, error, parse_retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return None, _reason(exc), None

    @contextlib.asynccontextmanager
    async def _sink_slot(self, sink: str) -> AsyncIterator[None]:
        """One of the `per_sink` slots of the sink's origin (kept only while someone uses them)."""
        origin = _origin(sink)
        slots, users = self._sinks.setdefault(origin, (asyncio.Semaphore(self.per_sink), [0]))
        users[0] += 1
        try:
            async with slots:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                self._sinks.pop(origin, None)

    async def _send(self, notice: _Notice, body: bytes, headers: dict[str, str]) -> None:
        sink = notice.change.sink or ""
        for attempt in range(1, self.max_attempts + 1):
            left = [time.monotonic()]  # when the request leaves, once a slot is free (the POST sets it)
            code, error, retry_after = await self._authorised_post(notice.change, sink, body, headers, left)
            sent = left[0]
            if code is None and error is not None and _REFUSED in error:  # the policy's: no retry changes it
                self._record(notice, attempt, code, error, Outcome.REJECTED, sent)
                return
            if code is not None and code < 300:
                self._record(notice, attempt, code, error, Outcome.DELIVERED, sent)
                return
            if code == 410:
                self._gone.add(notice.change.session_id)
                self._record(notice, attempt, code, error, Outcome.GONE, sent)
                return
            if code is not None and code < 500 and code != 429:
                self._record(notice, attempt, code, error, Outcome.REJECTED, sent)
                return
            last = attempt == self.max_attempts
            self._record(notice, attempt, code, error, Outcome.FAILED if last else Outcome.RETRY, sent)
            if not last:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                await asyncio.sleep(delay if retry_after is None else min(self.max_backoff, retry_after))

    def _record(
        self,
        notice: _Notice,
        attempt: int,
        code: int | None,
        error: str | None,
        outcome: Outcome,
        sent: float | None = None,
    ) -> None:
        change = notice.change
        left = time.monotonic() if sent is None else sent
        record = Delivery(
            time=rfc3339(self.clock.now()),
            event_id=notice.event_id,
            session_id=str(change.session_id),
            qos_status=change.qos_status.value,
            status_info=change.status_info.value if change.status_info else None,
            sink=change.sink or "",
            attempt=attempt,
            status_code=code,
            error=error,
            outcome=outcome,
            lag_ms=round((left - notice.due_mono) * 1000, 3),
        )
        with self._history_lock:
            self._history.append(record)


_REFUSED = "refused: "


async def _capped(response: aiohttp.ClientResponse) -> bytes:
    """At most MAX_RESPONSE_BYTES of an answer (ValueError past them: the connection is dropped, not drained)."""
    body = await response.content.read(MAX_RESPONSE_BYTES + 1)
    while len(body) <= MAX_RESPONSE_BYTES and not response.content.at_eof():
        more = await response.content.read(MAX_RESPONSE_BYTES + 1 - len(body))
        if not more:
            break
        body += more
    if len(body) > MAX_RESPONSE_BYTES:
        response.close()
        msg = f"answer over {MAX_RESPONSE_BYTES // 1024} KiB, not read"
        raise ValueError(msg)
    return body


def _reason(exc: BaseException) -> str:
    """An error's record: the policy's refusal as it said it, else the exception's type and text."""
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, OSError) and " resolves to " in str(os_error):
        return f"{_REFUSED}{os_error}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


async def _sleep_until(deadline: float) -> None:
    """Sleep until the monotonic `deadline`.

    A loop's timer can fire a fraction of a millisecond early (libuv, under uvloop, schedules it
    from the loop's cached time), so a single `sleep(seconds)` may fall just short.
    """
    for _ in range(10_000):  # each round sleeps at least 1 ms: bounded by the deadline
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        await asyncio.sleep(max(remaining, 0.001))
