"""The Watcher: notifications by polling, over real HTTP against the sandbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from qodlab import EventLog, Listener, QodClient, QosStatus, Sandbox, StatusEvent, StatusInfo, Watcher
from qodlab.receiving.watcher import POLL_TYPE

from ..conftest import PHONE, session_fields, wait_until


@pytest.fixture
def quick() -> Iterator[Sandbox]:
    """AVAILABLE at once, 60 sandbox seconds per real second."""
    with Sandbox(speed=60, provisioning_delay=0, reuse=False) as sandbox:
        yield sandbox


def _rows(log: EventLog, session_id: str) -> list[tuple[str, str | None, str]]:
    frame = log.df[log.df["session_id"] == session_id]
    return [
        (str(s), None if i != i else str(i), str(shape))
        for s, i, shape in zip(frame["qos_status"], frame["status_info"].astype(object), frame["shape"], strict=True)
    ]


def test_polling_alone_follows_a_session_to_its_end(quick: Sandbox) -> None:
    log = EventLog()
    with quick.client() as client, Watcher(client, log, interval=0.1, clock=quick.clock) as watcher:
        session = client.create_session(**session_fields(duration=3600))
        watcher.watch(session.session_id)
        log.wait_for(str(session.session_id), "AVAILABLE", timeout=10)
        quick.advance(3600)  # its end, once a poll has seen it AVAILABLE, however busy the machine
        ended = log.wait_for(str(session.session_id), "UNAVAILABLE", timeout=10)
        session_id = str(session.session_id)
        assert _rows(log, session_id) == [("AVAILABLE", None, "poll"), ("UNAVAILABLE", "DURATION_EXPIRED", "poll")]
        available = log.df.iloc[0]
        assert available["event_time"] == session.started_at  # the API's own times, not when it was seen
        assert ended.event_time == session.expires_at and ended.type == POLL_TYPE
        assert "sink" not in ended.raw
        wait_until(lambda: watcher.followed == [], message="the ended session dropped")


def test_the_expiry_is_seen_right_after_expires_at_not_an_interval_later(quick: Sandbox) -> None:
    log = EventLog()
    with quick.client() as client, Watcher(client, log, interval=60.0, clock=quick.clock) as watcher:
        session = client.create_session(**session_fields(duration=300))  # 5 real seconds: the first poll is in them
        watcher.watch(session.session_id)
        log.wait_for(str(session.session_id), "UNAVAILABLE", timeout=20)  # well inside the 60 s interval
        assert watcher.calls == 2  # one poll saw it AVAILABLE, the next one, at expiresAt, UNAVAILABLE


def test_a_live_session_gone_404_was_deleted(quick: Sandbox) -> None:
    log = EventLog()
    with quick.client() as client, Watcher(client, log, interval=0.1, clock=quick.clock) as watcher:
        session = client.create_session(**session_fields(duration=600))
        watcher.watch(session.session_id)
        log.wait_for(str(session.session_id), "AVAILABLE", timeout=10)
        session.delete()
        event = log.wait_for(str(session.session_id), "UNAVAILABLE", timeout=10)
        assert event.status_info is StatusInfo.DELETE_REQUESTED and event.shape == "poll"
        assert watcher.errors == type(watcher.errors)()  # a 404 is an answer, not an error


def test_watch_device_finds_sessions_created_later(quick: Sandbox) -> None:
    log = EventLog()
    with quick.client() as client, Watcher(client, log, interval=0.1, clock=quick.clock) as watcher:
        watcher.watch_device({"phoneNumber": PHONE})
        session = client.create_session(**session_fields(duration=600))
        log.wait_for(str(session.session_id), "AVAILABLE", timeout=10)
        session.delete()
        log.wait_for(str(session.session_id), "UNAVAILABLE", timeout=10)
        calls = watcher.calls
        wait_until(lambda: watcher.calls >= calls + 3, message="more device listings")
        assert watcher.followed == []  # a deleted session is not followed again when listed


class _Timed(httpx.HTTPTransport):
    """Records when each request went out and what it got."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[float, float, int]] = []  # sent, answered (monotonic), status
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = time.monotonic()
        response = super().handle_request(request)
        with self.lock:
            self.log.append((sent, time.monotonic(), response.status_code))
        return response


def test_a_429_pauses_every_poll_for_its_retry_after(quick: Sandbox) -> None:
    log, transport = EventLog(), _Timed()
    with QodClient(quick.url, transport=transport, max_retries=0) as client:
        session = client.create_session(**session_fields(duration=6000))
        quick.fail_api_calls(1, status=429, retry_after=1.5)
        with Watcher(client, log, interval=0.05, clock=quick.clock) as watcher:
            watcher.watch(session.session_id)
            wait_until(lambda: any(s == 429 for _, _, s in transport.log), message="the 429")
            wait_until(lambda: transport.log[-1][2] == 200 and watcher.calls >= 3, message="polls again")
            assert any("429" in error for error in watcher.errors)
    calls = transport.log[1:]  # after the create
    limited = next(i for i, (_, _, status) in enumerate(calls) if status == 429)
    assert calls[limited + 1][0] - calls[limited][1] >= 1.5  # nothing sent before Retry-After was over


def test_errors_go_to_errors_and_the_thread_lives_on() -> None:
    with Sandbox(reuse=False) as sandbox:
        url = sandbox.url
    log = EventLog()
    with QodClient(url, max_retries=0, timeout=1.0) as client, Watcher(client, log, interval=0.05) as watcher:
        watcher.watch("3fa85f64-5717-4562-b3fc-2c963f66afa6")
        wait_until(lambda: len(watcher.errors) >= 3, message="three failed polls")
        assert watcher.running and "TransportError" in watcher.errors[-1]


def _event(shape: Any, status: str, at: datetime, event_id: str) -> StatusEvent:
    return StatusEvent(
        event_id=event_id,
        session_id="s",
        qos_status=QosStatus(status),
        status_info=None,
        event_time=at,
        type="t",
        source="src",
        shape=shape,
        raw={},
    )


def test_a_change_both_polled_and_notified_is_one_interval_at_the_notifications_time() -> None:
    log = EventLog()
    t0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    log.append(_event("client", "REQUESTED", t0, "c"))
    log.append(_event("poll", "AVAILABLE", t0 + timedelta(seconds=2), "p"))  # seen before it was notified
    log.append(_event("cloudevent-v1", "AVAILABLE", t0 + timedelta(seconds=3), "n"))
    intervals = log.intervals()
    assert list(intervals["qos_status"]) == ["REQUESTED", "AVAILABLE"]
    assert intervals["start"].iloc[1] == t0 + timedelta(seconds=3)  # the notification wins
    assert intervals["end"].iloc[0] == t0 + timedelta(seconds=3)
    assert list(log.df["shape"]) == ["client", "poll", "cloudevent-v1"]  # .df keeps both, to compare


def test_as_a_safety_net_it_records_only_what_notifications_missed(quick: Sandbox) -> None:
    log = EventLog()
    with (
        Listener(log) as listener,
        quick.client() as client,
        Watcher(client, log, interval=0.1, clock=quick.clock, only_missing=5.0) as watcher,
    ):
        quick.drop_notifications(1)  # the AVAILABLE notification never leaves
        session = client.create_session(**session_fields(listener.url, listener.token, duration=3600))
        watcher.watch(session.session_id)
        session_id = str(session.session_id)
        log.wait_for(session_id, "AVAILABLE", timeout=10)  # polled, once the grace passed without its notification
        quick.advance(3600)  # then it expires, and that notification comes
        log.wait_for(session_id, "UNAVAILABLE", timeout=10)
        wait_until(lambda: watcher.followed == [], message="the session ended")
        assert _rows(log, session_id) == [
            ("AVAILABLE", None, "poll"),
            ("UNAVAILABLE", "DURATION_EXPIRED", "cloudevent-v1"),
        ]


def test_a_closed_client_stops_the_watcher_quietly(sandbox: Sandbox) -> None:
    """A notebook closes its client before the watcher: the watcher says so in errors and stops,
    with no exception in its thread."""
    client = sandbox.client()
    session = client.create_session(**session_fields())
    log = EventLog()
    watcher = Watcher(client, log, interval=0.05)
    client.close()
    watcher.watch(session.session_id)
    watcher.start()
    wait_until(lambda: "the client was closed: polling stopped" in watcher.errors, message="the watcher to notice")
    wait_until(lambda: not watcher.running, message="the watcher thread to end")
    watcher.stop()


class _SlowAnswers(httpx.BaseTransport):
    """A busy machine: each answer is read `delay` real seconds after the API gave it; `meanwhile()`,
    if given, runs once while the first answer waits to be read."""

    def __init__(self, delay: float, meanwhile: Callable[[], object] | None = None) -> None:
        self.inner, self.delay, self.meanwhile = httpx.HTTPTransport(trust_env=False), delay, meanwhile

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if self.meanwhile is not None:
            self.meanwhile, meanwhile = None, self.meanwhile
            meanwhile()
        time.sleep(self.delay)  # the thread that reads it is late: the simulated load itself, not a wait
        return response


def test_a_status_read_late_is_dated_when_the_poll_asked_so_the_order_holds() -> None:
    """The API answers REQUESTED, makes the session AVAILABLE (its `startedAt`) before the answer is read:
    REQUESTED is dated when the poll asked, before that startedAt, not when it was read (CI saw the order flip)."""
    with Sandbox(speed=60, provisioning_delay=600, reuse=False) as sandbox:  # REQUESTED for 10 real seconds
        log = EventLog()
        provisioned = lambda: sandbox.advance(600)  # noqa: E731 (AVAILABLE while the first answer is unread)
        with (
            sandbox.client() as client,
            sandbox.client(transport=_SlowAnswers(0.6, meanwhile=provisioned)) as slow,
            Watcher(slow, log, interval=0.1, clock=sandbox.clock) as watcher,
        ):
            session = client.create_session(**session_fields(duration=600))
            watcher.watch(session.session_id)
            available = log.wait_for(str(session.session_id), "AVAILABLE", timeout=20)
        requested = log.df.iloc[0]
        assert requested["qos_status"] == "REQUESTED"
        assert requested["event_time"] <= available.event_time
        assert list(log.intervals()["qos_status"].astype(str)) == ["REQUESTED", "AVAILABLE"]
