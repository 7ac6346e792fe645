"""Any input is a 4xx or a stored event, never a 5xx: deep nesting, hostile relays, every CloudEvents mode."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings import http as cloudevents_http
from cloudevents.core.v1.event import CloudEvent

from qodlab import EventLog, Listener, Relay
from qodlab._net.asgi import Receive, Scope, Send
from qodlab._net.safejson import MAX_DEPTH
from qodlab._net.server import ServerThread
from qodlab.notifications import TYPE_V1, build_notification
from qodlab.relay import Subscription

from ..conftest import wait_until

TOKEN = "hostile-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener(EventLog(), token=TOKEN) as li:
        yield li


def _deep(depth: int) -> bytes:
    """A CloudEvent whose extension nests `depth` arrays."""
    body = build_notification(
        "cloudevent-v1", event_id="deep", session_id="s-deep", qos_status="AVAILABLE", time="2026-12-06T10:00:00Z"
    )
    text = json.dumps(body)
    return (text[:-1] + ', "ext": ' + "[" * depth + "]" * depth + "}").encode()


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 3_000, 100_000])
def test_deep_nesting_is_400_on_the_listener_and_recorded(listener: Listener, depth: int) -> None:
    answer = httpx.post(listener.url, content=_deep(depth), headers={**AUTH, "content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["code"] == "INVALID_ARGUMENT"
    assert f"nested deeper than {MAX_DEPTH} levels" in answer.json()["message"]
    assert list(listener.rejections["status"]) == [400] and len(listener.log) == 0


def test_nesting_within_the_limit_is_stored(listener: Listener) -> None:
    answer = httpx.post(
        listener.url, content=_deep(MAX_DEPTH - 2), headers={**AUTH, "content-type": "application/json"}
    )
    assert answer.status_code == 204 and len(listener.log) == 1


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 3_000])
def test_deep_nesting_is_400_on_the_relay(depth: int) -> None:
    with Relay() as relay:
        channel = relay.new_channel()
        answer = httpx.post(channel, content=_deep(depth), headers={"content-type": "application/json"})
        assert answer.status_code == 400 and "nested deeper than" in answer.text
        assert httpx.post(channel, content=_deep(3), headers={"content-type": "application/json"}).status_code == 200


# -- a hostile relay: the subscriber skips what it cannot read and goes on ------------------------------


class HostileRelay:
    """An SSE relay that sends unusable messages before a good one, as smee.io (no ids) or qodlab's relay (ids)."""

    def __init__(self, with_ids: bool) -> None:
        self.with_ids = with_ids
        self.connections = 0
        self.server = ServerThread(self.app, name="hostile-relay")

    def messages(self) -> list[str]:
        good = build_notification(
            "cloudevent-v1", event_id="good", session_id="s-good", qos_status="AVAILABLE", time="2026-12-06T10:00:00Z"
        )
        request = {**AUTH, "content-type": "application/cloudevents+json", "body": good, "query": {}, "timestamp": 1}
        deep_request = {**request, "body": json.loads(_deep(MAX_DEPTH))}  # its body one level past the limit
        return ["[" * 3_000 + "]" * 3_000, "not json at all", json.dumps(deep_request), json.dumps(request)]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":  # the listener's probe: taken, never streamed (as smee.io refuses it)
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        self.connections += 1
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for n, data in enumerate(self.messages(), start=1):
            event_id = f"id: {n}\n" if self.with_ids else ""
            await send(
                {
                    "type": "http.response.body",
                    "body": f"event: message\n{event_id}data: {data}\n\n".encode(),
                    "more_body": True,
                }
            )
        while (await receive())["type"] != "http.disconnect":
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize("with_ids", [True, False], ids=["qodlab-relay-ids", "smee-no-ids"])
def test_the_subscriber_skips_and_records_what_it_cannot_read_and_goes_on(with_ids: bool) -> None:
    relay = HostileRelay(with_ids)
    relay.server.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the relay refuses the probe: a RelayRefuses warning, not the point here
            listener = Listener(EventLog(), token=TOKEN, relay=f"{relay.server.url}/channel", reuse=False)
        with listener:
            event = listener.log.wait_for("s-good", "AVAILABLE", timeout=10)
            assert event.event_id == "good"
            wait_until(lambda: len(listener.rejections) == 3, message="three rejections")
            assert list(listener.rejections["status"]) == [400, 400, 400]
            assert listener.subscription is not None and listener.subscription.connections == 1  # never reconnected
            assert relay.connections == 1 and len(listener.log) == 1
    finally:
        relay.server.stop()


def test_a_subscription_hands_on_the_skipped_reason() -> None:
    relay = HostileRelay(with_ids=True)
    relay.server.start()
    handled: list[dict[str, Any]] = []
    skipped: list[str] = []

    async def handle(data: dict[str, Any]) -> None:
        handled.append(data)

    async def follow() -> None:
        subscription = Subscription(f"{relay.server.url}/channel", handle, probe=(), on_skip=skipped.append)
        subscription.start()
        for _ in range(1000):  # bounded: 10 s
            if handled:
                break
            await asyncio.sleep(0.01)
        await subscription.stop()
        assert subscription.last_id == 4

    try:
        asyncio.run(follow())
    finally:
        relay.server.stop()
    assert len(skipped) == 3 and all("skipped" in reason for reason in skipped)
    assert [data["body"]["id"] for data in handled] == ["good"]


# -- CloudEvents content modes -------------------------------------------------------------------------


def _sdk_event(event_id: str = "42") -> CloudEvent:
    return CloudEvent(
        attributes={
            "type": TYPE_V1,
            "source": "https://api.example.com/qod/v1/sessions/s-1",
            "id": event_id,
            "time": datetime(2026, 12, 6, 10, tzinfo=UTC),
            "datacontenttype": "application/json",
        },
        data={"sessionId": "s-1", "qosStatus": "AVAILABLE", "statusInfo": "DURATION_EXPIRED"},
    )


def _fields(frame_row: Any) -> tuple[Any, ...]:
    return tuple(
        frame_row[c]
        for c in ("event_id", "session_id", "qos_status", "status_info", "event_time", "type", "source", "shape")
    )


def test_binary_and_structured_modes_from_the_official_sdk_are_the_same_event() -> None:
    stored = {}
    for mode in ("binary", "structured"):
        message = (cloudevents_http.to_binary_event if mode == "binary" else cloudevents_http.to_structured_event)(
            _sdk_event()
        )
        with Listener(EventLog(), token=TOKEN, reuse=False) as listener:
            answer = httpx.post(listener.url, content=message.body, headers={**message.headers, **AUTH})
            assert answer.status_code == 204, answer.text
            stored[mode] = _fields(listener.log.df.iloc[0])
            assert listener.log.raw("42")["data"]["sessionId"] == "s-1"
    assert stored["binary"] == stored["structured"]
    assert stored["binary"][:4] == ("42", "s-1", "AVAILABLE", "DURATION_EXPIRED")


def test_binary_mode_through_a_relay() -> None:
    message = cloudevents_http.to_binary_event(_sdk_event("relayed"))
    with Relay() as relay, Listener(EventLog(), token=TOKEN, relay=relay.new_channel(), reuse=False) as listener:
        assert httpx.post(listener.url, content=message.body, headers={**message.headers, **AUTH}).status_code == 200
        assert listener.log.wait_for("s-1", "AVAILABLE", timeout=10).event_id == "relayed"


def test_a_binary_mode_event_is_a_duplicate_of_its_structured_copy(listener: Listener) -> None:
    for convert in (cloudevents_http.to_binary_event, cloudevents_http.to_structured_event):
        message = convert(_sdk_event())
        assert httpx.post(listener.url, content=message.body, headers={**message.headers, **AUTH}).status_code == 204
    assert listener.accepted == 1 and listener.duplicates == 1


def test_batched_mode_is_refused_by_name(listener: Listener) -> None:
    body = json.dumps([json.loads(cloudevents_http.to_structured_event(_sdk_event()).body)])
    answer = httpx.post(
        listener.url, content=body, headers={**AUTH, "content-type": "application/cloudevents-batch+json"}
    )
    assert answer.status_code == 415 and "batched mode" in answer.json()["message"]
    assert len(listener.log) == 0
