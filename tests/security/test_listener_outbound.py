"""The listener's own outbound requests (issue #32): its relay stream and probes, a relay's `/new`, the JWK set it
checks PRIVATE_KEY_JWT assertions against. They follow the sandbox's outbound policy: no redirect, the address
checked after DNS resolution at connect time (loopback allowed, link-local and metadata never), an answer read up to
a cap, a relay stream read message by message with a cap on each."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from qodlab._net.server import ServerThread
from qodlab.errors import TransportError
from qodlab.receiving.tokenserver import GrantRefused, TokenServer
from qodlab.relay import subscriber
from qodlab.relay.subscriber import Subscription, new_channel

from ..conftest import wait_until

METADATA_NAME = "metadata.rebind.test"  # a name a hostile DNS answers with the cloud's metadata address
LOOPBACK_NAME = "relay.rebind.test"  # a name that resolves to loopback: allowed, as a laptop's relay


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names looked up; two hostile ones answered (DNS is outside the project), the rest as usual."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        host = host.decode() if isinstance(host, bytes) else host  # anyio passes the IDNA-encoded bytes
        asked.append(host)
        if host == METADATA_NAME:
            return real("169.254.169.254", port, *args, **kwargs)
        if host == LOOPBACK_NAME:
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


class Hostile:
    """A loopback server playing a hostile relay / JWK set host; counts the bytes it streamed."""

    def __init__(self) -> None:
        self.streamed = 0
        self.hits: list[str] = []
        self.done = threading.Event()
        self.server = ServerThread(None, name="test-hostile", allowed_hosts=[LOOPBACK_NAME])

        def endless(size: int, then: bytes = b"") -> StreamingResponse:
            async def chunks() -> AsyncIterator[bytes]:
                block = b"x" * 65536
                for _ in range(size // len(block)):
                    self.streamed += len(block)
                    yield block
                    await asyncio.sleep(0)
                yield then
                self.done.set()
                for _ in range(600):  # then keep the stream open, bounded (the test stops it first)
                    await asyncio.sleep(0.05)

            return StreamingResponse(chunks(), media_type="text/event-stream")

        async def channel(request: Request) -> Response:
            self.hits.append(request.url.path)
            if request.method == "POST":
                return Response(status_code=200)
            # one endless message (no end of line), then a real one
            real = b'\n\nid: 7\nevent: message\ndata: {"body": {"hello": 1}, "x-real": "1"}\n\n'
            return endless(4 * 1024 * 1024, b"\n\n" + real)

        async def huge(request: Request) -> Response:
            self.hits.append(request.url.path)
            stream = endless(48 * 1024 * 1024)
            if request.url.path == "/new":
                stream.status_code = 302
                stream.headers["location"] = "/channel-x"
            return stream

        self.server.app = Starlette(
            routes=[
                Route("/channel", channel, methods=["GET", "POST"]),
                Route("/new", huge),
                Route("/jwks", huge),
            ]
        )
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    yield server
    server.server.stop()


def _follow(url: str) -> tuple[Subscription, list[dict[str, Any]], asyncio.AbstractEventLoop, threading.Thread]:
    handled: list[dict[str, Any]] = []

    async def handle(data: dict[str, Any]) -> None:
        handled.append(data)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    sub = Subscription(url, handle, probe=(), backoff=0.05, max_backoff=0.2)
    loop.call_soon_threadsafe(sub.start)
    return sub, handled, loop, thread


def _stop(sub: Subscription, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    asyncio.run_coroutine_threadsafe(sub.stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def test_a_relay_whose_name_resolves_to_the_metadata_address_is_never_connected_to(dns: list[str]) -> None:
    sub, handled, loop, thread = _follow(f"http://{METADATA_NAME}:8080/channel")
    try:
        wait_until(lambda: any("link-local or cloud metadata" in e for e in sub.errors), message="the refusal")
        assert not sub.connected.is_set() and sub.connections == 0 and not handled
        assert METADATA_NAME in dns  # refused after resolving, at connect time
    finally:
        _stop(sub, loop, thread)
    with pytest.raises(TransportError):  # a relay's /new there: unreachable, said as such
        new_channel(f"http://{METADATA_NAME}:8080", timeout=5)


def test_a_relay_on_a_loopback_name_is_followed(dns: list[str], hostile: Hostile) -> None:
    sub, handled, loop, thread = _follow(hostile.url.replace("127.0.0.1", LOOPBACK_NAME) + "/channel")
    try:
        wait_until(lambda: handled, timeout=30, message="the real message")
        assert LOOPBACK_NAME in dns
    finally:
        _stop(sub, loop, thread)


def test_an_endless_relay_message_is_skipped_unkept_and_the_next_one_is_handled(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscriber, "MAX_MESSAGE_BYTES", 256 * 1024)  # 4 MiB sent: sixteen times the cap
    sub, handled, loop, thread = _follow(f"{hostile.url}/channel")
    try:
        wait_until(lambda: handled, timeout=30, message="the message after the endless one")
        assert handled == [{"body": {"hello": 1}, "x-real": "1"}] and sub.last_id == 7
        assert any(f"over {256 * 1024} bytes: skipped" in e for e in sub.errors), list(sub.errors)
        assert sub.connections == 1  # the stream was kept: nothing replayed, nothing lost
    finally:
        _stop(sub, loop, thread)


def test_a_relays_new_channel_answer_is_not_read_whole(hostile: Hostile) -> None:
    started = time.monotonic()
    channel = new_channel(hostile.url, timeout=10)
    assert channel == f"{hostile.url}/channel-x"
    assert hostile.streamed < 16 * 1024 * 1024 and not hostile.done.is_set(), (
        hostile.streamed,
        time.monotonic() - started,
    )


def _assertion(kid: str) -> str:
    from joserfc import jwt
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256", parameters={"kid": kid})
    now = int(time.time())
    claims = {"iss": "c", "sub": "c", "aud": "https://x/token", "exp": now + 60, "iat": now, "jti": "j1"}
    return jwt.encode({"alg": "ES256", "kid": kid}, claims, key)


def _grant(server: TokenServer) -> GrantRefused:
    form = {
        "grant_type": "client_credentials",
        "client_assertion": _assertion("k1"),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    with pytest.raises(GrantRefused) as refused:
        asyncio.run(server.grant(form))
    return refused.value


def test_a_huge_jwk_set_is_read_up_to_the_cap(hostile: Hostile) -> None:
    refused = _grant(TokenServer("c", "https://x/token", f"{hostile.url}/jwks"))
    assert refused.status == 401 and "JWK set could not be read" in refused.description
    assert hostile.streamed < 16 * 1024 * 1024 and not hostile.done.is_set()  # before: all 48 MiB were read


def test_a_jwk_set_at_a_metadata_address_is_never_fetched(dns: list[str]) -> None:
    refused = _grant(TokenServer("c", "https://x/token", f"http://{METADATA_NAME}/jwks"))
    assert refused.status == 401 and METADATA_NAME in dns
    literal = _grant(TokenServer("c", "https://x/token", "http://169.254.169.254/latest/meta-data"))
    assert literal.status == 401


def test_a_policy_refusing_loopback_keeps_the_listener_off_a_name_that_resolves_there(
    dns: list[str], hostile: Hostile
) -> None:
    """The check is on the address connected to, whatever the name: with loopback refused, a name resolving to a
    live loopback server never reaches it, for the relay stream, a relay's /new and the JWK set alike."""
    from qodlab._net.outbound import OutboundPolicy

    strict = OutboundPolicy(loopback=False, private=True)
    at = hostile.url.replace("127.0.0.1", LOOPBACK_NAME)
    with pytest.raises(TransportError):
        new_channel(at, timeout=5, policy=strict)
    refused = _grant(TokenServer("c", "https://x/token", f"{at}/jwks", policy=strict))
    assert refused.status == 401
    handled: list[dict[str, Any]] = []

    async def follow() -> list[str]:
        async def handle(data: dict[str, Any]) -> None:
            handled.append(data)

        sub = Subscription(f"{at}/channel", handle, probe=(), backoff=0.05, policy=strict)
        sub.start()
        for _ in range(200):  # bounded: the refusal is said within a few tries
            if sub.errors:
                break
            await asyncio.sleep(0.02)
        await sub.stop()
        return list(sub.errors)

    errors = asyncio.run(follow())
    assert any("loopback address, not allowed here" in e for e in errors), errors
    assert hostile.hits == [] and not handled and LOOPBACK_NAME in dns
