"""The relay (smee.io's protocol) and a listener that follows it, over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qodlab import EventLog, Listener, Relay, RelayRefuses, Sandbox, ServerStartError, Workbench
from qodlab.notifications import NOTIFICATION_SHAPES, Shape, build_notification, content_type
from qodlab.relay import new_channel
from qodlab.relay.protocol import message, to_request

from ..conftest import qodlab_process, wait_until

TOKEN = "relay-test-token"


@pytest.fixture
def relay() -> Iterator[Relay]:
    with Relay(buffer=50) as server:
        yield server


def _notification(session: str, status: str = "AVAILABLE", shape: Shape = "cloudevent-v1", **kw: Any) -> dict[str, Any]:
    return build_notification(
        shape,
        event_id=kw.pop("event_id", str(uuid.uuid4())),
        session_id=session,
        qos_status=status,
        time="2026-11-26T10:00:00Z",
        **kw,
    )


def _post(channel: str, body: Any, token: str | None = TOKEN, kind: str = "application/cloudevents+json") -> int:
    headers = {"content-type": kind} | ({"authorization": f"Bearer {token}"} if token else {})
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(channel, content=content, headers=headers).status_code


def _read(channel: str, count: int, last_id: int | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The first `count` messages of a channel's stream, as (id, data); bounded by a read timeout."""
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    got: list[tuple[str, dict[str, Any]]] = []
    with httpx.Client(timeout=httpx.Timeout(5.0)) as client, connect_sse(client, "GET", channel, headers=headers) as s:
        for event in s.iter_sse():
            if event.event == "message":
                got.append((event.id, json.loads(event.data)))
            if len(got) == count:
                break
    return got


# -- the protocol --------------------------------------------------------------------------------


def test_a_message_holds_the_request_as_smee_client_rebuilds_it() -> None:
    body = _notification("s-1")
    data = message({"Authorization": "Bearer t", "Content-Type": "application/json"}, json.dumps(body).encode(), {})
    assert data["authorization"] == "Bearer t" and data["content-type"] == "application/json"
    assert data["body"] == body and data["query"] == {} and isinstance(data["timestamp"], int)
    headers, raw = to_request(json.loads(json.dumps(data)))
    assert headers[b"authorization"] == b"Bearer t" and json.loads(raw) == body
    assert b"timestamp" not in headers and b"body" not in headers


# -- the relay server ----------------------------------------------------------------------------


def test_posts_stream_with_ids_and_replay_after_last_event_id(relay: Relay) -> None:
    channel = relay.new_channel()
    for i in range(3):
        assert _post(channel, {"n": i}) == 200
    replayed = _read(channel, 3, last_id=0)
    assert [(i, d["body"]) for i, d in replayed] == [("1", {"n": 0}), ("2", {"n": 1}), ("3", {"n": 2})]
    assert replayed[0][1]["authorization"] == f"Bearer {TOKEN}"  # anyone with the URL reads the token
    assert [i for i, _ in _read(channel, 1, last_id=2)] == ["3"]


def test_each_channel_keeps_its_last_buffer_messages() -> None:
    with Relay(buffer=3) as small:
        channel = small.new_channel()
        for i in range(5):
            _post(channel, {"n": i})
        assert [d["body"]["n"] for _, d in _read(channel, 3, last_id=0)] == [2, 3, 4]


def test_new_redirects_to_a_fresh_unguessable_channel(relay: Relay) -> None:
    first, second = new_channel(relay.url), new_channel(relay.url)
    assert first != second and first.startswith(f"{relay.url}/")
    assert len(first.rsplit("/", 1)[1]) >= 24  # 144 random bits


def test_new_redirects_to_the_forwarded_origin_only_behind_a_trusted_proxy() -> None:
    behind_proxy = {"x-forwarded-proto": "https", "x-forwarded-host": "relay.example.org"}
    trusted = Relay(port=0, forwarded_allow_ips="127.0.0.1")
    try:
        via_proxy = httpx.get(f"{trusted.url}/new", headers=behind_proxy, trust_env=False)
        assert via_proxy.status_code == 307
        assert via_proxy.headers["location"].startswith("https://relay.example.org/")
    finally:
        trusted.stop()
    untrusted = Relay(port=0, forwarded_allow_ips="192.0.2.1")  # another proxy's address: not this client
    try:
        spoofed = httpx.get(f"{untrusted.url}/new", headers=behind_proxy, trust_env=False)
        assert spoofed.headers["location"].startswith(f"{untrusted.url}/")  # a client cannot steer it
    finally:
        untrusted.stop()


def test_qodlab_relay_takes_its_port_from_dollar_port() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "qodlab", "relay", "--forwarded-allow-ips", "*"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PORT": str(port)},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"qodlab relay serving http://127.0.0.1:{port}"
        answer = httpx.get(f"http://127.0.0.1:{port}/new", headers={"x-forwarded-proto": "https"}, trust_env=False)
        assert answer.headers["location"].startswith(f"https://127.0.0.1:{port}/")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/bad~name", 404), ("PUT", "/channel", 405), ("GET", "/channel", 200)],
)
def test_the_relay_answers_what_it_cannot_use(relay: Relay, method: str, path: str, status: int) -> None:
    assert httpx.request(method, f"{relay.url}{path}").status_code == status


def test_a_body_over_the_limit_is_413(relay: Relay) -> None:
    assert _post(relay.new_channel(), b"x" * (1024 * 1024 + 1), kind="text/plain") == 413


# -- a listener following a channel --------------------------------------------------------------


@pytest.fixture
def relayed(relay: Relay) -> Iterator[Listener]:
    with Listener(EventLog(), relay=relay.new_channel(), token=TOKEN) as listener:
        yield listener


@pytest.mark.parametrize("shape", NOTIFICATION_SHAPES)
def test_every_shape_arrives_through_the_relay(relayed: Listener, shape: Shape) -> None:
    session = str(uuid.uuid4())
    assert _post(relayed.url, _notification(session, shape=shape), kind=content_type(shape)) == 200
    event = relayed.log.wait_for(session, "AVAILABLE", timeout=10)
    assert event.shape == shape


def test_a_relayed_message_is_checked_like_a_post(relayed: Listener) -> None:
    session = str(uuid.uuid4())
    duplicate = _notification(session, event_id="dup-1")
    for body, token, kind in [
        (_notification(session), "wrong", "application/json"),  # 401
        (_notification(session), None, "application/json"),  # 401
        (_notification(session), TOKEN, "text/plain"),  # 415
        ({"hello": "world"}, TOKEN, "application/json"),  # 422
        (duplicate, TOKEN, "application/json"),
        (duplicate, TOKEN, "application/json"),  # stored once
    ]:
        _post(relayed.url, body, token, kind)
    wait_until(lambda: len(relayed.rejections) == 4 and relayed.duplicates == 1, message="four rejections")
    assert list(relayed.rejections["status"]) == [401, 401, 415, 422]
    assert set(relayed.rejections["client"]) == {"relay"}
    assert relayed.subscription is not None
    channel = relayed.subscription.url.rsplit("/", 1)[1]
    assert all(channel not in path for path in relayed.rejections["path"])  # the channel is a secret too
    assert list(relayed.log.df["event_id"]) == ["dup-1"]


def test_the_repr_masks_the_channel_and_says_it_is_public(relayed: Listener) -> None:
    assert relayed.subscription is not None
    channel = relayed.subscription.url.rsplit("/", 1)[1]
    text = repr(relayed)
    assert channel not in text and TOKEN not in text and "anyone with the channel URL" in text
    assert relayed.url == relayed.subscription.url and relayed.local_url.startswith("http://127.0.0.1:")


def test_a_listener_down_then_up_gets_what_was_sent_meanwhile(relayed: Listener) -> None:
    sessions = [str(uuid.uuid4()) for _ in range(6)]
    for session in sessions[:3]:
        _post(relayed.url, _notification(session))
    wait_until(lambda: len(relayed.log) == 3, message="the first three")
    relayed.stop()
    for session in sessions[3:]:
        assert _post(relayed.url, _notification(session)) == 200
    relayed.start()  # resumes with Last-Event-ID 3
    for session in sessions:
        relayed.log.wait_for(session, "AVAILABLE", timeout=10)
    assert len(relayed.log) == 6 and relayed.duplicates == 0


def test_qodlab_relay_carries_the_probe_which_is_dropped_and_never_warned_about(relay: Relay) -> None:
    channel = relay.new_channel()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RelayRefuses)  # it carries every content type: nothing to say
        first = Listener(EventLog(), relay=channel, token=TOKEN)
        second = Listener(EventLog(), relay=channel, token=TOKEN, reuse=False)  # replays the first's probes too
    with first, second:
        for listener in (first, second):
            assert listener.subscription is not None and listener.subscription.probed.is_set()
            assert listener.subscription.refusals == {} and listener.relay_refusal() is None
            assert listener.how == "relay via 127.0.0.1, token checked"
        stored = [json.loads(data) for _, data in relay.app.channel(channel.rsplit("/", 1)[1]).messages]
        kinds = sorted(m["content-type"] for m in stored)
        assert kinds == ["application/cloudevents+json"] * 2 + ["application/json"] * 2
        assert all("authorization" not in m and TOKEN not in json.dumps(m) for m in stored)  # a probe holds no token
        session = str(uuid.uuid4())
        assert _post(channel, _notification(session)) == 200
        for listener in (first, second):
            listener.log.wait_for(session, "AVAILABLE", timeout=10)  # after the probes: they were handled first
            assert len(listener.log) == 1 and len(listener.rejections) == 0 and listener.accepted == 1


def test_a_workbench_on_auto_goes_through_qodlab_relay(relay: Relay) -> None:
    with (
        Sandbox(reuse=False) as sandbox,
        sandbox.client() as client,
        Listener(EventLog(), relay=relay.new_channel(), token=TOKEN) as listener,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error", RelayRefuses)
        bench = Workbench(client, listener.log, listener, sandbox)
        try:
            assert bench.notifications == "relay" and bench.relay_refused is None
            assert bench.sink == (listener.url, TOKEN)
            assert bench.how.startswith("relay via 127.0.0.1, token checked, polling every")
        finally:
            bench.close()


def test_relay_true_opens_a_channel_on_the_configured_server(relay: Relay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QODLAB_RELAY", relay.url)
    with Listener(EventLog(), relay=True, token=TOKEN) as listener:
        assert listener.url.startswith(f"{relay.url}/")
        session = str(uuid.uuid4())
        _post(listener.url, _notification(session))
        listener.log.wait_for(session, "AVAILABLE", timeout=10)


def test_an_unreachable_relay_fails_at_start_with_a_clear_error(relay: Relay) -> None:
    channel = relay.new_channel()
    relay.stop()
    with pytest.raises(ServerStartError, match="cannot follow relay"):
        Listener(EventLog(), relay=channel, relay_timeout=1.0)


# -- the commands, and a listener killed mid-stream ----------------------------------------------


@pytest.mark.slow
def test_a_killed_listener_restarted_loses_nothing_through_qodlab_relay(tmp_path: Path) -> None:
    relay, first = qodlab_process("relay", "--buffer", "500")
    listen: subprocess.Popen[str] | None = None
    try:
        assert "qodlab relay serving http://127.0.0.1:" in first, first
        channel = new_channel(first.split()[-1])
        db = tmp_path / "events.sqlite"
        command = ("listen", "--relay", channel, "--db", str(db), "--token", TOKEN)
        listen, line = qodlab_process(*command)
        assert "qodlab listener on" in line, line
        sessions = [str(uuid.uuid4()) for _ in range(40)]
        for session in sessions[:20]:
            assert _post(channel, _notification(session)) == 200
        wait_until(lambda: db.exists() and len(EventLog.open(db)) >= 5, timeout=20, message="some events on disk")
        listen.send_signal(signal.SIGKILL)  # mid-stream: some of the first 20 may not be stored yet
        listen.wait(10)
        for session in sessions[20:]:
            assert _post(channel, _notification(session)) == 200
        listen, _ = qodlab_process(*command)  # a new process: replays the relay's buffer, drops what it has
        wait_until(lambda: len(EventLog.open(db)) == 40, timeout=30, message="all 40 events")
        stored = EventLog.open(db).df
        assert stored["event_id"].is_unique and set(stored["session_id"].astype(str)) == set(sessions)
    finally:
        for process in (listen, relay):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(10)


def test_a_relay_that_drops_the_stream_is_followed_again(relay: Relay) -> None:
    with Listener(EventLog(), relay=relay.new_channel(), token=TOKEN) as listener:
        assert listener.subscription is not None
        first = str(uuid.uuid4())
        _post(listener.url, _notification(first))
        listener.log.wait_for(first, "AVAILABLE", timeout=10)
        relay.stop()  # the stream drops; the channel and its buffer stay with the app
        wait_until(lambda: not listener.subscription.connected.is_set(), message="the stream to drop")  # type: ignore[union-attr]
        relay.start()  # same port
        second = str(uuid.uuid4())
        assert _post(listener.url, _notification(second)) == 200
        listener.log.wait_for(second, "AVAILABLE", timeout=20)  # reconnected with backoff, resumed after id 1
        assert listener.subscription.connections >= 2 and len(listener.log) == 2


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=_json | st.binary(max_size=200),
    kind=st.sampled_from(["application/json", "application/cloudevents+json", "text/plain", ""]),
    token=st.sampled_from([TOKEN, "wrong", None]),
)
def test_whatever_comes_through_the_relay_the_stream_goes_on(
    relayed: Listener, body: Any, kind: str, token: str | None
) -> None:
    _post(relayed.url, body if isinstance(body, bytes) else json.dumps(body).encode(), token, kind)
    canary = str(uuid.uuid4())
    assert _post(relayed.url, _notification(canary)) == 200
    relayed.log.wait_for(canary, "AVAILABLE", timeout=10)  # handled after whatever came before it


# -- bounded under abuse --------------------------------------------------------------------------


def _rss(pid: int) -> int:
    """A process's resident memory in bytes (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_flood_of_several_times_the_cap_keeps_the_relay_near_it_and_a_fresh_channel_still_delivers() -> None:
    cap = 8 * 2**20
    process, first = qodlab_process("relay", "--max-bytes", "8MiB", "--max-channels", "100")
    try:
        root = first.split()[3]
        pad = "x" * (512 * 1024)
        with httpx.Client(timeout=10) as client:
            client.post(f"{root}/warm", json={"pad": "x"})
            before = _rss(process.pid)
            statuses = [
                client.post(f"{root}/flood-{n % 20}", json={"pad": pad, "n": n}).status_code for n in range(80)
            ]  # 40 MiB from 20 channels, five times the cap
            grown = _rss(process.pid) - before
        assert statuses == [200] * 80  # nobody subscribes: the oldest of the fullest channels make room
        assert grown < 2.5 * cap, f"the relay grew {grown / 2**20:.1f} MiB under a cap of 8 MiB"
        fresh = f"{root}/fresh-channel"
        with Listener(EventLog(), token=TOKEN, relay=fresh) as listener:
            session = str(uuid.uuid4())
            assert _post(fresh, _notification(session)) == 200
            listener.log.wait_for(session, "AVAILABLE", timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def test_past_max_channels_the_longest_idle_channel_makes_room_and_followed_ones_are_kept() -> None:
    from qodlab.relay.server import RelayApp, RelayFull, Subscriber

    now = [1000.0]
    app = RelayApp(max_channels=2, clock=lambda: now[0])
    app.publish("one", "x")
    now[0] += 1
    app.publish("two", "y")
    now[0] += 1
    app.publish("three", "z")  # "one" was idle longest: it goes, with its message
    assert set(app.channels) == {"two", "three"} and app.bytes == 2 * (1 + 120)
    for name in ("two", "three"):
        app.channel(name).subscribers.add(Subscriber(sent=1))
    with pytest.raises(RelayFull, match="all followed"):
        app.publish("four", "w")  # every channel is followed: refused, nothing lost
    assert set(app.channels) == {"two", "three"}


def test_a_message_a_connected_subscriber_has_not_been_sent_is_never_evicted() -> None:
    from qodlab.relay.server import RelayApp, RelayFull, Subscriber

    app = RelayApp(max_bytes=3 * (1000 + 120))
    slow = Subscriber(sent=0)  # connected, sent nothing yet
    app.channel("watched").subscribers.add(slow)
    app.publish("watched", "a" * 1000)
    app.publish("watched", "b" * 1000)
    app.publish("other", "c" * 1000)
    app.publish("other", "d" * 1000)  # evicts "c": the watched channel's messages are not sent yet
    assert [d[0] for _, d in app.channel("other").messages] == ["d"] and app.evicted == 1
    with pytest.raises(RelayFull):
        app.publish("watched", "e" * 2000)  # too little may go: refused, and nothing lost for it
    assert len(app.channel("watched").messages) == 2 and len(app.channel("other").messages) == 1
    slow.sent = 1  # the first was written to the subscriber
    app.publish("watched", "f" * 1000)
    assert [d[0] for _, d in app.channel("watched").messages] == ["b", "f"]


def test_an_idle_channel_is_dropped_after_idle_seconds() -> None:
    from qodlab.relay.server import RelayApp

    now = [1000.0]
    app = RelayApp(idle=3600, clock=lambda: now[0])
    app.publish("old", "x" * 100)
    now[0] += 3599
    app.channel("new")
    assert "old" in app.channels
    now[0] += 61  # past the idle time, and a minute since the last sweep
    app.channel("newer")
    assert "old" not in app.channels and app.bytes == 0
