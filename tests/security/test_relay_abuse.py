"""The relay under abuse (issue #32): a flood of fresh channel names from one address is cut off at the address's
allowance without locking newcomers out, a full table makes room by evicting the longest-idle channel, forwarded
addresses count only from trusted proxies, and a client that sends its headers slowly is hung up on."""

from __future__ import annotations

import socket
import time

import httpx

from qodlab import Relay
from qodlab._net.server import ServerThread
from qodlab.relay.server import RelayApp

from ..conftest import wait_until


def test_a_flood_of_fresh_channels_from_one_address_does_not_lock_newcomers_out() -> None:
    with Relay(reuse=False, max_channels=50, per_address=20) as relay, httpx.Client(timeout=5) as http:
        answers = [http.post(f"{relay.url}/flood-{n}", json={}).status_code for n in range(200)]
        assert answers[:20] == [200] * 20 and set(answers[20:]) == {429}  # the flooder's allowance, then 429
        assert len(relay.app.channels) == 20
    with Relay(reuse=False, max_channels=10) as full, httpx.Client(timeout=5) as http:
        for n in range(10):
            assert http.post(f"{full.url}/old-{n}", json={}).status_code == 200
        assert http.post(f"{full.url}/newcomer", json={}).status_code == 200  # the longest idle made room
        assert "newcomer" in full.app.channels and "old-0" not in full.app.channels


def test_forwarded_addresses_count_only_from_a_trusted_proxy() -> None:
    untrusted = RelayApp(per_address=2)
    scope = {"client": ("127.0.0.1", 5000)}
    spoofed = {"x-forwarded-for": "203.0.113.9"}
    assert untrusted._client(scope, spoofed) == "127.0.0.1"  # a client cannot pick its own address
    proxied = RelayApp(per_address=2, forwarded_allow_ips="127.0.0.1")
    assert proxied._client(scope, {"x-forwarded-for": "198.51.100.1, 203.0.113.9"}) == "203.0.113.9"  # the proxy's


def test_a_client_that_sends_its_headers_slowly_is_hung_up_on() -> None:
    server = ServerThread(RelayApp(), header_timeout=0.5, name="slow-headers")
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as slow:
            slow.sendall(b"GET /new HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
            started = time.monotonic()
            assert slow.recv(1024) == b""  # closed by the server (a timeout here raises instead)
            assert time.monotonic() - started < 5
        answer = httpx.get(f"{server.url}/new")  # a prompt client is served as before
        assert answer.status_code == 307
        wait_until(lambda: server.state.name == "RUNNING")
    finally:
        server.stop()
