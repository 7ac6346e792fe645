"""`Relay`: a relay server of qodlab's own, speaking smee.io's protocol (see `protocol`).

A plain ASGI app, like the listener: a POST becomes one message, kept in its channel's buffer
(the last `buffer` messages) and pushed to every subscriber's stream at once. A subscriber that
reconnects with `Last-Event-ID` gets what it missed from the buffer first, so a listener that was
down loses nothing the buffer still holds. The sandbox mounts the same app at `/_relay/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

from .._asgi import Receive, Scope, Send, lifespan
from .._server import BackgroundServer, ServerThread
from .protocol import message, sse

__all__ = ["MAX_BODY", "Relay", "RelayApp", "channel_name"]

MAX_BODY = 1024 * 1024  # bytes
_CHANNEL = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def channel_name() -> str:
    """A fresh, unguessable channel name (144 random bits): whoever knows it can read the channel."""
    return secrets.token_urlsafe(18)


class Channel:
    """One channel: its newest messages with their ids, and the queues of its live subscribers."""

    def __init__(self, buffer: int) -> None:
        self.messages: deque[tuple[int, str]] = deque(maxlen=buffer)
        self.next_id = 1
        self.subscribers: set[asyncio.Queue[tuple[int, str]]] = set()

    def publish(self, data: str) -> int:
        """Keep a message and hand it to every subscriber; returns its id."""
        event_id, self.next_id = self.next_id, self.next_id + 1
        self.messages.append((event_id, data))
        for queue in self.subscribers:
            queue.put_nowait((event_id, data))
        return event_id

    def after(self, last_id: int) -> list[tuple[int, str]]:
        """The buffered messages newer than `last_id`."""
        return [(i, data) for i, data in self.messages if i > last_id]


class RelayApp:
    """The relay's ASGI app; mountable under a prefix (it honours `root_path`)."""

    def __init__(self, buffer: int = 1000, ping: float = 20.0) -> None:
        self.buffer = buffer
        self.ping = ping
        self.channels: dict[str, Channel] = {}
        self.relayed = 0
        self._closing = asyncio.Event()  # set by close(): the streams open now end
        self._loop: asyncio.AbstractEventLoop | None = None

    def channel(self, name: str) -> Channel:
        """The channel called `name`, created on first use (as on smee.io)."""
        found = self.channels.get(name)
        if found is None:
            found = self.channels[name] = Channel(self.buffer)
        return found

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
            location = f"{scope.get('scheme', 'http')}://{headers.get('host', 'localhost')}{root}/{channel_name()}"
            await _respond(send, 307, b"", [(b"location", location.encode())])
        elif not _CHANNEL.match(name):
            await _respond(send, 404, b"No such channel: channel names are letters, digits, '-' and '_'.\n")
        elif method == "POST":
            await self._post(name, scope, headers, receive, send)
        elif method == "GET" and "text/event-stream" in headers.get("accept", ""):
            await self._stream(self.channel(name), _last_id(headers), receive, send)
        elif method in ("GET", "HEAD"):
            await _respond(send, 200, b"qodlab relay channel: POST to it, or GET it with Accept: text/event-stream\n")
        else:
            await _respond(send, 405, b"POST or GET\n", [(b"allow", b"GET, POST")])

    async def _post(self, name: str, scope: Scope, headers: dict[str, str], receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, f"Body over the {MAX_BODY} byte limit.\n".encode())
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        self.channel(name).publish(json.dumps(message(headers, body, query), separators=(",", ":")))
        self.relayed += 1
        await _respond(send, 200, b"ok")

    async def _stream(self, channel: Channel, last_id: int, receive: Receive, send: Send) -> None:
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        channel.subscribers.add(queue)  # before the replay, so nothing falls between the two
        watchers = [asyncio.ensure_future(_disconnected(receive)), asyncio.ensure_future(self._closing.wait())]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _STREAM_HEADERS})
            await _chunk(send, sse("{}", event="ready"))
            for event_id, data in channel.after(last_id):
                await _chunk(send, sse(data, event_id=event_id))
                last_id = event_id
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    [getter, *watchers], timeout=self.ping, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                if any(w in done for w in watchers):
                    break
                if getter in done:
                    event_id, data = getter.result()
                    if event_id > last_id:
                        await _chunk(send, sse(data, event_id=event_id))
                        last_id = event_id
                else:
                    await _chunk(send, sse("{}", event="ping"))
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the subscriber went away mid-send
        finally:
            channel.subscribers.discard(queue)
            for watcher in watchers:
                watcher.cancel()


class Relay(BackgroundServer):
    """`qodlab relay` in a background thread: a relay server on 127.0.0.1 (a free port by default).

    Parameters:
        buffer: messages each channel keeps for subscribers that reconnect.
        certfile, keyfile: serve HTTPS with this certificate.
    """

    def __new__(cls, host: str = "127.0.0.1", port: int = 0, **_: Any) -> Relay:
        return cls._running_or_new((host, port))

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        buffer: int = 1000,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
    ) -> None:
        if self._initialised:
            return
        self._initialised = True
        self._key = (host, port)
        self.app = RelayApp(buffer)
        self._server = ServerThread(self.app, host, port, name="qodlab-relay", certfile=certfile, keyfile=keyfile)
        self.start()

    def __repr__(self) -> str:
        state = self._server.state.name.lower()
        return f"<Relay {self.url} {len(self.app.channels)} channels, {self.app.relayed} relayed, {state}>"

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
