"""A hostile sink or token endpoint cannot turn the sandbox against the machine it runs on (issue #32): redirects
are never followed, refused addresses are refused after DNS resolution, answers are read up to a cap, a slow sink
holds only its own slots, and a request body is capped."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from qodlab import Classroom, Sandbox
from qodlab._net.server import ServerThread

from ..conftest import wait_until

QOD = "/quality-on-demand/v1/sessions"
V12 = "/quality-on-demand/v1rc3/sessions"


def _body(phone: str, sink: str, **more: Any) -> dict[str, Any]:
    return {
        "device": {"phoneNumber": phone},
        "applicationServer": {"ipv4Address": "233.252.0.2"},
        "qosProfile": "QOS_L",
        "duration": 60,
        "sink": sink,
        **more,
    }


@dataclass
class Target:
    """A loopback server with a few hostile routes; records what reaches it."""

    server: ServerThread
    hits: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    streamed: list[int] = field(default_factory=lambda: [0])
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def target() -> Iterator[Target]:
    server = ServerThread(None, name="test-target")
    t = Target(server)

    async def record(request: Request) -> Response:
        t.hits.append(request.url.path)
        t.authorizations.append(request.headers.get("authorization", ""))
        return Response(status_code=204)

    async def moved(request: Request) -> Response:
        t.hits.append(request.url.path)
        return RedirectResponse(f"{t.url}/internal/admin", status_code=int(request.path_params["code"]))

    async def token(_: Request) -> Response:  # the attacker's token endpoint: sends the sandbox to an internal one
        return RedirectResponse(f"{t.url}/internal/token", status_code=307)

    async def internal_token(_: Request) -> Response:
        t.hits.append("/internal/token")
        return JSONResponse({"access_token": "internal-secret-token", "token_type": "Bearer", "expires_in": 300})

    async def huge(_: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            block = b"x" * 65536
            for _ in range(800):  # 50 MiB at most, over 4 s at least: read whole, the delivery ends after it
                t.streamed[0] += len(block)
                yield block
                await asyncio.sleep(0.005)

        return StreamingResponse(chunks(), status_code=200)

    async def slow(_: Request) -> Response:
        for _ in range(200):  # held until released (at most 10 s; the sandbox gives up at 5)
            if t.release.is_set():
                break
            await asyncio.sleep(0.05)
        return Response(status_code=204)

    server.app = Starlette(
        routes=[
            Route("/sink", record, methods=["POST"]),
            Route("/internal/token", internal_token, methods=["POST"]),
            Route("/internal/{rest:path}", record, methods=["GET", "POST"]),
            Route("/moved/{code:int}", moved, methods=["POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/huge", huge, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
        ]
    )
    server.start()
    yield t
    t.release.set()
    server.stop()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(speed=600, provisioning_delay=0, retry_backoff=0.05, reuse=False) as sb:
        yield sb


def _deliveries(sandbox: Sandbox, session_id: str) -> list[dict[str, Any]]:
    return [d.as_dict() for d in sandbox.deliveries() if d.session_id == session_id]


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirecting_sink_is_a_rejected_delivery_and_nothing_reaches_where_it_points(
    sandbox: Sandbox, target: Target, code: int
) -> None:
    # 3600 s lasts 6 s at speed 600; should it end under load, its second notification goes to the same route
    created = httpx.post(f"{sandbox.url}{QOD}", json=_body("+36700000101", f"{target.url}/moved/{code}", duration=3600))
    assert created.status_code == 201, created.text
    sid = created.json()["sessionId"]
    record = wait_until(lambda: _deliveries(sandbox, sid), message="a delivery recorded")[0]
    assert record["outcome"] == "rejected" and record["status_code"] == code
    assert "not followed" in record["error"] and "/internal/admin" in record["error"]
    assert target.hits and set(target.hits) == {f"/moved/{code}"}  # the redirect's target was never asked


def test_a_token_endpoint_that_redirects_gives_its_internal_token_to_no_sink(sandbox: Sandbox, target: Target) -> None:
    credential = {"credentialType": "PRIVATE_KEY_JWT", "clientId": "attacker", "tokenUri": f"{target.url}/token"}
    created = httpx.post(
        f"{sandbox.url}{V12}", json=_body("+36700000102", f"{target.url}/sink", sinkCredential=credential)
    )
    assert created.status_code == 201, created.text
    sid = created.json()["sessionId"]
    record = wait_until(lambda: _deliveries(sandbox, sid), message="a delivery recorded")[0]
    assert record["outcome"] in ("retry", "failed") and "redirect not followed" in record["error"]
    assert "/internal/token" not in target.hits
    assert not any("internal-secret-token" in a for a in target.authorizations)


def test_a_name_resolving_to_a_refused_address_is_refused_at_connect_time(target: Target) -> None:
    with Sandbox(speed=600, provisioning_delay=0, loopback_sinks=False, reuse=False) as strict:
        port = target.url.rsplit(":", 1)[1]
        literal = httpx.post(f"{strict.url}{QOD}", json=_body("+36700000103", f"http://127.0.0.1:{port}/sink"))
        assert literal.status_code == 400 and literal.json()["code"] == "INVALID_SINK"  # known at create time
        named = httpx.post(f"{strict.url}{QOD}", json=_body("+36700000104", f"http://localhost:{port}/sink"))
        assert named.status_code == 201, named.text  # a name: checked when resolved
        sid = named.json()["sessionId"]
        record = wait_until(lambda: _deliveries(strict, sid), message="a delivery recorded")[0]
        assert record["outcome"] == "rejected" and "refused" in record["error"] and "127.0.0.1" in record["error"]
        assert target.hits == []


@pytest.mark.parametrize(
    "sink",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/hook",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:169.254.169.254]/",
    ],
)
def test_metadata_link_local_and_private_sinks_are_refused_at_create_time(sandbox: Sandbox, sink: str) -> None:
    answer = httpx.post(f"{sandbox.url}{QOD}", json=_body("+36700000105", sink))
    assert answer.status_code == 400 and answer.json()["code"] == "INVALID_SINK", answer.text
    assert sandbox.engine.sessions() == []  # nothing created, nothing stored lost


def test_a_classroom_served_to_the_room_refuses_a_students_loopback_sink(target: Target) -> None:
    with Classroom(students=1, loopback_sinks=False) as room:  # as when served on 0.0.0.0
        ada = {"authorization": f"Bearer {room.roster.key('student-01')}"}
        port = target.url.rsplit(":", 1)[1]
        sink = f"http://127.0.0.1:{port}/internal/admin"
        body = _body(
            "+36700000106",
            sink,
            sinkCredential={
                "credentialType": "ACCESSTOKEN",
                "accessToken": "chosen",
                "accessTokenType": "bearer",
                "accessTokenExpiresUtc": "2099-01-01T00:00:00Z",
            },
        )
        answer = httpx.post(f"{room.url}{QOD}", json=body, headers=ada)
        assert answer.status_code == 400 and answer.json()["code"] == "INVALID_SINK", answer.text
    assert target.hits == []
    with Classroom(students=1) as local:  # served on loopback: every student is on this machine
        ada = {"authorization": f"Bearer {local.roster.key('student-01')}"}
        assert (
            httpx.post(f"{local.url}{QOD}", json=_body("+36700000107", f"{target.url}/sink"), headers=ada).status_code
            == 201
        )


def test_a_huge_answer_is_not_read_whole(sandbox: Sandbox, target: Target) -> None:
    created = httpx.post(f"{sandbox.url}{QOD}", json=_body("+36700000108", f"{target.url}/huge"))
    sid = created.json()["sessionId"]
    record = wait_until(lambda: _deliveries(sandbox, sid), timeout=30, message="a delivery recorded")[0]
    sent = target.streamed[0]
    assert record["outcome"] == "delivered"  # its status counts
    assert sent < 16 * 1024 * 1024  # the sandbox hung up long before 50 MiB


def test_forty_sessions_on_a_slow_sink_do_not_delay_a_healthy_sink(sandbox: Sandbox, target: Target) -> None:
    with httpx.Client(base_url=sandbox.url) as http:
        for n in range(40):
            assert http.post(QOD, json=_body(f"+367001{n:05d}", f"{target.url}/slow")).status_code == 201
        wait_until(lambda: sandbox.notifier.pending >= 40, message="the slow deliveries under way")
        other_origin = target.url.replace("127.0.0.1", "localhost")  # the same server, another sink
        healthy = http.post(QOD, json=_body("+36700099999", f"{other_origin}/sink")).json()["sessionId"]
    # the slow sink holds its own slots; without them the healthy one waits for the 5 s timeouts
    wait_until(lambda: _deliveries(sandbox, healthy), timeout=4.0, message="the healthy sink's delivery")
    assert not target.release.is_set()  # the slow ones were still held when it arrived
    target.release.set()


def test_a_huge_request_body_is_refused_before_it_is_read_whole(sandbox: Sandbox) -> None:
    padding = "x" * (5 * 1024 * 1024)
    answer = httpx.post(f"{sandbox.url}{QOD}", json={**_body("+36700000109", "https://sink.example/"), "pad": padding})
    assert answer.status_code == 413 and answer.json()["code"] == "PAYLOAD_TOO_LARGE"

    def chunked() -> Iterator[bytes]:
        for _ in range(100):  # 6.4 MiB with no Content-Length
            yield b" " * 65536

    streamed = httpx.post(f"{sandbox.url}{QOD}", content=chunked(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    ok = httpx.post(f"{sandbox.url}{QOD}", json=_body("+36700000110", "https://sink.example/"))
    assert ok.status_code == 201 and uuid.UUID(ok.json()["sessionId"])


def test_lag_ms_counts_the_wait_for_a_slow_sinks_slots(sandbox: Sandbox, target: Target) -> None:
    """Issue #32: a notification queued behind a slow sink's 8 busy slots shows that wait in `deliveries()`'
    lag_ms (before: measured before the slot was taken, about 1 ms whatever the wait)."""
    per_sink = sandbox.notifier.per_sink
    with httpx.Client(base_url=sandbox.url) as http:
        for n in range(per_sink + 2):
            assert http.post(QOD, json=_body(f"+367002{n:05d}", f"{target.url}/slow", duration=3600)).status_code == 201
    wait_until(lambda: sandbox.notifier.pending >= per_sink + 2, message="every notification due")
    due_by = time.monotonic()  # all of them fell due before this
    target.release.wait(2.0)  # the slow sink holds its slots this long (not set: a deliberate hold)
    held = time.monotonic() - due_by
    target.release.set()
    records = wait_until(
        lambda: [d for d in sandbox.deliveries() if d.outcome == "delivered"][per_sink + 1 :] or None,
        timeout=10,
        message="every delivery",
    )
    lags = sorted(d.lag_ms for d in sandbox.deliveries() if d.outcome == "delivered")
    assert len(lags) == per_sink + 2 and records
    assert lags[-1] >= held * 1000 and lags[-2] >= held * 1000  # the two that waited for a slot
    assert lags[0] < held * 1000  # the first ones left at once
