"""QoS Provisioning (0.3.0 and 0.4.0-rc.1) on the sandbox's one engine, through the client, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from qodlab import Conflict, EventLog, Listener, NotFound, QodClient, Sandbox
from qodlab.notifications import TYPE_PROVISIONING

VERSIONS = {"1.1.0": "/qos-provisioning/v0.3", "1.2.0-rc.3": "/qos-provisioning/v0.4rc1"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(speed=60, reuse=False) as running:
        yield running


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener(EventLog()) as running:
        yield running


@pytest.mark.parametrize("api", list(VERSIONS))
def test_an_assignment_lives_until_revoked(sandbox: Sandbox, listener: Listener, api: str) -> None:
    phone = {"phoneNumber": "+36721601235001"}
    with QodClient(sandbox.url, release=api) as client:
        assert client.provisioning_url == f"{sandbox.url}{VERSIONS[api]}"
        assignment = client.assign_qos(phone, "QOS_L", sink=listener.url, sink_token=listener.token)
        assert assignment.status == "REQUESTED" and assignment.device is not None
        listener.log.wait_for(str(assignment.assignment_id), "AVAILABLE", timeout=10)
        with pytest.raises(Conflict):  # one assignment per device
            client.assign_qos(phone, "QOS_M")
        assert client.assignment_for(phone).assignment_id == assignment.assignment_id
        session = client.create_session(
            device=phone, application_server="233.252.0.2", qos_profile="QOS_M", duration=600
        )  # a session beside it: two APIs
        assert assignment.revoke() is True  # 202: under way
        assert (assignment.status, assignment.status_info) == ("AVAILABLE", "DELETE_REQUESTED")
        ended = listener.log.wait_for(str(assignment.assignment_id), "UNAVAILABLE", timeout=10)
        assert ended.status_info == "DELETE_REQUESTED" and ended.shape == "qos-provisioning"
        assert assignment.refresh().status == "UNAVAILABLE"  # readable for the retention time
        assert assignment.revoke() is False  # 204: nothing under way, and it is gone
        with pytest.raises(NotFound):
            client.get_assignment(assignment.assignment_id)
        with pytest.raises(NotFound):
            client.get_session(assignment.assignment_id)  # an assignment is not a session
        session.delete()
    frame = listener.log.df
    kinds = dict(zip(frame["session_id"].astype(str), frame["kind"].astype(str), strict=True))
    assert kinds[str(assignment.assignment_id)] == "assignment"
    raw = frame[frame["kind"] == "assignment"]["raw"].iloc[0]
    assert TYPE_PROVISIONING in raw and '"status":' in raw  # what 0.4.0-rc.1 fixed, sent on both


def test_the_network_ends_an_assignment_and_it_lifts_the_link(sandbox: Sandbox, listener: Listener) -> None:
    device = {"phoneNumber": "+36721601235002"}
    with sandbox.client() as client:
        assignment = client.assign_qos(device, "QOS_L", sink=listener.url, sink_token=listener.token)
        listener.log.wait_for(str(assignment.assignment_id), "AVAILABLE", timeout=10)
        sandbox.advance(5)
        lifted = sandbox.metrics(device).tail(3)
        assert set(lifted["qos_profile"]) == {"QOS_L"}  # the link follows the assignment like a session
        sandbox.terminate(assignment.assignment_id)
        ended = listener.log.wait_for(str(assignment.assignment_id), "UNAVAILABLE", timeout=10)
        assert ended.status_info == "NETWORK_TERMINATED"


def test_the_listener_takes_0_3_0s_qos_status_too(listener: Listener) -> None:
    event = {
        "id": "p-1",
        "source": "urn:operator",
        "type": TYPE_PROVISIONING,
        "specversion": "1.0",
        "time": "2026-12-01T10:00:00Z",
        "data": {"assignmentId": "a-1", "qosStatus": "AVAILABLE"},
    }
    headers = {"authorization": f"Bearer {listener.token}", "content-type": "application/cloudevents+json"}
    answer = httpx.post(listener.url, json=event, headers=headers)
    assert answer.status_code == 204
    assert listener.log.df.iloc[0]["kind"] == "assignment" and listener.log.df.iloc[0]["qos_status"] == "AVAILABLE"


def test_0_4_is_strict_and_0_3_is_not(sandbox: Sandbox) -> None:
    body = {"device": {"phoneNumber": "+36721601235003"}, "qosProfile": "QOS_E", "priority": 1}
    strict = httpx.post(f"{sandbox.url}/qos-provisioning/v0.4rc1/qos-assignments", json=body)
    assert strict.status_code == 400 and strict.json()["code"] == "INVALID_ARGUMENT"
    assert httpx.post(f"{sandbox.url}/qos-provisioning/v0.3/qos-assignments", json=body).status_code == 201
    none = httpx.post(
        f"{sandbox.url}/qos-provisioning/v0.3/retrieve-qos-assignment",
        json={"device": {"phoneNumber": "+36721601235999"}},
    )
    assert none.status_code == 404 and none.json()["code"] == "NOT_FOUND"


def test_with_access_tokens_each_operation_needs_its_scope() -> None:
    with Sandbox(auth="oidc", speed=60, reuse=False) as oidc:
        url = f"{oidc.url}/qos-provisioning/v0.4rc1/qos-assignments"
        body = {"device": {"phoneNumber": "+36721601235004"}, "qosProfile": "QOS_E"}
        sessions_only = oidc.provider.mint("app", ["quality-on-demand:sessions:create"])  # type: ignore[union-attr]
        refused = httpx.post(url, json=body, headers={"authorization": f"Bearer {sessions_only}"})
        assert refused.status_code == 403 and "qos-provisioning:qos-assignments:create" in refused.json()["message"]
        with oidc.client() as client:  # its own client asks for the provisioning scopes too
            assert client.assign_qos(body["device"], "QOS_E").status == "REQUESTED"


def test_a_watcher_polls_an_assignment_into_the_log(sandbox: Sandbox) -> None:
    from qodlab import Watcher

    log = EventLog()
    with sandbox.client() as client:
        assignment = client.assign_qos({"phoneNumber": "+36721601235005"}, "QOS_M")
        watcher = Watcher(client, log, interval=0.2, clock=sandbox.clock)  # its times on the sandbox clock
        try:
            watcher.watch_assignment(assignment.assignment_id)
            log.wait_for(str(assignment.assignment_id), "AVAILABLE", timeout=10)
            client.revoke_assignment(assignment.assignment_id)
            ended = log.wait_for(str(assignment.assignment_id), "UNAVAILABLE", timeout=10)
        finally:
            watcher.stop()
    assert ended.status_info == "DELETE_REQUESTED" and ended.shape == "poll-assignment"
    assert set(log.df["kind"]) == {"assignment"}
    assert list(log.intervals()["qos_status"].astype(str))[-2:] == ["AVAILABLE", "UNAVAILABLE"]


def test_a_synchronous_revocation_is_204_and_notified(listener: Listener) -> None:
    with Sandbox(speed=60, revocation_delay=0, reuse=False) as sandbox, sandbox.client() as client:
        assignment = client.assign_qos(
            {"phoneNumber": "+36721601235006"}, "QOS_E", sink=listener.url, sink_token=listener.token
        )
        listener.log.wait_for(str(assignment.assignment_id), "AVAILABLE", timeout=10)
        assert assignment.revoke() is False  # 204: done at once
        ended = listener.log.wait_for(str(assignment.assignment_id), "UNAVAILABLE", timeout=10)
        assert ended.status_info == "DELETE_REQUESTED"
