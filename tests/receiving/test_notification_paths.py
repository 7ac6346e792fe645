"""Every way notifications reach a notebook, with a strict sandbox standing in for a real network.

Strict means CAMARA's https-only sinks: the sandbox cannot reach the listener's http loopback
URL, as no real network can. Each path takes a session through AVAILABLE and then UNAVAILABLE /
DELETE_REQUESTED into a durable log, over real HTTP (TLS with a private CA minted by trustme).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from qodlab import CreateSession, EventLog, InvalidArgument, Listener, QodClient, Relay, Sandbox, Watcher, Workbench
from qodlab.errors import InvalidRequest
from qodlab.sandbox.tls import LocalCertificates as Tls

from ..conftest import session_fields, wait_until


@pytest.fixture
def network(tls: Tls) -> Iterator[Sandbox]:
    """The stand-in for a real network: strict, served over HTTPS, trusting only the test CA."""
    with Sandbox(
        speed=60, strict=True, certfile=tls.certfile, keyfile=tls.keyfile, cafile=tls.cafile, reuse=False
    ) as sandbox:
        yield sandbox


def _lifecycle(network: Sandbox, log: EventLog, sink: str | None = None, token: str | None = None) -> str:
    """Create a session, wait until AVAILABLE, delete it, wait until UNAVAILABLE; returns its id."""
    with network.client() as client:
        session = client.create_session(**session_fields(sink, token, duration=600))
        session_id = str(session.session_id)
        log.wait_for(session_id, "AVAILABLE", timeout=15)
        session.delete()
        log.wait_for(session_id, "UNAVAILABLE", timeout=15, status_info="DELETE_REQUESTED")
    return session_id


def _on_disk(path: Path, session_id: str) -> list[tuple[str, str]]:
    frame = EventLog.open(path).df
    frame = frame[frame["session_id"] == session_id]
    return [(str(status), str(shape)) for status, shape in zip(frame["qos_status"], frame["shape"], strict=True)]


def test_the_network_cannot_reach_a_loopback_listener(network: Sandbox) -> None:
    with Listener(EventLog()) as listener, network.client() as client, pytest.raises(InvalidArgument) as refused:
        client.create_session(**session_fields(listener.url, listener.token))
    assert refused.value.code == "INVALID_SINK"


def test_relay_through_qodlab_relay(network: Sandbox, tls: Tls, tmp_path: Path) -> None:
    db = tmp_path / "events.sqlite"
    with (
        Relay(certfile=tls.certfile, keyfile=tls.keyfile) as relay,
        Listener(EventLog(db), relay=relay.new_channel(), cafile=tls.cafile) as listener,
    ):
        assert listener.url.startswith("https://")
        session_id = _lifecycle(network, listener.log, listener.url, listener.token)
    assert _on_disk(db, session_id) == [("AVAILABLE", "cloudevent-v1"), ("UNAVAILABLE", "cloudevent-v1")]


def test_relay_through_the_sandboxs_own_relay(network: Sandbox, tls: Tls, tmp_path: Path) -> None:
    db = tmp_path / "events.sqlite"
    with Listener(EventLog(db), relay=network.new_channel(), cafile=tls.cafile) as listener:
        assert listener.url.startswith(f"{network.relay_url}/")
        session_id = _lifecycle(network, listener.log, listener.url, listener.token)
    assert _on_disk(db, session_id) == [("AVAILABLE", "cloudevent-v1"), ("UNAVAILABLE", "cloudevent-v1")]


def test_polling_alone(network: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "events.sqlite"
    log = EventLog(db)
    with network.client() as client, Watcher(client, log, interval=0.1, clock=network.clock) as watcher:
        session = client.create_session(**session_fields(duration=600))  # no sink at all
        session_id = str(session.session_id)
        watcher.watch(session_id)
        log.wait_for(session_id, "AVAILABLE", timeout=15)
        session.delete()
        log.wait_for(session_id, "UNAVAILABLE", timeout=15, status_info="DELETE_REQUESTED")
    assert _on_disk(db, session_id)[-2:] == [("AVAILABLE", "poll"), ("UNAVAILABLE", "poll")]


def test_a_public_url_over_https(network: Sandbox, tls: Tls, tmp_path: Path) -> None:
    with socket.socket() as probe:  # the port the tunnel forwards to
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = tmp_path / "events.sqlite"
    public = f"https://localhost:{port}/qod"  # as a tunnel or reverse proxy would publish it
    with Listener(EventLog(db), port=port, public_url=public, certfile=tls.certfile, keyfile=tls.keyfile) as listener:
        assert listener.url == public and listener.local_url == f"https://127.0.0.1:{port}/qod"
        session_id = _lifecycle(network, listener.log, listener.url, listener.token)
    assert _on_disk(db, session_id) == [("AVAILABLE", "cloudevent-v1"), ("UNAVAILABLE", "cloudevent-v1")]


# -- the choice, made for the user ---------------------------------------------------------------


def test_auto_is_direct_on_a_sandbox(sandbox: Sandbox) -> None:
    with Listener(EventLog()) as listener:
        bench = Workbench(sandbox.client(), listener.log, listener, sandbox)
        assert bench.notifications == "direct" and bench.watcher is None
        assert bench.how.startswith("direct to 127.0.0.1:") and bench.sink == (listener.url, listener.token)


def test_auto_is_relay_with_polling_as_a_safety_net(network: Sandbox, tls: Tls) -> None:
    with Listener(EventLog(), relay=network.new_channel(), cafile=tls.cafile) as listener:
        remote = QodClient("https://api.operator.example", token="t")
        bench = Workbench(remote, listener.log, listener)
        try:
            assert bench.notifications == "relay" and bench.watcher is not None
            assert bench.watcher.only_missing is not None
            assert bench.how == "relay via 127.0.0.1, token checked, polling every 5 s as a safety net"
        finally:
            bench.close()


def test_auto_polls_a_real_network_without_a_relay() -> None:
    remote = QodClient("https://api.operator.example", token="t")
    bench = Workbench(remote, EventLog())
    try:
        assert bench.notifications == "poll" and bench.sink is None
        assert bench.how == "polling every 5 s: no public URL"
    finally:
        bench.close()


def test_an_impossible_choice_says_why() -> None:
    with pytest.raises(InvalidRequest, match="relay") as refused:
        Workbench(QodClient("https://api.operator.example"), EventLog(), notifications="relay")
    assert refused.value.field == "notifications"
    with pytest.raises(InvalidRequest, match="'direct' needs a listener"):
        Workbench(QodClient("https://api.operator.example"), EventLog(), notifications="direct")


def test_polling_chosen_on_a_sandbox_starts_no_listener_and_says_so(sandbox: Sandbox) -> None:
    from qodlab.widgets.dashboard import dashboard

    board = dashboard(sandbox=sandbox, notifications="poll", poll_interval=0.2)
    try:
        assert board.workbench.notifications == "poll" and board.workbench.listener is None
        assert "notifications: polling every 0.2 s, as chosen" in board.header.value
    finally:
        board.close()


def test_auto_polls_when_the_provider_refuses_a_sink_and_says_why() -> None:
    """Commonalities r4.4: a create with a sink is 422 EVENT_NOTIFICATIONS_NOT_SUPPORTED; on "auto" the
    workbench sends it again without one and polls, for sessions and assignments alike."""
    from qodlab.widgets.dashboard import dashboard

    with Sandbox(speed=60, notifications=False, reuse=False) as silent:
        board = dashboard(sandbox=silent, poll_interval=0.2)
        try:
            bench = board.workbench
            assert bench.notifications == "direct" and bench.sink is not None  # nothing refused yet
            board.form.device.phone.value = "+36721601237001"
            outcome = board.form.submit()
            assert outcome is not None and outcome.ok and outcome.session is not None, outcome
            assert bench.notifications == "poll" and bench.refused == "EVENT_NOTIFICATIONS_NOT_SUPPORTED"
            assert bench.how == "polling every 0.2 s: the API delivers none (422 EVENT_NOTIFICATIONS_NOT_SUPPORTED)"
            assert "EVENT_NOTIFICATIONS_NOT_SUPPORTED" in board.form.result.value and board.form.sink.value == ""
            session_id = str(outcome.session.session_id)
            assert silent.engine.get(outcome.session.session_id).sink is None  # created without one
            bench.log.wait_for(session_id, "AVAILABLE", timeout=15)  # polled into the log
            wait_until(lambda: "EVENT_NOTIFICATIONS_NOT_SUPPORTED" in board.header.value, timeout=10)
            assignment = bench.assign({"phoneNumber": "+36721601237002"}, "QOS_E")  # no sink offered any more
            assert assignment.ok and assignment.session is not None
            bench.log.wait_for(str(assignment.session.session_id), "AVAILABLE", timeout=15)
            assert len(silent.engine.sessions()) == 2 and silent.deliveries() == []
        finally:
            board.close()


def test_a_chosen_way_of_notification_is_not_changed_behind_the_users_back() -> None:
    with Sandbox(speed=60, notifications=False, reuse=False) as silent, Listener(EventLog()) as listener:
        bench = Workbench(silent.client(), listener.log, listener, silent, notifications="direct")
        refused = bench.create(CreateSession.model_validate({**_wire_fields(), "sink": listener.url}))
        assert refused.code == "EVENT_NOTIFICATIONS_NOT_SUPPORTED" and "422" in (refused.error or "")
        assert bench.notifications == "direct" and silent.engine.sessions() == []
        assigned = bench.assign({"phoneNumber": "+36721601237004"}, "QOS_E")
        assert assigned.code == "EVENT_NOTIFICATIONS_NOT_SUPPORTED" and silent.engine.sessions() == []
        bench.close()


def _wire_fields() -> dict[str, object]:
    return {
        "device": {"phoneNumber": "+36721601237003"},
        "applicationServer": {"ipv4Address": "233.252.0.2"},
        "qosProfile": "QOS_L",
        "duration": 60,
    }
