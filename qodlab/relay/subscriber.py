"""`Subscription`: follow one relay channel's stream, reconnecting until stopped.

It runs as a task on the loop of the server that owns it (the listener's), so each message is
handled exactly like a POST that server received. It remembers the id of the last message it
handled and sends it as `Last-Event-ID` when it reconnects (from 0 on the first connection, so a
relay that buffers replays what was sent before anyone listened); the listener's log drops what
it already has. smee.io ignores the header: what it relayed while nobody listened is gone.

Once its stream first opens it probes the relay (`probe`): one POST per content type a provider
sends, to its own channel; `refusals` says which the relay will not carry, and `probed` is set when
it knows. The probes that come through the stream are dropped here, never handed to `handle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import ssl
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .._net.outbound import LISTENER, OutboundPolicy, transport
from .._net.safejson import MAX_DEPTH, loads
from ..errors import TransportError
from .probe import PROBED_TYPES, Refusal, probe_body, probe_of

__all__ = ["MAX_MESSAGE_BYTES", "Subscription", "new_channel"]

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""A relay message larger than this is skipped unread (a relay carries bodies of 1 MiB; headers and JSON escaping
add to it), so a hostile relay cannot grow the listener's memory with one endless message."""

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Skipped = Callable[[str], None]


def new_channel(
    server: str, *, cafile: str | None = None, timeout: float = 10.0, policy: OutboundPolicy = LISTENER
) -> str:
    """A fresh channel on a relay server: `GET {server}/new` and the redirect's `Location` (its body unread).

    Raises TransportError (a QodError) naming the server and $QODLAB_RELAY when it cannot be reached, or when
    it is at an address `policy` refuses.
    """
    verify = _verify(cafile)
    try:
        with (
            httpx.Client(
                transport=transport(policy, verify=verify, sync=True), timeout=timeout, trust_env=False
            ) as client,
            client.stream("GET", f"{server.rstrip('/')}/new") as response,
        ):
            pass
    except httpx.TransportError as exc:
        raise TransportError(_unreachable(server, exc)) from None
    location = response.headers.get("location")
    if not response.is_redirect or not location:
        msg = f"{server}/new did not answer with a channel (HTTP {response.status_code})"
        raise ValueError(msg)
    return str(response.url.join(location))


def _unreachable(server: str, exc: httpx.TransportError) -> str:
    named = os.environ.get("QODLAB_RELAY", "").rstrip("/") == server.rstrip("/")
    source = "$QODLAB_RELAY names it" if named else "the default; $QODLAB_RELAY names another"
    return (
        f"cannot open a relay channel on {server} ({source}): {type(exc).__name__}. Without the internet, set "
        "$QODLAB_RELAY to a relay you can reach (`qodlab relay`, or a sandbox's relay_url), or pass "
        "relay=<a channel URL>, e.g. sandbox.new_channel()"
    )


class Subscription:
    """A relay channel's messages, each handed to `handle`, across reconnections.

    Parameters:
        url: the channel URL.
        handle: awaited with each message's data (headers, `body`, `query`, `timestamp`).
        cafile: trust this CA for an https relay (the system's otherwise).
        backoff, max_backoff: seconds before reconnecting, doubling up to the maximum.
        read_timeout: a stream silent this long is dropped and reopened (relays ping every 20-30 s).
        probe: the content types to probe the relay with once the stream opens (none: no probe).
        probe_timeout: seconds a probe the relay took may take to come through the stream.
        on_skip: called with the reason for each message skipped because it cannot be decoded
            (not JSON, or nested past the limit); the stream goes on with the next one.
        policy: the addresses the relay may be at (`qodlab._net.outbound`: no link-local or metadata address).
    """

    def __init__(
        self,
        url: str,
        handle: Handler,
        *,
        cafile: str | None = None,
        backoff: float = 0.25,
        max_backoff: float = 15.0,
        read_timeout: float = 90.0,
        probe: tuple[str, ...] = PROBED_TYPES,
        probe_timeout: float = 5.0,
        on_skip: Skipped | None = None,
        policy: OutboundPolicy = LISTENER,
    ) -> None:
        self.on_skip = on_skip
        self.policy = policy
        self.url = url
        self.handle = handle
        self.cafile = cafile
        self.backoff, self.max_backoff = backoff, max_backoff
        self.read_timeout = read_timeout
        self.last_id: int | None = None
        """Id of the last message handled, sent as Last-Event-ID on reconnection."""
        self.connected = threading.Event()
        """Set while the stream is open."""
        self.connections = 0
        self.errors: deque[str] = deque(maxlen=100)
        """Why the stream was lost or could not be opened, newest last (no secrets: no URL)."""
        self.probe_types, self.probe_timeout = probe, probe_timeout
        self.refusals: dict[str, Refusal] = {}
        """The probed content types the relay will not carry (none refused: empty)."""
        self.probed = threading.Event()
        """Set once the probe is over (at once without one): `refusals` is then what the relay said."""
        if not probe:
            self.probed.set()
        self._nonce = secrets.token_urlsafe(12)
        self._awaited: dict[str, asyncio.Event] = {}  # probes the relay took, set as each comes through
        self._task: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start following (call on the owning server's loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="qodlab-relay-subscription")

    async def stop(self) -> None:
        """Stop following (on the same loop)."""
        for task in (self._probe, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.connected.clear()

    def refusal(self, content_type: str) -> Refusal | None:
        """Why the relay will not carry notifications of `content_type`, or None (it does, or it is not known)."""
        return self.refusals.get(content_type.split(";")[0].strip().lower())

    async def _run(self) -> None:
        delay = self.backoff
        timeout = httpx.Timeout(10.0, read=self.read_timeout)
        carrier = transport(self.policy, verify=_verify(self.cafile))
        async with httpx.AsyncClient(transport=carrier, timeout=timeout, trust_env=False) as client:
            while True:
                try:
                    await self._follow(client)
                    delay = self.backoff  # the relay closed a healthy stream: reopen at once
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.errors.append(f"{type(exc).__name__}: {_brief(exc)}")
                self.connected.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    async def _follow(self, client: httpx.AsyncClient) -> None:
        headers = {"Last-Event-ID": str(self.last_id or 0)}
        headers["Accept"] = "text/event-stream"
        async with client.stream("GET", self.url, headers=headers) as response:
            response.raise_for_status()
            kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
            if kind != "text/event-stream":
                msg = f"the relay answered {kind or 'no content type'}, not text/event-stream"
                raise ValueError(msg)
            self.connections += 1
            self.connected.set()
            if self._probe is None and not self.probed.is_set():
                self._probe = asyncio.get_running_loop().create_task(self._run_probe(client), name="qodlab-relay-probe")
            async for event in _events(response, self._skip):
                if event.event != "message":
                    continue  # ready, ping: no request in them
                try:  # a message's data nests the request's body one level down
                    data = loads(event.data, max_depth=MAX_DEPTH + 1)
                except (ValueError, RecursionError) as exc:  # not JSON, or too deep: skip it, not the stream
                    self._skip(f"message {event.id or '?'} is not usable JSON ({_brief(exc)[:80]}): skipped")
                else:
                    probe = probe_of(data) if isinstance(data, dict) else None
                    if probe is not None:
                        self._came_through(*probe)
                    else:
                        # A handler that raises (the log could not store it) is retried from here on reconnection.
                        await self.handle(data if isinstance(data, dict) else {"body": data})
                if event.id.isdigit():
                    self.last_id = int(event.id)

    def _skip(self, reason: str) -> None:
        """A message the stream goes on past: kept in `errors` and told to `on_skip`."""
        self.errors.append(reason)
        if self.on_skip is not None:
            self.on_skip(reason)

    async def _run_probe(self, client: httpx.AsyncClient) -> None:
        """POST a probe of each content type to the channel; a refusal, or one that never comes through, is kept."""
        host = httpx.URL(self.url).host or "the relay"
        try:
            for kind in self.probe_types:
                self._awaited[kind] = asyncio.Event()
                try:
                    async with client.stream(
                        "POST", self.url, content=probe_body(self._nonce, kind), headers={"content-type": kind}
                    ) as answer:
                        pass  # its status is the answer; its body is not read
                except httpx.HTTPError as exc:
                    self.errors.append(f"the probe as {kind} got no answer ({type(exc).__name__}): not known")
                    del self._awaited[kind]
                    continue
                if 400 <= answer.status_code < 500 and answer.status_code not in (408, 429):
                    self.refusals[kind] = Refusal(host, kind, answer.status_code)
                if not answer.is_success:  # a refusal, or a busy relay: nothing will come through
                    del self._awaited[kind]
            waits = {kind: asyncio.ensure_future(done.wait()) for kind, done in self._awaited.items()}
            try:
                if waits:
                    await asyncio.wait(waits.values(), timeout=self.probe_timeout)
            finally:
                for wait in waits.values():
                    wait.cancel()
            for kind, done in self._awaited.items():
                if not done.is_set():
                    self.refusals[kind] = Refusal(host, kind, None)
        except asyncio.CancelledError:
            self._probe, self._awaited = None, {}  # stopped midway: the next stream probes again
            self.refusals.clear()
            raise
        self.probed.set()

    def _came_through(self, nonce: str, kind: str) -> None:
        """A probe on the stream: dropped; ours tells that the relay carries its content type."""
        awaited = self._awaited.get(kind) if nonce == self._nonce else None
        if awaited is not None:
            awaited.set()


def _verify(cafile: str | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=cafile) if cafile else True


def _brief(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"  # the message would carry the channel URL
    return str(exc).replace("\n", " ")[:200]


@dataclass(frozen=True, slots=True)
class _Event:
    event: str
    data: str
    id: str


async def _events(response: httpx.Response, skipped: Skipped) -> AsyncIterator[_Event]:
    """A server-sent event stream's events, each read up to MAX_MESSAGE_BYTES: a longer one is skipped (and told to
    `skipped`) without being kept, so memory stays bounded whatever the relay sends."""
    cap = MAX_MESSAGE_BYTES
    buffer = bytearray()
    skipping = False
    async for chunk in response.aiter_bytes():
        start = max(0, len(buffer) - 1)  # a CR ending the last chunk may pair with this one's LF
        buffer += chunk
        buffer[start:] = buffer[start:].replace(b"\r\n", b"\n")
        while True:
            end = buffer.find(b"\n\n")
            if end < 0:
                if len(buffer) > cap:  # an event without end in sight: dropped as it comes
                    skipping = True
                    del buffer[:-1]  # its last byte may begin the blank line that ends it
                break
            block = bytes(buffer[:end])
            del buffer[: end + 2]
            if skipping or len(block) > cap:
                skipping = False
                skipped(f"a relay message over {cap} bytes: skipped")
                continue
            event = _parse(block.decode("utf-8", "replace"))
            if event is not None:
                yield event


def _parse(block: str) -> _Event | None:
    """One event's lines: `event`, `data` (lines joined), `id`; comments and other fields ignored; None
    without data (a comment, a keep-alive), as the specification dispatches nothing then."""
    event, data, ident = "message", [], ""
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            ident = value
    return _Event(event, "\n".join(data), ident) if data else None
