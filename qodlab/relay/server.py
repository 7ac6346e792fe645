"""`Relay`: a relay server of qodlab's own, speaking smee.io's protocol (see `protocol`).

A plain ASGI app, like the listener: a POST becomes one message, kept in its channel's buffer
(the last `buffer` messages) and pushed to every subscriber's stream at once. A subscriber that
reconnects with `Last-Event-ID` gets what it missed from the buffer first, so a listener that was
down loses nothing the buffer still holds. The sandbox mounts the same app at `/_relay/`.

Bounded, so that a relay anyone can reach cannot be filled: at most `max_bytes` of messages in all
(64 MiB), at most `max_channels` channels (1,000), and a channel with no subscriber and no message
for `idle` seconds of wall-clock time (24 h) is dropped. A new channel past the limit evicts the channel
without subscriber that has been idle longest (its buffered messages go with it); only when every channel
has a subscriber is it refused with 429 and `Retry-After`. Each client address may open `per_address` new
channels an hour (a burst of as many; 429 beyond), the address being the peer's, or the right-most
`X-Forwarded-For` entry when the peer is a trusted proxy (`forwarded_allow_ips`): so 1,000 POSTs to fresh
names from one address no longer fill the table and lock every newcomer out for a day (issue #32).
A message that does not fit evicts the oldest buffered messages of the
channels that hold the most bytes, but never one that a connected subscriber has not been sent
yet; if nothing can go, the message is refused with 429. What a listener that was down loses when
the limits bite: the oldest messages of the fullest channels, and a channel idle for `idle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl

from .._net.asgi import Receive, Scope, Send, lifespan
from .._net.safejson import TooDeep
from .._net.server import BackgroundServer, ServerThread
from .protocol import message, sse

__all__ = ["MAX_BODY", "Relay", "RelayApp", "RelayFull", "channel_name"]

MAX_BODY = 1024 * 1024  # bytes
MAX_BYTES = 64 * 1024 * 1024  # every channel's buffered messages together
MAX_CHANNELS = 1000
PER_ADDRESS = 100  # new channels an address may open an hour (a class behind one NAT opens one each)
_ADDRESSES = 10_000  # addresses whose channel openings are remembered at most
IDLE = 24 * 3600.0  # wall-clock seconds a channel may go without subscriber or message
_OVERHEAD = 120  # bytes a buffered message costs beyond its text (a str, a tuple, a deque slot)
_CHANNEL = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def channel_name() -> str:
    """A fresh, unguessable channel name (144 random bits): whoever knows it can read the channel."""
    return secrets.token_urlsafe(18)


class RelayFull(Exception):
    """A limit is reached: the request is refused with 429 and this message."""


class Subscriber:
    """A connected stream: the last message id written to it, and what wakes it."""

    def __init__(self, sent: int) -> None:
        self.sent = sent
        self.wake = asyncio.Event()


class Channel:
    """One channel: its newest messages with their ids, and its connected subscribers.

    Messages live only here: a subscriber is woken and sends what is newer than its `sent`, so a
    slow subscriber holds no copy, and the relay's byte count is the whole of what it keeps.
    """

    def __init__(self, now: float) -> None:
        self.messages: deque[tuple[int, str]] = deque()
        self.bytes = 0
        self.next_id = 1
        self.subscribers: set[Subscriber] = set()
        self.active = now  # wall-clock time of its last message or subscriber

    def append(self, data: str, now: float) -> int:
        """Keep a message and wake every subscriber; returns its id."""
        event_id, self.next_id = self.next_id, self.next_id + 1
        self.messages.append((event_id, data))
        self.bytes += len(data) + _OVERHEAD
        self.active = now
        for subscriber in self.subscribers:
            subscriber.wake.set()
        return event_id

    def evictable(self) -> bool:
        """Whether its oldest message has been sent to every connected subscriber (or there are none)."""
        if not self.messages:
            return False
        oldest = self.messages[0][0]
        return all(s.sent >= oldest for s in self.subscribers)

    def freeable(self) -> int:
        """The bytes its evictable messages take (those every connected subscriber has been sent)."""
        if not self.subscribers:
            return self.bytes
        sent = min(s.sent for s in self.subscribers)
        return sum(len(data) + _OVERHEAD for i, data in self.messages if i <= sent)

    def evict(self) -> int:
        """Drop the oldest message; returns the bytes freed."""
        _, data = self.messages.popleft()
        freed = len(data) + _OVERHEAD
        self.bytes -= freed
        return freed

    def after(self, last_id: int) -> list[tuple[int, str]]:
        """The buffered messages newer than `last_id`."""
        return [(i, data) for i, data in self.messages if i > last_id]

    def idle(self, now: float, idle: float) -> bool:
        """Whether it has had no subscriber and no message for `idle` seconds."""
        return not self.subscribers and now - self.active >= idle


class RelayApp:
    """The relay's ASGI app; mountable under a prefix (it honours `root_path`)."""

    def __init__(
        self,
        buffer: int = 1000,
        ping: float = 20.0,
        *,
        max_bytes: int = MAX_BYTES,
        max_channels: int = MAX_CHANNELS,
        idle: float = IDLE,
        clock: Callable[[], float] = time.time,
        forwarded_allow_ips: str | None = None,
        per_address: int = PER_ADDRESS,
    ) -> None:
        self.buffer = buffer
        self.per_address = per_address
        self._openings: dict[str, tuple[float, float]] = {}  # address -> (openings left, when counted)
        self.forwarded_allow = frozenset(i.strip() for i in (forwarded_allow_ips or "").split(",") if i.strip())
        """Proxies whose X-Forwarded-Proto/Host the `/new` redirect follows ("*": any); none by default."""
        self.ping = ping
        self.max_bytes, self.max_channels, self.idle = max_bytes, max_channels, idle
        self.clock = clock
        self.channels: dict[str, Channel] = {}
        self.bytes = 0
        """What every channel's buffered messages take together (text plus a fixed overhead each)."""
        self.relayed = 0
        self.evicted = 0
        """Buffered messages dropped to make room (the oldest of the fullest channels)."""
        self._swept = clock()
        self._closing = asyncio.Event()  # set by close(): the streams open now end
        self._loop: asyncio.AbstractEventLoop | None = None

    def channel(self, name: str, address: str | None = None) -> Channel:
        """The channel called `name`, created on first use (as on smee.io) for a client at `address`; past
        max_channels the longest-idle channel without subscriber makes room; RelayFull when none can, or when
        `address` has opened its `per_address` channels this hour."""
        found = self.channels.get(name)
        if found is None:
            now = self.clock()
            if len(self.channels) >= self.max_channels or now - self._swept >= min(60.0, self.idle):
                self.sweep(now)
            if address is not None:
                self._count_opening(address, now)
            if len(self.channels) >= self.max_channels:
                idle = [(c.active, n) for n, c in self.channels.items() if not c.subscribers]
                if not idle:
                    msg = f"The relay holds its limit of {self.max_channels} channels, all followed; try again later."
                    raise RelayFull(msg)
                self.bytes -= self.channels.pop(min(idle)[1]).bytes
            found = self.channels[name] = Channel(now)
        return found

    def _count_opening(self, address: str, now: float) -> None:
        """Take one of the address's channel openings (a bucket of `per_address`, refilled over an hour)."""
        rate = self.per_address / 3600.0
        left, at = self._openings.get(address, (float(self.per_address), now))
        left = min(float(self.per_address), left + (now - at) * rate)
        if left < 1:
            msg = f"This address opened its {self.per_address} channels this hour; try again later."
            raise RelayFull(msg)
        if len(self._openings) >= _ADDRESSES and address not in self._openings:  # forget the fullest buckets
            self._openings = {a: v for a, v in self._openings.items() if v[0] + (now - v[1]) * rate < self.per_address}
        self._openings[address] = (left - 1, now)

    def sweep(self, now: float | None = None) -> int:
        """Drop the channels idle for `idle` seconds; returns how many."""
        now = self.clock() if now is None else now
        self._swept = now
        gone = [name for name, channel in self.channels.items() if channel.idle(now, self.idle)]
        for name in gone:
            self.bytes -= self.channels.pop(name).bytes
        return len(gone)

    def publish(self, name: str, data: str) -> int:
        """Keep a message in channel `name` within the limits; returns its id, or RelayFull."""
        channel = self.channel(name)
        size = len(data) + _OVERHEAD
        over = self.bytes + size - self.max_bytes
        if over > 0 and sum(c.freeable() for c in self.channels.values()) < over:  # refused: nothing is lost
            msg = "The relay is full of messages its subscribers have not been sent yet; try again later."
            raise RelayFull(msg)
        while self.bytes + size > self.max_bytes:
            self._evict_one()
        event_id = channel.append(data, self.clock())
        self.bytes += size
        while len(channel.messages) > self.buffer and channel.evictable():
            self.bytes -= channel.evict()
        return event_id

    def _evict_one(self) -> None:
        """Drop the oldest message of the channel holding the most bytes that can give one up."""
        fullest = max((c for c in self.channels.values() if c.evictable()), key=lambda c: c.bytes)
        self.bytes -= fullest.evict()
        self.evicted += 1

    def close(self) -> None:
        """End every open stream (from any thread), so a server can stop without waiting for them."""
        closing, self._closing = self._closing, asyncio.Event()  # streams opened later wait on the new one
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(closing.set)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        self._loop = asyncio.get_running_loop()
        root = scope.get("root_path", "")
        path = scope["path"][len(root) :] if scope["path"].startswith(root) else scope["path"]
        name = path.strip("/")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        if name == "new" and method == "GET":
            scheme, host = self._origin(scope, headers)
            location = f"{scheme}://{host}{root}/{channel_name()}"
            await _respond(send, 307, b"", [(b"location", location.encode())])
        elif not _CHANNEL.match(name):
            await _respond(send, 404, b"No such channel: channel names are letters, digits, '-' and '_'.\n")
        elif method == "POST":
            await self._post(name, scope, headers, receive, send)
        elif method == "GET" and "text/event-stream" in headers.get("accept", ""):
            try:
                channel = self.channel(name, self._client(scope, headers))
            except RelayFull as full:
                await _respond(send, 429, f"{full}\n".encode(), [(b"retry-after", b"60")])
                return
            await self._stream(channel, _last_id(headers), receive, send)
        elif method in ("GET", "HEAD"):
            await _respond(send, 200, b"qodlab relay channel: POST to it, or GET it with Accept: text/event-stream\n")
        else:
            await _respond(send, 405, b"POST or GET\n", [(b"allow", b"GET, POST")])

    def _trusts(self, scope: Scope) -> bool:
        """Whether the peer is a proxy whose forwarded headers count."""
        return "*" in self.forwarded_allow or (scope.get("client") or ("", 0))[0] in self.forwarded_allow

    def _client(self, scope: Scope, headers: dict[str, str]) -> str:
        """The client's address: the peer's, or what a trusted proxy appended to X-Forwarded-For (the right-most
        entry: those before it are the client's to write)."""
        peer = str((scope.get("client") or ("unknown", 0))[0])
        forwarded = headers.get("x-forwarded-for", "").split(",")[-1].strip()
        return forwarded if forwarded and self._trusts(scope) else peer

    def _origin(self, scope: Scope, headers: dict[str, str]) -> tuple[str, str]:
        """The scheme and host a client reached us at: a trusted proxy's X-Forwarded-Proto/Host, else our own."""
        scheme, host = scope.get("scheme", "http"), headers.get("host", "localhost")
        if self._trusts(scope):
            proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
            forwarded_host = headers.get("x-forwarded-host", "").split(",")[0].strip()
            scheme = proto if proto in ("http", "https") else scheme
            host = forwarded_host if re.fullmatch(r"[A-Za-z0-9.\-\[\]:]{1,255}", forwarded_host) else host
        return scheme, host

    async def _post(self, name: str, scope: Scope, headers: dict[str, str], receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, f"Body over the {MAX_BODY} byte limit.\n".encode())
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        try:
            self.channel(name, self._client(scope, headers))  # a new one counts against its opener's address
            self.publish(name, json.dumps(message(headers, body, query), separators=(",", ":")))
        except TooDeep as deep:
            await _respond(send, 400, f"{deep}: not relayed.\n".encode())
            return
        except RelayFull as full:
            await _respond(
                send, 429, f"{full}\n".encode(), [(b"retry-after", b"1" if name in self.channels else b"60")]
            )
            return
        self.relayed += 1
        await _respond(send, 200, b"ok")

    async def _stream(self, channel: Channel, last_id: int, receive: Receive, send: Send) -> None:
        subscriber = Subscriber(last_id)
        subscriber.wake.set()  # the replay: whatever the buffer holds after last_id
        channel.subscribers.add(subscriber)
        channel.active = self.clock()
        watchers = [asyncio.ensure_future(_disconnected(receive)), asyncio.ensure_future(self._closing.wait())]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _STREAM_HEADERS})
            await _chunk(send, sse("{}", event="ready"))
            while True:
                if subscriber.wake.is_set():
                    subscriber.wake.clear()
                    for event_id, data in channel.after(subscriber.sent):
                        await _chunk(send, sse(data, event_id=event_id))
                        subscriber.sent = event_id
                    continue
                waiter = asyncio.ensure_future(subscriber.wake.wait())
                done, _ = await asyncio.wait(
                    [waiter, *watchers], timeout=self.ping, return_when=asyncio.FIRST_COMPLETED
                )
                if waiter not in done:
                    waiter.cancel()
                if any(w in done for w in watchers):
                    break
                if waiter not in done:
                    await _chunk(send, sse("{}", event="ping"))
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the subscriber went away mid-send
        finally:
            channel.subscribers.discard(subscriber)
            channel.active = self.clock()
            for watcher in watchers:
                watcher.cancel()


class Relay(BackgroundServer):
    """`qodlab relay` in a background thread: a relay server on 127.0.0.1 (a free port by default).

    Re-running the cell (or line) that made it starts it afresh in its place, on its port (its
    channels are gone), with a `SettingsChanged` warning naming what changed; a `Relay()` written on
    another line is another relay, beside it (`Relay._reruns`: see `qodlab._net.server.Reruns`).

    Parameters:
        buffer: messages each channel keeps for subscribers that reconnect.
        max_bytes, max_channels, idle: the limits (see the module's docstring).
        certfile, keyfile: serve HTTPS with this certificate.
        forwarded_allow_ips: behind a TLS-terminating proxy, its addresses (comma-separated, "*" for any):
            `/new` then redirects to the scheme and host it forwards (X-Forwarded-Proto/Host).
        allowed_hosts: host names it answers to besides loopback's (a deployed or LAN name; `qodlab._net.hosts`).
        reuse: False starts another relay that no re-run replaces.

    Re-running the cell (or line) that made it starts it afresh in its place (same URL; its channels
    are gone), with a `SettingsChanged` warning naming what changed; one written on another line is
    another relay, beside it. A stopped one's `new_channel()` raises ServerStopped.
    """

    _held = "its channels"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        buffer: int = 1000,
        max_bytes: int = MAX_BYTES,
        max_channels: int = MAX_CHANNELS,
        idle: float = IDLE,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        reuse: bool = True,
        forwarded_allow_ips: str | None = None,
        allowed_hosts: Sequence[str] = (),
        per_address: int = PER_ADDRESS,
    ) -> None:
        self.app = RelayApp(
            buffer,
            max_bytes=max_bytes,
            max_channels=max_channels,
            idle=idle,
            forwarded_allow_ips=forwarded_allow_ips,
            per_address=per_address,
        )
        self._server = ServerThread(
            self.app, host, port, name="qodlab-relay", certfile=certfile, keyfile=keyfile, allowed_hosts=allowed_hosts
        )
        self.start()

    def __repr__(self) -> str:
        state = self._server.state.name.lower()
        return f"<Relay {self.url} {len(self.app.channels)} channels, {self.app.relayed} relayed, {state}>"

    def _repr_html_(self) -> str:
        """A card: where, how many channels (never their names: each is a capability), how much relayed."""
        from ..notebook.display import card, plural, server_rows

        rows = server_rows(
            self.url,
            self._server.state.name.lower(),
            [
                ("channels", plural(len(self.app.channels), "channel")),
                ("relayed", plural(self.app.relayed, "message")),
            ],
        )
        return card("Relay", rows)

    @property
    def url(self) -> str:
        """The server's root, e.g. `http://127.0.0.1:8123`; channels are `{url}/{name}`."""
        return self._server.url

    def new_channel(self) -> str:
        """A fresh channel's URL."""
        return f"{self.url}/{channel_name()}"

    def stop(self) -> None:
        """End the open streams, then stop serving and free the port."""
        self.app.close()
        super().stop()


_STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # a reverse proxy in front must not buffer the stream
]


def _last_id(headers: dict[str, str]) -> int:
    value = headers.get("last-event-id", "")
    return int(value) if value.isdigit() else 0


async def _chunk(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_body(receive: Receive) -> bytes | None:
    chunks, size, more = [], 0, True
    while more:
        received = await receive()
        if received["type"] == "http.disconnect":
            return b""
        chunk = received.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        more = received.get("more_body", False)
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"text/plain"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
