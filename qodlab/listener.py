"""`Listener`: the webhook that receives QoS notifications in the background.

A plain ASGI app on the shared background runner: the hot path is small enough that a framework
would only add cost (benchmarks/listener.py). It checks the bearer token in constant time,
accepts every shape of `notifications`, stores each event once in an `EventLog`, and answers
every bad request with a CAMARA error body, recording why in `rejections`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ._server import BackgroundServer, ServerThread
from .eventlog import EventLog
from .notifications import NotificationError, StatusEvent, parse_notification

__all__ = ["MAX_BODY", "Listener", "Rejection"]

MAX_BODY = 1024 * 1024  # bytes
_GROUP_COMMIT = 0.0002  # seconds a durable event waits for others to share its commit
_JSON_TYPES = (b"application/json", b"application/cloudevents+json")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A request the listener refused (no secrets: never the token or the Authorization header)."""

    time: datetime
    status: int
    code: str
    reason: str
    method: str
    path: str
    client: str
    content_type: str
    size: int


class _Refused(Exception):
    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


class Listener(BackgroundServer):
    """Receives notifications on `url` (127.0.0.1, a free port) and feeds `log`.

    Re-running `Listener(...)` for the same host, port and path returns the running one (given a
    new `log` or `token`, it switches to them). `stop()` frees the port; `start()` comes back on
    the same one.

    Parameters:
        log: the EventLog to feed (a new in-memory one by default).
        token: the bearer token senders must present; a random secret when not given.
        require_token: False accepts requests without a token (some providers send none).
        path: where notifications are POSTed.
    """

    def __new__(
        cls, log: EventLog | None = None, *, host: str = "127.0.0.1", port: int = 0, path: str = "/qod", **_: Any
    ) -> Listener:
        return cls._running_or_new((host, port, path))

    def __init__(
        self,
        log: EventLog | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/qod",
        token: str | None = None,
        require_token: bool = True,
        max_rejections: int = 10_000,
    ) -> None:
        if self._initialised:
            if log is not None:
                self.log = log
            if token is not None:
                self._token = _bare(token)
            return
        self._initialised = True
        self._key = (host, port, path)
        self.log = log if log is not None else EventLog()
        self.path = path if path.startswith("/") else f"/{path}"
        self.require_token = require_token
        self._token = _bare(token) if token else secrets.token_urlsafe(24)
        self.token_generated = token is None
        self._rejections: deque[Rejection] = deque(maxlen=max_rejections)
        self._pending: list[tuple[StatusEvent, str, asyncio.Future[bool]]] = []
        self._lock = threading.Lock()
        self.accepted = 0
        self.duplicates = 0
        self._server = ServerThread(self._app, host, port, name="qodlab-listener")
        self.start()

    def __repr__(self) -> str:
        return f"<Listener {self.url} token=*** {self._server.state.name.lower()} {self.accepted} accepted>"

    @property
    def url(self) -> str:
        """The full notification URL, e.g. `http://127.0.0.1:8123/qod`."""
        return f"{self._server.url}{self.path}"

    @property
    def token(self) -> str:
        """The bearer token senders must present (give it as the session's sink credential)."""
        return self._token

    @property
    def rejections(self) -> pd.DataFrame:
        """Every refused request: time, status, code, reason, method, path, client, content type, size."""
        with self._lock:
            rows = [asdict(r) for r in self._rejections]
        frame = pd.DataFrame(rows, columns=list(Rejection.__dataclass_fields__))
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame

    def recent_rejections(self, limit: int = 20) -> list[Rejection]:
        """The newest refused requests first."""
        with self._lock:
            return list(self._rejections)[-limit:][::-1]

    # -- the ASGI app ----------------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        try:
            status = await self._handle(scope, headers, receive)
        except _Refused as refused:
            self._reject(scope, headers, refused)
            body = json.dumps({"status": refused.status, "code": refused.code, "message": refused.reason}).encode()
            extra = [(b"allow", b"POST")] if refused.status == 405 else []
            await _respond(send, refused.status, body, extra)
            return
        await _respond(send, status, b"")

    async def _handle(self, scope: Scope, headers: dict[bytes, bytes], receive: Receive) -> int:
        if scope["path"].rstrip("/") != self.path.rstrip("/"):
            raise _Refused(404, "NOT_FOUND", f"No notification endpoint at {scope['path']}; POST to {self.path}.")
        if scope["method"] != "POST":
            raise _Refused(405, "METHOD_NOT_ALLOWED", f"{scope['method']} is not allowed; notifications are POSTed.")
        self._check_token(headers.get(b"authorization"))
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind not in _JSON_TYPES:
            raise _Refused(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"Content-Type {kind.decode(errors='replace') or '(none)'} is not "
                "application/json or application/cloudevents+json.",
            )
        body = await _read_body(headers, receive)
        try:
            decoded = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Refused(400, "INVALID_ARGUMENT", f"Malformed JSON: {exc}.") from None
        try:
            event = parse_notification(decoded, datetime.now(UTC))
        except NotificationError as exc:
            code = "INVALID_ARGUMENT" if exc.status == 400 else "UNPROCESSABLE_ENTITY"
            raise _Refused(exc.status, code, exc.message) from None
        try:
            stored = await self._store(event, body.decode())
        except Exception as exc:  # e.g. the disk is full: do not acknowledge what is not stored
            raise _Refused(503, "UNAVAILABLE", f"The event could not be stored ({type(exc).__name__}).") from None
        with self._lock:
            self.accepted += stored
            self.duplicates += not stored
        return 204

    async def _store(self, event: StatusEvent, raw: str) -> bool:
        """Append to the log; with a file, in a group commit with the other events arriving now."""
        if not self.log.durable:
            return self.log.append(event, raw)  # memory only: nothing to wait for
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((event, raw, future))
        if len(self._pending) == 1:
            # The events that arrive within the next 0.2 ms share one SQLite transaction,
            # and each is on disk before its 204 goes out: under load a commit serves dozens.
            asyncio.get_running_loop().call_later(_GROUP_COMMIT, self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            results = self.log.append_many([(event, raw) for event, raw, _ in batch])
        except Exception as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), new in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(new)

    def _check_token(self, header: bytes | None) -> None:
        if not self.require_token:
            return
        if not header:
            raise _Refused(401, "UNAUTHENTICATED", "Missing Authorization header: a bearer token is required.")
        scheme, _, given = header.partition(b" ")
        # compare_digest takes as long for any wrong token as for the right one
        if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self._token.encode()):
            raise _Refused(401, "UNAUTHENTICATED", "Invalid bearer token.")

    def _reject(self, scope: Scope, headers: dict[bytes, bytes], refused: _Refused) -> None:
        client = scope.get("client") or ("", 0)
        rejection = Rejection(
            time=datetime.now(UTC),
            status=refused.status,
            code=refused.code,
            reason=refused.reason,
            method=scope["method"],
            path=scope["path"],
            client=f"{client[0]}:{client[1]}",
            content_type=headers.get(b"content-type", b"").decode(errors="replace")[:100],
            size=int(headers.get(b"content-length", b"0") or 0) if headers.get(b"content-length", b"").isdigit() else 0,
        )
        with self._lock:
            self._rejections.append(rejection)


def _bare(token: str) -> str:
    """A token given as `Bearer x` is `x`."""
    return token[7:] if token[:7].lower() == "bearer " else token


async def _read_body(headers: dict[bytes, bytes], receive: Receive) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise _Refused(413, "PAYLOAD_TOO_LARGE", f"Body of {int(declared)} bytes is over the {MAX_BODY} byte limit.")
    first = await receive()
    if first["type"] == "http.request" and not first.get("more_body", False):
        body: bytes = first.get("body", b"")  # the usual case: the whole body in one message
        if len(body) > MAX_BODY:
            raise _Refused(413, "PAYLOAD_TOO_LARGE", f"Body is over the {MAX_BODY} byte limit.")
        return body
    chunks, size, more, pending = [], 0, True, [first]
    while more:
        message = pending.pop() if pending else await receive()
        if message["type"] == "http.disconnect":
            raise _Refused(400, "INVALID_ARGUMENT", "The client disconnected before sending the body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _Refused(413, "PAYLOAD_TOO_LARGE", f"Body is over the {MAX_BODY} byte limit.")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-length", str(len(body)).encode())] + (extra or [])
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
