"""The sandbox over real HTTP: lifecycle, notifications, retries, faults, errors, running."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from qodlab import (
    Conflict,
    InvalidArgument,
    NotFound,
    QodClient,
    QosStatus,
    Sandbox,
    ServerStartError,
    SettingsChanged,
    StatusInfo,
    Unprocessable,
    apis,
)
from qodlab.apis import Release
from qodlab.sandbox import Outcome

from ..conftest import PHONE, Receiver, end_process, qodlab_process, session_fields, wait_until

TYPE_V1 = "org.camaraproject.quality-on-demand.v1.qos-status-changed"


def _statuses(receiver: Receiver, count: int) -> list[tuple[str, str | None]]:
    return [(r.body["data"]["qosStatus"], r.body["data"].get("statusInfo")) for r in receiver.wait_for(count)]


# -- lifecycle --------------------------------------------------------------------------------


def test_session_is_requested_then_available_then_expires(client: QodClient, receiver: Receiver) -> None:
    session = client.create_session(**session_fields(receiver.url, "tok-1", duration=60))
    assert session.qos_status is QosStatus.REQUESTED
    assert session.started_at is None and session.expires_at is None
    assert _statuses(receiver, 2) == [("AVAILABLE", None), ("UNAVAILABLE", "DURATION_EXPIRED")]
    ended = session.refresh()
    assert ended.qos_status is QosStatus.UNAVAILABLE and ended.status_info is StatusInfo.DURATION_EXPIRED
    assert ended.started_at is not None and ended.expires_at is not None
    assert (ended.expires_at - ended.started_at).total_seconds() == 60
    assert ended.duration == 60


def test_notifications_carry_the_contract_headers_and_body(client: QodClient, receiver: Receiver) -> None:
    session = client.create_session(**session_fields(receiver.url, "tok-1"))
    first, second = receiver.wait_for(2)
    for got in (first, second):
        assert got.headers["content-type"] == "application/cloudevents+json"
        assert got.headers["authorization"] == "Bearer tok-1"
        assert got.headers["x-correlator"]
        body = got.body
        assert body["type"] == TYPE_V1 and body["specversion"] == "1.0"
        assert body["datacontenttype"] == "application/json"
        assert body["data"]["sessionId"] == str(session.session_id)
        assert body["id"] and body["source"]
        datetime.fromisoformat(body["time"])
    assert "statusInfo" not in first.body["data"]
    assert first.body["id"] != second.body["id"]
    ended = session.refresh()
    assert second.body["time"] == ended.expires_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # type: ignore[union-attr]


def test_no_credential_means_no_authorization_header(client: QodClient, receiver: Receiver) -> None:
    client.create_session(**session_fields(receiver.url))
    assert "authorization" not in receiver.wait_for(1)[0].headers


def test_each_notification_arrives_exactly_once(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    sandbox.speed = 6000
    sessions = [
        client.create_session(**session_fields(receiver.url, device={"phoneNumber": f"+3670000{i:04d}"}))
        for i in range(20)
    ]
    got = receiver.wait_for(40)
    ids = [r.body["id"] for r in got]
    assert len(ids) == len(set(ids)) == 40
    for session in sessions:
        mine = [r.body["data"]["qosStatus"] for r in got if r.body["data"]["sessionId"] == str(session.session_id)]
        assert mine == ["AVAILABLE", "UNAVAILABLE"]


def test_delete_notifies_delete_requested_and_forgets(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    sandbox.speed = 1
    session = client.create_session(**session_fields(receiver.url, duration=3600))
    sandbox.advance(1)
    assert session.refresh().qos_status is QosStatus.AVAILABLE
    session.delete()
    assert _statuses(receiver, 2) == [("AVAILABLE", None), ("UNAVAILABLE", "DELETE_REQUESTED")]
    with pytest.raises(NotFound):
        session.refresh()
    # the device is free again
    client.create_session(**session_fields(duration=60))


def test_network_termination_keeps_the_session_readable_and_blocks_the_device(receiver: Receiver) -> None:
    with Sandbox(speed=1, retry_backoff=0.05, reuse=False) as sandbox, sandbox.client() as client:  # 360 s
        session = client.create_session(**session_fields(receiver.url, duration=3600))
        sandbox.advance(1)
        sandbox.terminate(session.session_id)
        assert _statuses(receiver, 2) == [("AVAILABLE", None), ("UNAVAILABLE", "NETWORK_TERMINATED")]
        with pytest.raises(Conflict) as exc:
            client.create_session(**session_fields())
        assert exc.value.code == "CONFLICT"
        sandbox.advance(300)
        assert session.refresh().status_info is StatusInfo.NETWORK_TERMINATED  # still readable at 300 s
        sandbox.advance(61)
        with pytest.raises(NotFound):
            session.refresh()  # gone after 360 s
        client.create_session(**session_fields())


def test_deleting_an_unavailable_session_sends_nothing(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    session = client.create_session(**session_fields(receiver.url, duration=60))
    receiver.wait_for(2)
    wait_until(lambda: len(sandbox.deliveries()) == 2, message="two delivery records")
    session.delete()
    with pytest.raises(NotFound):
        session.refresh()
    assert len(sandbox.deliveries()) == 2
    assert len(receiver.received) == 2


def test_expired_session_is_readable_and_frees_the_device(sandbox: Sandbox, client: QodClient) -> None:
    sandbox.speed = 1
    session = client.create_session(**session_fields(duration=60))
    sandbox.advance(61)
    assert session.refresh().status_info is StatusInfo.DURATION_EXPIRED
    with pytest.raises(Conflict) as exc:
        session.extend(10)  # an expired session answers 409, not 404
    assert exc.value.code == "QUALITY_ON_DEMAND.SESSION_EXTENSION_NOT_ALLOWED"
    client.create_session(**session_fields(duration=60))  # no 409: expiry frees the device


def test_second_session_for_a_device_is_409(client: QodClient) -> None:
    client.create_session(**session_fields(duration=3600))
    with pytest.raises(Conflict) as exc:
        client.create_session(**session_fields(device={"phoneNumber": PHONE, "ipv6Address": "2001:db8::1"}))
    assert exc.value.status == 409 and exc.value.code == "CONFLICT"


def test_extend_is_capped_at_the_profile_max_duration(sandbox: Sandbox, client: QodClient) -> None:
    sandbox.speed = 0.01  # REQUESTED for 100 real seconds, until the advance below
    session = client.create_session(**session_fields(qos_profile="QOS_L", duration=3600))
    with pytest.raises(Conflict) as exc:
        session.extend(60)  # still REQUESTED
    assert exc.value.code == "QUALITY_ON_DEMAND.SESSION_EXTENSION_NOT_ALLOWED"
    sandbox.advance(1)
    assert session.extend(600).duration == 4200
    capped = session.extend(10**6)
    assert capped.duration == 12 * 3600  # QOS_L maxDuration
    assert capped.expires_at is not None and capped.started_at is not None
    assert (capped.expires_at - capped.started_at).total_seconds() == 12 * 3600


def test_immediate_provisioning_returns_available_and_still_notifies(receiver: Receiver) -> None:
    with Sandbox(speed=600, provisioning_delay=0, reuse=False) as sandbox, sandbox.client() as client:
        session = client.create_session(**session_fields(receiver.url, duration=60))
        assert session.qos_status is QosStatus.AVAILABLE
        assert _statuses(receiver, 1) == [("AVAILABLE", None)]


def test_retrieve_sessions_by_device(client: QodClient) -> None:
    assert client.retrieve_sessions({"phoneNumber": PHONE}) == []
    session = client.create_session(**session_fields(duration=3600))
    found = client.retrieve_sessions({"phoneNumber": "36721601234567"})
    assert [s.session_id for s in found] == [session.session_id]
    assert found[0].device is not None and found[0].device.phone_number == PHONE


# -- timing -------------------------------------------------------------------------------------


class _Stalls:
    """How late this process's threads wake up while a block runs: what the OS, not the design, adds.

    The suite runs in parallel workers on few cores, so a timing guarantee is checked beyond the
    longest stall a plain sleeping thread of the same process saw in the same window."""

    def __init__(self, tick: float = 0.005) -> None:
        self.tick, self.longest_ms, self._stop = tick, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-stalls", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            time.sleep(self.tick)
            self.longest_ms = max(self.longest_ms, (time.monotonic() - start - self.tick) * 1000)

    def __enter__(self) -> _Stalls:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def test_status_changes_happen_on_time_at_high_speed(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    sandbox.speed = 60
    with _Stalls() as stalls:
        for i in range(10):
            fields = session_fields(receiver.url, device={"phoneNumber": f"+3671000{i:04d}"}, duration=30)
            client.create_session(**fields)
        receiver.wait_for(20, timeout=15)
        wait_until(lambda: len(sandbox.deliveries()) == 20, message="20 delivery records")
    first_attempts = [d for d in sandbox.deliveries() if d.attempt == 1]
    assert len(first_attempts) == 20
    lags = sorted(d.lag_ms for d in first_attempts)
    # Within 100 ms of due, beyond the longest stall the OS gave this process meanwhile (other
    # workers share the cores); one GC pause in this busy test process may hold up a few
    # (benchmarks/sandbox.py measures the figure in a clean process: all of 10,000 on time).
    slack = stalls.longest_ms
    assert lags[int(0.9 * len(lags))] < 100 + slack and lags[-1] < 1000 + slack, (lags, slack)


# -- retries --------------------------------------------------------------------------------------


def test_retries_deliver_once_with_the_same_event_id(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    receiver.script = [503, 500, 429]
    session = client.create_session(**session_fields(receiver.url, duration=3600))
    got = receiver.wait_for(1)
    wait_until(lambda: len(sandbox.deliveries()) == 4, message="four delivery records")
    attempts = [d for d in sandbox.deliveries() if d.session_id == str(session.session_id)]
    assert [d.outcome for d in attempts] == [Outcome.RETRY, Outcome.RETRY, Outcome.RETRY, Outcome.DELIVERED]
    assert [d.status_code for d in attempts] == [503, 500, 429, 204]
    assert {d.event_id for d in attempts} == {got[0].body["id"]}


def test_receiver_down_then_up(sandbox: Sandbox, client: QodClient) -> None:
    sandbox.notifier.backoff = 0.2
    # a port with nothing listening, then a receiver started on it
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    sink = f"http://127.0.0.1:{port}/sink"
    client.create_session(**session_fields(sink, duration=36_000))  # no expiry while the retries run
    wait_until(lambda: any(d.outcome is Outcome.RETRY for d in sandbox.deliveries()), message="a failed attempt")
    from qodlab._net.server import ServerThread

    from ..conftest import _receiver_app

    late = Receiver(ServerThread(None, port=port, name="late-receiver"))
    late.server.app = _receiver_app(late)
    late.server.start()
    try:
        got = late.wait_for(1, timeout=15)
        wait_until(lambda: sandbox.deliveries()[-1].outcome is Outcome.DELIVERED, message="the delivery record")
        attempts = sandbox.deliveries()
        assert attempts[0].error is not None and attempts[0].status_code is None
        assert attempts[-1].outcome is Outcome.DELIVERED
        assert {d.event_id for d in attempts} == {got[0].body["id"]}
        assert len(late.received) == 1
    finally:
        late.server.stop()


def test_retries_are_bounded(receiver: Receiver) -> None:
    with Sandbox(speed=600, max_attempts=3, retry_backoff=0.01, reuse=False) as sandbox, sandbox.client() as client:
        receiver.script = [503] * 10
        client.create_session(**session_fields(receiver.url, duration=3600))
        wait_until(lambda: any(d.outcome is Outcome.FAILED for d in sandbox.deliveries()), message="giving up")
        assert [d.attempt for d in sandbox.deliveries()] == [1, 2, 3]


def test_410_stops_notifications_for_the_session(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    receiver.script = [410]
    session = client.create_session(**session_fields(receiver.url, duration=60))
    wait_until(lambda: len(sandbox.deliveries()) == 2, message="two delivery records")
    assert [d.outcome for d in sandbox.deliveries()] == [Outcome.GONE, Outcome.SKIPPED]
    assert receiver.received == []
    assert session.refresh().qos_status is QosStatus.UNAVAILABLE


def test_other_4xx_is_not_retried(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    receiver.script = [401]
    client.create_session(**session_fields(receiver.url, duration=3600))
    wait_until(lambda: sandbox.deliveries(), message="a delivery record")
    assert [(d.outcome, d.status_code) for d in sandbox.deliveries()] == [(Outcome.REJECTED, 401)]


def test_deliveries_over_http_hold_no_token(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    client.create_session(**session_fields(receiver.url, "very-secret-token", duration=60))
    receiver.wait_for(2)
    wait_until(lambda: len(sandbox.deliveries()) == 2, message="records")
    response = httpx.get(f"{sandbox.url}/_sandbox/deliveries")
    assert response.status_code == 200
    assert [d["outcome"] for d in response.json()] == ["delivered", "delivered"]
    assert "very-secret-token" not in response.text
    assert "very-secret-token" not in repr(sandbox.deliveries())


# -- faults -----------------------------------------------------------------------------------------


def test_fault_drop(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    sandbox.drop_notifications(1)
    client.create_session(**session_fields(receiver.url, duration=60))
    got = receiver.wait_for(1)
    assert got[0].body["data"]["qosStatus"] == "UNAVAILABLE"
    wait_until(lambda: len(sandbox.deliveries()) == 2, message="records")
    assert [d.outcome for d in sandbox.deliveries()] == [Outcome.DROPPED, Outcome.DELIVERED]


def test_fault_duplicate(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    sandbox.duplicate_notifications(1)
    client.create_session(**session_fields(receiver.url, duration=3600))
    got = receiver.wait_for(2)
    assert got[0].body == got[1].body


def test_fault_delay_keeps_order(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    sandbox.delay_notifications(0.3, count=1)
    client.create_session(**session_fields(receiver.url, duration=60))
    got = receiver.wait_for(2)
    assert [r.body["data"]["qosStatus"] for r in got] == ["AVAILABLE", "UNAVAILABLE"]
    wait_until(lambda: len(sandbox.deliveries()) == 2, message="records")
    assert sandbox.deliveries()[0].lag_ms >= 300


def test_fault_provisioning_by_profile_and_device(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    sandbox.fail_provisioning(profile="QOS_M")
    session = client.create_session(**session_fields(receiver.url, qos_profile="QOS_M", duration=3600))
    assert _statuses(receiver, 1) == [("UNAVAILABLE", "NETWORK_TERMINATED")]
    assert session.refresh().started_at is None
    sandbox.fail_provisioning(device={"phoneNumber": "+3679999999"})
    other = client.create_session(**session_fields(device={"phoneNumber": "+3679999999"}, duration=3600))
    wait_until(lambda: other.refresh().qos_status is QosStatus.UNAVAILABLE, message="failed provisioning")


def test_fault_api_calls_over_http(sandbox: Sandbox) -> None:
    response = httpx.post(f"{sandbox.url}/_sandbox/faults/api", json={"status": 429, "count": 2, "retryAfter": 3})
    assert response.status_code == 204
    url = f"{sandbox.url}/qos-profiles/v1/qos-profiles/QOS_L"
    for _ in range(2):
        refused = httpx.get(url)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "3"
        assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert httpx.get(url).status_code == 200


def test_faults_over_http(sandbox: Sandbox, client: QodClient, receiver: Receiver) -> None:
    session = client.create_session(**session_fields(receiver.url, duration=3600))
    receiver.wait_for(1)
    assert httpx.post(f"{sandbox.url}/_sandbox/faults/notifications", json={"kind": "duplicate"}).status_code == 204
    terminated = httpx.post(f"{sandbox.url}/_sandbox/sessions/{session.session_id}/terminate")
    assert terminated.json()["statusInfo"] == "NETWORK_TERMINATED"
    assert len(receiver.wait_for(3)) == 3
    bad = httpx.post(f"{sandbox.url}/_sandbox/faults/notifications", json={"kind": "explode"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_ARGUMENT"


def test_clock_over_http(sandbox: Sandbox) -> None:
    before = httpx.get(f"{sandbox.url}/_sandbox/clock").json()
    after = httpx.put(f"{sandbox.url}/_sandbox/clock", json={"speed": 2, "advance": 3600}).json()
    assert after["speed"] == 2 and sandbox.speed == 2
    assert (datetime.fromisoformat(after["now"]) - datetime.fromisoformat(before["now"])).total_seconds() >= 3600


# -- errors per the contract --------------------------------------------------------------------


def _post(sandbox: Sandbox, path: str, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{sandbox.url}/quality-on-demand/v1{path}", **kwargs)  # type: ignore[arg-type]


def _camara(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["message"]
    return str(body["message"])


CREDENTIAL = {
    "credentialType": "ACCESSTOKEN",
    "accessToken": "t",
    "accessTokenExpiresUtc": "2099-01-01T00:00:00Z",
    "accessTokenType": "bearer",
}
BODY = {
    "device": {"phoneNumber": PHONE},
    "applicationServer": {"ipv4Address": "233.252.0.2"},
    "qosProfile": "QOS_L",
    "duration": 60,
}


@pytest.mark.parametrize(
    ("change", "status", "code", "says"),
    [
        ({"duration": 0}, 400, "INVALID_ARGUMENT", "duration"),
        ({"duration": "long"}, 400, "INVALID_ARGUMENT", "duration"),
        ({"applicationServer": None}, 400, "INVALID_ARGUMENT", "applicationServer"),
        ({"device": {}}, 400, "INVALID_ARGUMENT", "identifier"),
        ({"device": {"ipv4Address": {"publicAddress": "1.2.3.4"}}}, 400, "INVALID_ARGUMENT", "ipv4Address"),
        ({"device": {"phoneNumber": "+0"}}, 400, "INVALID_ARGUMENT", "phoneNumber"),
        ({"devicePorts": {"ports": [70000]}}, 400, "INVALID_ARGUMENT", "devicePorts"),
        ({"qosProfile": "NOPE_1"}, 400, "INVALID_ARGUMENT", "qosProfile"),
        ({"duration": 86401}, 400, "QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE", "duration"),
        ({"sink": "ftp://x/y"}, 400, "INVALID_SINK", "sink"),
        ({"sink": "http://example.com/sink"}, 400, "INVALID_SINK", "loopback"),
        (
            {"sinkCredential": {"credentialType": "PLAIN", "identifier": "a", "secret": "b"}},
            400,
            "INVALID_CREDENTIAL",
            "ACCESSTOKEN",
        ),
        (
            {"sinkCredential": {**CREDENTIAL, "accessTokenType": "mac"}},
            400,
            "INVALID_TOKEN",
            "bearer",
        ),
        ({"device": None}, 422, "MISSING_IDENTIFIER", "device"),
        ({"qosProfile": "QOS_XL"}, 422, "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE", "INACTIVE"),
        ({"qosProfile": "QOS_LEGACY"}, 422, "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE", "DEPRECATED"),
    ],
)
def test_create_errors(sandbox: Sandbox, change: dict[str, object], status: int, code: str, says: str) -> None:
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    assert says in _camara(_post(sandbox, "/sessions", json=body), status, code)


def test_malformed_json_is_400(sandbox: Sandbox) -> None:
    response = _post(sandbox, "/sessions", content=b"{not json", headers={"content-type": "application/json"})
    assert "malformed JSON" in _camara(response, 400, "INVALID_ARGUMENT")
    assert "required" in _camara(_post(sandbox, "/sessions"), 400, "INVALID_ARGUMENT")
    _camara(_post(sandbox, "/sessions", json=[1, 2]), 400, "INVALID_ARGUMENT")


def test_non_uuid_is_400_and_unknown_is_404(sandbox: Sandbox) -> None:
    base = f"{sandbox.url}/quality-on-demand/v1/sessions"
    assert "sessionId" in _camara(httpx.get(f"{base}/not-a-uuid"), 400, "INVALID_ARGUMENT")
    _camara(httpx.get(f"{base}/{uuid.uuid4()}"), 404, "NOT_FOUND")
    _camara(httpx.delete(f"{base}/{uuid.uuid4()}"), 404, "NOT_FOUND")
    _camara(httpx.post(f"{base}/{uuid.uuid4()}/extend", json={"requestedAdditionalDuration": 5}), 404, "NOT_FOUND")
    _camara(
        httpx.post(f"{base}/{uuid.uuid4()}/extend", json={"requestedAdditionalDuration": 0}), 400, "INVALID_ARGUMENT"
    )


def test_unknown_path_and_method(sandbox: Sandbox) -> None:
    _camara(httpx.get(f"{sandbox.url}/nowhere"), 404, "NOT_FOUND")
    _camara(httpx.put(f"{sandbox.url}/quality-on-demand/v1/sessions"), 405, "METHOD_NOT_ALLOWED")


def test_retrieve_sessions_needs_a_device(sandbox: Sandbox) -> None:
    _camara(_post(sandbox, "/retrieve-sessions", json={}), 422, "MISSING_IDENTIFIER")


def test_x_correlator_is_echoed(sandbox: Sandbox) -> None:
    ok = httpx.get(f"{sandbox.url}/qos-profiles/v1/qos-profiles/QOS_E", headers={"x-correlator": "abc-123"})
    assert ok.headers["x-correlator"] == "abc-123"
    error = _post(sandbox, "/sessions", json={}, headers={"x-correlator": "err-9"})
    assert error.headers["x-correlator"] == "err-9"
    _camara(httpx.get(f"{sandbox.url}/health", headers={"x-correlator": "bad value!"}), 400, "INVALID_ARGUMENT")


def test_api_key_required_when_set() -> None:
    with Sandbox(api_key="k-123", reuse=False) as sandbox:
        url = f"{sandbox.url}/qos-profiles/v1/qos-profiles/QOS_E"
        _camara(httpx.get(url), 401, "UNAUTHENTICATED")
        _camara(httpx.get(url, headers={"Authorization": "Bearer wrong"}), 401, "UNAUTHENTICATED")
        assert httpx.get(url, headers={"Authorization": "Bearer k-123"}).status_code == 200
        assert httpx.get(url, headers={"x-rapidapi-key": "k-123"}).status_code == 200
        assert httpx.get(f"{sandbox.url}/docs").status_code == 200
        with sandbox.client() as client:
            assert client.get_profile("QOS_E").name == "QOS_E"
            assert "k-123" not in repr(client)


def test_strict_mode_requires_https_sinks() -> None:
    with Sandbox(strict=True, reuse=False) as sandbox, sandbox.client() as client:
        with pytest.raises(InvalidArgument) as exc:
            client.create_session(**session_fields("http://127.0.0.1:9/sink"))
        assert exc.value.code == "INVALID_SINK"
        client.create_session(**session_fields("https://127.0.0.1:9/sink"))


def test_profiles(client: QodClient) -> None:
    names = {p.name for p in client.list_profiles()}
    assert {"QOS_E", "QOS_S", "QOS_M", "QOS_L", "QOS_XL", "QOS_LEGACY"} <= names
    assert [p.name for p in client.list_profiles(status="INACTIVE")] == ["QOS_XL"]
    assert [p.name for p in client.list_profiles(name="QOS_M")] == ["QOS_M"]
    assert client.list_profiles(name="QOS_M", status="DEPRECATED") == []
    profile = client.get_profile("QOS_L")
    assert profile.max_duration is not None and profile.max_duration.seconds == 12 * 3600
    assert profile.max_downstream_rate is not None and profile.max_downstream_rate.bps == 40e6
    with pytest.raises(NotFound):
        client.get_profile("QOS_NONE")


def test_unprocessable_is_catchable(client: QodClient) -> None:
    with pytest.raises(Unprocessable) as exc:
        client.create_session(**session_fields(qos_profile="QOS_XL"))
    assert exc.value.code == "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE"


# -- running ------------------------------------------------------------------------------------


def test_a_rerun_line_starts_the_sandbox_afresh_and_another_line_beside_it() -> None:
    made = []
    with pytest.warns(SettingsChanged, match=r"speed=20 \(was 10"):
        for speed in (10, 10, 20):
            made.append(Sandbox(speed=speed))  # the same line, run again: afresh each time, on the same URL
    first, second, third = made
    beside = Sandbox(speed=20)  # another line: another sandbox
    try:
        assert not first.running and not second.running and third.running and third.speed == 20
        assert first.url == second.url == third.url and first.replaced_by is second and second.replaced_by is third
        assert beside.running and beside.url != third.url
    finally:
        third.stop()
        beside.stop()


def test_stop_frees_the_port() -> None:
    sandbox = Sandbox(reuse=False)
    port = sandbox.port
    sandbox.stop()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_port_in_use_raises_at_once_with_the_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServerStartError, match=str(port)):
            Sandbox(port=port, reuse=False)


def test_openapi_docs_are_served(sandbox: Sandbox) -> None:
    schema = httpx.get(f"{sandbox.url}/openapi.json").json()
    assert "/quality-on-demand/v1/sessions" in schema["paths"]
    assert "/qos-profiles/v1/retrieve-qos-profiles" in schema["paths"]
    assert httpx.get(f"{sandbox.url}/docs").status_code == 200


# -- a provider that delivers no notifications (Commonalities r4.4) -----------------------------------

SINK = "https://consumer.example/notifications"
_SERVER = {"ipv4Address": "233.252.0.2"}
# Every create the sandbox serves, with a sink in the request's own words: (path, body without the sink, sink fields)
CREATES = {
    "QoD 1.1.0": (
        "/quality-on-demand/v1/sessions",
        {"applicationServer": _SERVER, "qosProfile": "QOS_L", "duration": 60},
        {
            "sink": SINK,
            "sinkCredential": {
                "credentialType": "ACCESSTOKEN",
                "accessToken": "t",
                "accessTokenType": "bearer",
                "accessTokenExpiresUtc": "2030-01-01T00:00:00Z",
            },
        },
    ),
    "QoD 1.2.0-rc.3": (
        "/quality-on-demand/v1rc3/sessions",
        {"applicationServer": {"ipAddresses": ["233.252.0.2"]}, "qosProfile": "QOS_L", "duration": 60},
        {"sink": SINK},
    ),
    "QoS Provisioning 0.3.0": ("/qos-provisioning/v0.3/qos-assignments", {"qosProfile": "QOS_E"}, {"sink": SINK}),
    "QoS Provisioning 0.4.0-rc.1": (
        "/qos-provisioning/v0.4rc1/qos-assignments",
        {"qosProfile": "QOS_E"},
        {"sink": SINK},
    ),
    "Network as Code /qod/v0 (SDK 4.x-7.x)": (
        "/qod/v0/sessions",
        {"applicationServer": _SERVER, "qosProfile": "QOS_L", "duration": 60},
        {"webhook": {"notificationUrl": SINK, "notificationAuthToken": "Bearer t"}},
    ),
    "Network as Code root (SDK 1.x-3.x)": (
        "/sessions",
        {"applicationServer": _SERVER, "qosProfile": "QOS_L"},
        {"notificationUrl": SINK},
    ),
}


@pytest.fixture(scope="module")
def silent() -> Iterator[Sandbox]:
    """A sandbox that delivers no notifications: `Sandbox(notifications=False)`."""
    with Sandbox(speed=600, notifications=False, reuse=False) as sb:
        yield sb


@pytest.mark.parametrize("api", list(CREATES))
def test_without_notifications_a_create_with_a_sink_is_422_and_creates_nothing(silent: Sandbox, api: str) -> None:
    path, body, sink = CREATES[api]
    device = {"phoneNumber": f"+367216012360{list(CREATES).index(api):02d}"}
    refused = httpx.post(
        f"{silent.url}{path}", json={**body, "device": device, **sink}, headers={"x-correlator": "n-1"}
    )
    assert _camara(refused, 422, "EVENT_NOTIFICATIONS_NOT_SUPPORTED") and refused.headers["x-correlator"] == "n-1"
    assert "without sink" in refused.json()["message"]
    assert not [s for s in silent.engine.sessions() if s.device_keys == (("phoneNumber", device["phoneNumber"]),)]
    made = httpx.post(f"{silent.url}{path}", json={**body, "device": device})  # the consumer retries without it
    assert made.status_code == 201, made.text
    assert made.json().get("qosStatus", made.json().get("status")) == "REQUESTED"
    if "qos-provisioning" in path:  # the device has it now: the refused one did not block it
        found = httpx.post(
            f"{silent.url}{path.replace('qos-assignments', 'retrieve-qos-assignment')}", json={"device": device}
        )
        assert found.status_code == 200 and found.json()["assignmentId"] == made.json()["assignmentId"]
    assert silent.deliveries() == []


def test_without_notifications_a_bad_sink_is_still_400_and_the_client_raises_the_code(silent: Sandbox) -> None:
    from qodlab import NotificationsNotSupported

    bad = _post(
        silent,
        "/sessions",
        json={**CREATES["QoD 1.1.0"][1], "device": {"phoneNumber": PHONE}, "sink": "ftp://consumer.example"},
    )
    assert _camara(bad, 400, "INVALID_SINK")
    with silent.client() as client:
        with pytest.raises(NotificationsNotSupported) as refused:
            client.create_session(**session_fields(SINK, "t"))
        assert isinstance(refused.value, Unprocessable) and refused.value.status == 422
        assert refused.value.code == "EVENT_NOTIFICATIONS_NOT_SUPPORTED"
        assert "EVENT_NOTIFICATIONS_NOT_SUPPORTED" in str(refused.value) and "sink=None" in str(refused.value)
        with pytest.raises(NotificationsNotSupported):
            client.assign_qos({"phoneNumber": "+36721601236099"}, "QOS_E", sink=SINK)
        session = client.create_session(**session_fields(duration=3600))  # six real seconds at 600x
        assert session.refresh().qos_status in ("REQUESTED", "AVAILABLE")
        session.delete()
    with Sandbox(speed=600, reuse=False) as notifying:  # the setting is part of what makes a sandbox
        assert notifying is not silent and notifying.engine.notifications


def test_without_notifications_the_async_client_raises_the_code_too(silent: Sandbox) -> None:
    from qodlab import NotificationsNotSupported

    async def scenario() -> tuple[str, str, str]:
        async with silent.async_client() as client:
            with pytest.raises(NotificationsNotSupported) as refused:
                await client.create_session(**session_fields(SINK, "t"))
            with pytest.raises(NotificationsNotSupported) as refused_assignment:
                await client.assign_qos({"phoneNumber": "+36721601236098"}, "QOS_E", sink=SINK)
            session = await client.create_session(**session_fields(duration=3600))  # retried without a sink: made
            status = (await session.refresh()).qos_status
            await session.delete()
            return refused.value.code, refused_assignment.value.code, status

    session_code, assignment_code, status = asyncio.run(scenario())
    assert session_code == assignment_code == "EVENT_NOTIFICATIONS_NOT_SUPPORTED"
    assert status in ("REQUESTED", "AVAILABLE")


def test_sandbox_no_notifications_flag() -> None:
    process, first = qodlab_process("sandbox", "--no-notifications")
    try:
        assert process.stdout is not None and "serving" in first, first
        root = first.split()[3]
        lines = [process.stdout.readline() for _ in range(5)]
        assert any("EVENT_NOTIFICATIONS_NOT_SUPPORTED" in line for line in lines), lines
        path, body, sink = CREATES["QoD 1.2.0-rc.3"]
        refused = httpx.post(f"{root}{path}", json={**body, "device": {"phoneNumber": PHONE}, **sink})
        assert _camara(refused, 422, "EVENT_NOTIFICATIONS_NOT_SUPPORTED")
    finally:
        end_process(process)


@pytest.mark.parametrize("release", apis.RELEASES, ids=lambda r: r.name)
def test_each_release_notifies_with_its_content_type(sandbox: Sandbox, receiver: Receiver, release: Release) -> None:
    """What the real providers send: application/json from Network as Code's root release (as CAMARA
    0.8/0.9 did), application/cloudevents+json from CAMARA 0.10 and 1.x (smee.io refuses the latter)."""
    if release.spoken:
        with sandbox.client(release=release.name) as client:
            client.create_session(**session_fields(receiver.url, "t0ken"))
    else:  # the root release, spoken by network-as-code SDK 1.x-3.x alone
        body = {
            "qosProfile": "QOS_L",
            "device": {"phoneNumber": PHONE},
            "applicationServer": {"ipv4Address": "233.252.0.2"},
            "notificationUrl": receiver.url,
            "notificationAuthToken": "Bearer t0ken",
        }
        assert httpx.post(f"{sandbox.url}{release.qod_path}/sessions", json=body).status_code == 201
    [received] = receiver.wait_for(1)
    assert received.headers["content-type"] == release.notification_content_type
    assert received.headers["authorization"] == "Bearer t0ken"
    expected = {"nac-root": "application/json", "0.10": "application/cloudevents+json"}
    assert release.notification_content_type == expected.get(release.name, "application/cloudevents+json")


def test_the_readme_s_retention_expired_readable_360_s_deleted_gone_at_once() -> None:
    """Issue 34 §9: the README said every ended session stays readable for 360 s; a deleted one is 404 at once."""
    with Sandbox(speed=1, provisioning_delay=0, reuse=False) as sandbox, sandbox.client() as client:
        fields = {"application_server": "233.252.0.2", "qos_profile": "QOS_L", "duration": 60}
        expired = client.create_session(device={"phoneNumber": "+36721601234567"}, **fields)
        deleted = client.create_session(device={"phoneNumber": "+36721601234568"}, **fields)
        client.delete_session(deleted.session_id)
        with pytest.raises(NotFound):
            client.get_session(deleted.session_id)
        sandbox.advance(61)
        assert client.get_session(expired.session_id).status_info.value == "DURATION_EXPIRED"
        sandbox.advance(340)  # 20 s to spare: the clock also runs at real time
        assert client.get_session(expired.session_id).qos_status.value == "UNAVAILABLE"
        sandbox.advance(40)
        with pytest.raises(NotFound):
            client.get_session(expired.session_id)
