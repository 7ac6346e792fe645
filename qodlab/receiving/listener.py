"""`Listener`: the webhook that receives QoS notifications in the background.

A plain ASGI app on the shared background runner: the hot path is small enough that a framework
would only add cost (benchmarks/listener.py). It checks the bearer token in constant time,
accepts every shape of `notifications`, stores each event once in an `EventLog`, and answers
every bad request with a CAMARA error body, recording why in `rejections`.

A network cannot reach 127.0.0.1. With `relay=` the listener also follows a relay channel
(`qodlab.relay`) and treats each message exactly as a POST: the same token check, shapes,
duplicates, rejections and durable commit. With `public_url=` (a tunnel or a reverse proxy in
front) it only says so in `url`; `certfile`/`keyfile` serve HTTPS.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .._net.asgi import Receive, Scope, Send
from .._net.bearer import bearer_token, is_b64token
from .._net.safejson import TooDeep, loads
from .._net.server import BackgroundServer, ServerThread, _warn
from ..errors import InvalidRequest, RelayRefuses, ServerStartError
from ..eventlog import EventLog
from ..notifications import NotificationError, StatusEvent, parse_notification
from ..relay import Subscription, default_relay, new_channel
from ..relay.probe import CLOUDEVENTS, RELAY_ADVICE, Refusal
from ..relay.protocol import to_request
from .tokenserver import GrantRefused, TokenServer

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

__all__ = ["MAX_BODY", "Listener", "Rejection", "listener_at"]

MAX_BODY = 1024 * 1024  # bytes
_GROUP_COMMIT = 0.0002  # seconds a durable event waits for others to share its commit
_JSON_TYPES = (b"application/json", b"application/cloudevents+json")
_BATCH = b"application/cloudevents-batch+json"
logger = logging.getLogger("qodlab")


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

    def __str__(self) -> str:
        """One line: what was refused and why (as `qodlab listen` prints it)."""
        return f"refused {self.method} {self.path} from {self.client}: {self.status} {self.code} {self.reason}"


class _Answer(Exception):
    """A complete answer other than a notification's (the token endpoint's)."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status, self.body = status, body


class _Refused(Exception):
    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


class Listener(BackgroundServer):
    """Receives notifications on `url` (127.0.0.1, a free port) and feeds `log`.

    Re-running the cell (or line) that made it starts it afresh in its place, feeding the log the
    cell gives now (the same URL, unless it follows a relay; its generated token and relay channel
    are kept, so sessions naming it still reach it), with a `SettingsChanged` warning naming what
    changed; a `Listener(log_b)` written on another line is another listener, beside it, and
    `log_a`'s listener goes on feeding `log_a`. `reuse=False` starts one that no re-run replaces.
    `stop()` frees the port; `start()` comes back on the same one; a `with` block stops it on exit.
    Every other method of a stopped one raises ServerStopped, naming the one that replaced it.
    (`Listener._reruns` holds the running ones by where each was written: see `qodlab._net.server.Reruns`.)

    Parameters:
        log: the EventLog to feed (a new in-memory one by default).
        token: the bearer token senders must present; a random secret when not given.
        require_token: False accepts requests without a token (some providers send none).
        path: where notifications are POSTed.
        relay: also take notifications from this relay channel URL; True opens a fresh channel on
            `qodlab.relay.default_relay()` (smee.io unless $QODLAB_RELAY names another server).
            Whoever knows the channel URL can read what the network sends, its token included.
        public_url: the URL the network should POST to, when a tunnel or proxy forwards it here.
        certfile, keyfile: serve HTTPS with this certificate.
        cafile: trust this CA when connecting to an https relay.
        relay_timeout: seconds `start()` waits for the relay stream to open.
        jwks_uri: accept PRIVATE_KEY_JWT tokens from the provider whose keys are there (`accept_private_key_jwt`).
        reuse: False starts a new listener even when one with these settings runs, and no later
            `Listener(...)` is given it.
        allowed_hosts: host names it answers to besides loopback's (a deployed or LAN name; `qodlab._net.hosts`).
    """

    _secret = frozenset({"token"})
    token_generated: bool
    """Whether its token was made at random (no `token=` given)."""
    _held = "its relay stream and rejections; events stay in their log"
    _usable_stopped = frozenset({"start", "stop", "on_rejection", "refusals_note", "relay_refusal"})

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
        relay: str | bool | None = None,
        public_url: str | None = None,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        cafile: str | None = None,
        relay_timeout: float = 15.0,
        jwks_uri: str | None = None,
        reuse: bool = True,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        if token and not is_b64token(_bare(token)):  # no header could carry it (RFC 6750's b64token)
            raise InvalidRequest("token: only letters, digits and -._~+/ (then any = signs) can be sent", "token")
        self.log = _event_log(log)
        self.log.fed_by(self)  # a wait on the log that times out can then say what this listener refused
        self._on_rejection: list[Callable[[Rejection], None]] = []
        self.path = path if path.startswith("/") else f"/{path}"
        self.require_token = require_token
        # A restart keeps what the unchanged settings made at random (the token, the relay channel),
        # so sessions that already name this listener as their sink still reach it.
        previous = self._previous if isinstance(self._previous, Listener) else None
        kept = previous.token if previous is not None and previous.token_generated and token is None else None
        self._token = _bare(token) if token else kept or secrets.token_urlsafe(24)
        self.token_generated = token is None
        self._rejections: deque[Rejection] = deque(maxlen=max_rejections)
        self._pending: list[tuple[StatusEvent, str, asyncio.Future[bool]]] = []
        self._lock = threading.Lock()
        self.accepted = 0
        self.duplicates = 0
        self.public_url = public_url
        self.relay_timeout = relay_timeout
        self._warned = False
        self._follow_relay(relay, previous, cafile)
        self._cafile = cafile
        self.tokens: TokenServer | None = None
        """With PRIVATE_KEY_JWT: its authorization server (`accept_private_key_jwt`); None otherwise."""
        self._server = self._server_thread(host, port, certfile, keyfile, allowed_hosts)
        self.start()
        if jwks_uri is not None:
            self.accept_private_key_jwt(jwks_uri)

    def _follow_relay(self, relay: str | bool | None, previous: Listener | None, cafile: str | None) -> None:
        """Follow the relay channel given, or with `relay=True` the one a restart kept, else a new one."""
        self.subscription: Subscription | None = None
        """The relay channel it follows (None without a relay)."""
        if relay:
            channel = str(relay)
            if relay is True:
                followed = previous.subscription if previous is not None and previous.settings.relay is True else None
                channel = followed.url if followed is not None else new_channel(default_relay(), cafile=cafile)
            self.subscription = Subscription(channel, self._relayed, cafile=cafile, on_skip=self._skipped)

    def _server_thread(
        self,
        host: str,
        port: int,
        certfile: str | os.PathLike[str] | None,
        keyfile: str | os.PathLike[str] | None,
        allowed_hosts: Sequence[str],
    ) -> ServerThread:
        """The server of its ASGI app."""
        return ServerThread(
            self._app,
            host,
            port,
            name="qodlab-listener",
            certfile=certfile,
            keyfile=keyfile,
            allowed_hosts=allowed_hosts,
        )

    def __repr__(self) -> str:
        state = f"{self._server.state.name.lower()} {self.accepted} accepted"
        if self.subscription is not None:
            # The channel URL is as secret as the token: anyone who has it can read both.
            channel = _masked(self.subscription.url)
            return f"<Listener relay {channel} (public: anyone with the channel URL reads it) token=*** {state}>"
        return f"<Listener {self.url} token=*** {state}>"

    def _repr_html_(self) -> str:
        """A card: where notifications come in (a relay channel masked), what it accepted; never the token."""
        from ..notebook.display import card, plural, server_rows

        where = _masked(self.subscription.url) + " (relay)" if self.subscription is not None else self.url
        rows = server_rows(
            where,
            self._server.state.name.lower(),
            [
                ("accepted", plural(self.accepted, "notification")),
                ("token", "*** (required: Bearer)"),
            ],
        )
        return card("Listener", rows)

    def start(self) -> Listener:
        """Start serving, and following the relay; returns once the relay stream is open and probed.

        A relay that refuses `application/cloudevents+json` (smee.io) is a `RelayRefuses` warning.
        """
        started = time.monotonic()
        super().start()
        if self.subscription is not None and not self.subscription.connected.wait(self.relay_timeout):
            errors = list(self.subscription.errors)
            self.stop()
            reason = errors[-1] if errors else "no answer"
            msg = f"cannot follow relay {_masked(self.subscription.url)} within {self.relay_timeout:g} s: {reason}"
            raise ServerStartError(msg)
        if self.subscription is not None:
            self._await_probe(self.subscription, started)
        return self

    def _await_probe(self, subscription: Subscription, started: float) -> None:
        """Wait (within relay_timeout) for what the relay said to the probe; warn once if it refuses CAMARA's type."""
        subscription.probed.wait(max(0.0, started + self.relay_timeout - time.monotonic()))
        refusal = subscription.refusal(CLOUDEVENTS)
        if refusal is not None and not self._warned:
            self._warned = True
            said = (
                f"{refusal}, which CAMARA QoD 0.10 and 1.x providers (and the sandbox) send: their notifications "
                f"cannot come through it. {RELAY_ADVICE}; a Workbench polls meanwhile."
            )
            _warn(said, RelayRefuses)

    def relay_refusal(self, content_type: str = CLOUDEVENTS) -> Refusal | None:
        """Why its relay will not carry notifications sent as `content_type`, or None (it does; no relay; not known)."""
        return self.subscription.refusal(content_type) if self.subscription is not None else None

    @property
    def url(self) -> str:
        """The URL to give as the sink: the relay channel, the public URL, or the loopback one."""
        if self.subscription is not None:
            return self.subscription.url
        return self.public_url or self.local_url

    @property
    def local_url(self) -> str:
        """Where it serves on this machine, e.g. `http://127.0.0.1:8123/qod`."""
        return f"{self._server.url}{self.path}"

    @property
    def how(self) -> str:
        """How notifications reach it, in words (for a dashboard's header)."""
        if self.subscription is not None:
            host = urlsplit(self.subscription.url).hostname or "?"
            refusal = self.relay_refusal()
            refused = f": {refusal}, which CAMARA providers send" if refusal is not None else ""
            return f"relay via {host}, token checked{refused}"
        if self.public_url is not None:
            return f"public URL {urlsplit(self.public_url).hostname}, token checked"
        return f"direct to {urlsplit(self.local_url).netloc}, token checked"

    @property
    def token(self) -> str:
        """The bearer token senders must present (give it as the session's sink credential)."""
        return self._token

    @property
    def token_url(self) -> str:
        """Its token endpoint (PRIVATE_KEY_JWT), beside the notification path: `{url}/token`."""
        return f"{(self.public_url or self.local_url).rstrip('/')}/token"

    def accept_private_key_jwt(self, jwks_uri: str, client_id: str | None = None, ttl: float = 300.0) -> TokenServer:
        """Be the consumer's authorization server for PRIVATE_KEY_JWT notifications.

        The token endpoint (`token_url`) then grants short-lived access tokens to a provider whose
        client assertion verifies against `jwks_uri`, and the notification path takes only those
        tokens. A relay cannot carry a token request (it is one-way): the provider must reach this
        listener, directly or at its public URL.
        """
        if self.subscription is not None and self.public_url is None:
            msg = "PRIVATE_KEY_JWT needs the provider to reach the token endpoint: a relay is one-way"
            raise ValueError(msg)
        if self.tokens is None:
            self.tokens = TokenServer(
                client_id or f"qodlab-{secrets.token_hex(6)}", self.token_url, jwks_uri, ttl=ttl, cafile=self._cafile
            )
        else:
            self.tokens.jwks_uri = jwks_uri
        return self.tokens

    def sink_credential(self, kind: str = "accesstoken") -> dict[str, Any]:
        """What a create body's `sinkCredential` needs to reach this listener.

        "accesstoken": `{credentialType: ACCESSTOKEN, accessToken, accessTokenType, ...}` (its token);
        "private_key_jwt": `{credentialType: PRIVATE_KEY_JWT, clientId, tokenUri}` (after
        `accept_private_key_jwt`).
        """
        if kind.lower() == "private_key_jwt":
            if self.tokens is None:
                msg = "call accept_private_key_jwt(jwks_uri) first: the listener must know the provider's keys"
                raise ValueError(msg)
            return {"credentialType": "PRIVATE_KEY_JWT", "clientId": self.tokens.client_id, "tokenUri": self.token_url}
        from ..models import AccessTokenCredential, to_wire

        return to_wire(AccessTokenCredential(access_token=self._token))

    @property
    def rejections(self) -> pd.DataFrame:
        """Every refused request: time, status, code, reason, method, path, client, content type, size."""
        import pandas as pd

        with self._lock:
            rows = [asdict(r) for r in self._rejections]
        frame = pd.DataFrame(rows, columns=list(Rejection.__dataclass_fields__))
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame

    def recent_rejections(self, limit: int = 20) -> list[Rejection]:
        """The newest refused requests first."""
        with self._lock:
            return list(self._rejections)[-limit:][::-1]

    def on_rejection(self, callback: Callable[[Rejection], None], remove: bool = False) -> None:
        """Call `callback(rejection)` on the server's thread for each refused request (`remove` to stop)."""
        if remove:
            self._on_rejection.remove(callback)
        else:
            self._on_rejection.append(callback)

    def refusals_note(self) -> str | None:
        """What it refused, in a sentence for an error message (a wait that timed out), or None."""
        with self._lock:
            count, newest = len(self._rejections), self._rejections[-1] if self._rejections else None
        if newest is None:
            return None
        what = f"{count} request{'s' if count != 1 else ''}"
        note = (
            f"the listener at {_masked(self.url) if self.subscription else self.url} refused {what}, the newest "
            f"at {newest.time:%H:%M:%S} UTC: {newest.status} {newest.code} {newest.reason}"
        )
        if newest.status == 401:
            note += " Was the sink given without its token? Pass sink=listener, or sink_token=listener.token."
        return f"{note} (listener.rejections lists them)"

    # -- the ASGI app ----------------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        try:
            status = await self._handle(scope, headers, receive)
        except _Answer as answer:  # the token endpoint's, already recorded
            extra = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
            await _respond(send, answer.status, answer.body, extra)
            return
        except _Refused as refused:
            client = scope.get("client") or ("", 0)
            self._reject(scope["method"], scope["path"], f"{client[0]}:{client[1]}", headers, refused)
            body = json.dumps({"status": refused.status, "code": refused.code, "message": refused.reason}).encode()
            extra = [(b"allow", b"POST")] if refused.status == 405 else []
            await _respond(send, refused.status, body, extra)
            return
        await _respond(send, status, b"")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.subscription is not None:
                    self.subscription.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.subscription is not None:
                    await self.subscription.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _skipped(self, reason: str) -> None:
        """A relay message the subscription could not decode: recorded as refused, as a POST of it would be."""
        path = urlsplit(self.subscription.url).path if self.subscription else ""
        self._reject("POST", _masked(path), "relay", {}, _Refused(400, "INVALID_ARGUMENT", reason))

    async def _relayed(self, data: dict[str, Any]) -> None:
        """A relay message: handled as the POST it stands for (smee-client's reconstruction)."""
        headers: dict[bytes, bytes] = {}
        try:
            headers, body = to_request(data)
            self._admit(headers)
            if len(body) > MAX_BODY:
                raise _Refused(413, "PAYLOAD_TOO_LARGE", f"Body is over the {MAX_BODY} byte limit.")
            await self._accept(body, headers)
        except Exception as exc:  # whatever a relay sends, the stream goes on
            refused = exc if isinstance(exc, _Refused) else _Refused(400, "INVALID_ARGUMENT", _unusable(exc))
            path = urlsplit(self.subscription.url).path if self.subscription else ""
            self._reject("POST", _masked(path), "relay", headers, refused)
            if refused.status == 503:
                raise  # not stored: the subscription retries it from the relay's buffer

    async def _handle(self, scope: Scope, headers: dict[bytes, bytes], receive: Receive) -> int:
        if self.tokens is not None and scope["path"].rstrip("/") == f"{self.path.rstrip('/')}/token":
            raise await self._grant(scope, headers, receive)
        if scope["path"].rstrip("/") != self.path.rstrip("/"):
            raise _Refused(404, "NOT_FOUND", f"No notification endpoint at {scope['path']}; POST to {self.path}.")
        if scope["method"] != "POST":
            raise _Refused(405, "METHOD_NOT_ALLOWED", f"{scope['method']} is not allowed; notifications are POSTed.")
        self._admit(headers)
        return await self._accept(await _read_body(headers, receive), headers)

    async def _grant(self, scope: Scope, headers: dict[bytes, bytes], receive: Receive) -> _Answer:
        """The token endpoint: an OAuth token response, or an OAuth error (recorded as a rejection)."""
        assert self.tokens is not None
        try:
            if scope["method"] != "POST":
                raise GrantRefused(405, "invalid_request", "the token endpoint takes POST")
            kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if kind != b"application/x-www-form-urlencoded":
                raise GrantRefused(400, "invalid_request", "a token request is application/x-www-form-urlencoded")
            form = dict(parse_qsl((await _read_body(headers, receive)).decode(errors="replace")))
            answer = await self.tokens.grant(form)
        except GrantRefused as refused:
            client = scope.get("client") or ("", 0)
            why = _Refused(refused.status, refused.error, refused.description)
            self._reject(scope["method"], scope["path"], f"{client[0]}:{client[1]}", headers, why)
            body = json.dumps({"error": refused.error, "error_description": refused.description}).encode()
            return _Answer(refused.status, body)
        except _Refused as refused:
            return _Answer(
                refused.status, json.dumps({"error": "invalid_request", "error_description": refused.reason}).encode()
            )
        return _Answer(200, json.dumps(answer).encode())

    def _admit(self, headers: dict[bytes, bytes]) -> None:
        """The token and the content type, checked before the body is read."""
        self._check_token(headers.get(b"authorization"))
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind == _BATCH:
            raise _Refused(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "CloudEvents batched mode (application/cloudevents-batch+json) is not accepted: CAMARA providers "
                "send one event a request; send each event in structured or binary mode.",
            )
        if kind not in _JSON_TYPES:
            raise _Refused(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"Content-Type {kind.decode(errors='replace') or '(none)'} is not "
                "application/json or application/cloudevents+json.",
            )

    async def _accept(self, body: bytes, headers: dict[bytes, bytes]) -> int:
        """Parse and store one notification body; 204, or _Refused."""
        try:
            text = body.decode()  # UTF-8, as JSON on the wire is (RFC 8259); kept as the raw body
            decoded = loads(text)
        except TooDeep as exc:
            raise _Refused(400, "INVALID_ARGUMENT", f"{exc}: not a notification.") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Refused(400, "INVALID_ARGUMENT", f"Malformed JSON: {exc}.") from None
        if b"ce-specversion" in headers:  # binary content mode: the attributes are headers, the body is `data`
            decoded = _structured(headers, decoded)
            text = json.dumps(decoded, separators=(",", ":"))
        try:
            event = parse_notification(decoded, datetime.now(UTC))
        except NotificationError as exc:
            code = "INVALID_ARGUMENT" if exc.status == 400 else "UNPROCESSABLE_ENTITY"
            raise _Refused(exc.status, code, exc.message) from None
        try:
            stored = await self._store(event, text)
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
        given = bearer_token(header)
        if self.tokens is not None:  # PRIVATE_KEY_JWT: only a token its own endpoint issued, still valid
            if given is None or not self.tokens.valid(given.encode()):
                raise _Refused(
                    401, "UNAUTHENTICATED", "Invalid or expired access token (not one this listener issued)."
                )
            return
        # compare_digest takes as long for any wrong token as for the right one
        if given is None or not hmac.compare_digest(given.encode(), self._token.encode()):
            raise _Refused(401, "UNAUTHENTICATED", "Invalid bearer token.")

    def _reject(self, method: str, path: str, client: str, headers: dict[bytes, bytes], refused: _Refused) -> None:
        rejection = Rejection(
            time=datetime.now(UTC),
            status=refused.status,
            code=refused.code,
            reason=refused.reason,
            method=method,
            path=path,
            client=client,
            content_type=headers.get(b"content-type", b"").decode(errors="replace")[:100],
            size=int(headers.get(b"content-length", b"0") or 0) if headers.get(b"content-length", b"").isdigit() else 0,
        )
        with self._lock:
            self._rejections.append(rejection)
        for callback in list(self._on_rejection):
            try:
                callback(rejection)
            except Exception:  # a callback's failure never changes the answer
                logger.exception("on_rejection callback failed")


def _event_log(log: EventLog | None) -> EventLog:
    """The log given (a new one in memory for None); a path given instead is refused, with the call it meant."""
    if log is not None and not isinstance(log, EventLog):
        hint = (
            f": Listener(EventLog({log!r})) keeps its events in that file" if isinstance(log, str | os.PathLike) else ""
        )
        raise InvalidRequest(f"log: {log!r} is not an EventLog{hint}", "log")
    return log if log is not None else EventLog()


def listener_at(url: str) -> Listener | None:
    """The running listener in this process that `url` reaches (its local, public or relay URL), or None."""
    wanted = url.rstrip("/")
    for listener in Listener._reruns.running():
        urls = (listener.url, listener.local_url, listener.public_url)
        if listener.running and any(u is not None and u.rstrip("/") == wanted for u in urls):
            return listener  # type: ignore[no-any-return]
    return None


def _unusable(exc: Exception) -> str:
    return f"An unusable relay message ({type(exc).__name__})."


def _masked(url: str) -> str:
    """A relay channel URL with all but the start of its channel name hidden."""
    head, _, channel = url.rstrip("/").rpartition("/")
    return f"{head}/{channel[:4]}…" if channel else url


def _bare(token: str) -> str:
    """A token given as `Bearer x` is `x`."""
    return bearer_token(token) or token


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


def _structured(headers: dict[bytes, bytes], data: Any) -> dict[str, Any]:
    """A binary-mode CloudEvent as the structured one it stands for: `ce-*` headers as attributes, the body as `data`.

    Header values are percent-encoded (CloudEvents HTTP binding 3.1.3.2); `content-type` is `datacontenttype`.
    """
    event: dict[str, Any] = {
        name[3:].decode("latin-1"): unquote(value.decode("latin-1"))
        for name, value in headers.items()
        if name.startswith(b"ce-") and len(name) > 3
    }
    if b"content-type" in headers:
        event["datacontenttype"] = headers[b"content-type"].decode("latin-1")
    event["data"] = data
    return event


_NO_CONTENT = (
    {"type": "http.response.start", "status": 204, "headers": [(b"content-length", b"0")]},
    {"type": "http.response.body", "body": b""},
)  # uvicorn only reads them


async def _respond(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    if status == 204 and not extra:
        await send(_NO_CONTENT[0])
        await send(_NO_CONTENT[1])
        return
    headers = [(b"content-length", str(len(body)).encode())] + (extra or [])
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
