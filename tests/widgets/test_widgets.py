"""Widgets without a browser: forms build models, buttons act on a running sandbox, the pump batches."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from qodlab import EventLog, Listener, QodClient, QosStatus, Sandbox, StatusInfo, Workbench
from qodlab.notebook.pump import Pump
from qodlab.notifications import StatusEvent
from qodlab.plots import COLORS, TimelinePlot, timeline_png
from qodlab.plots.live import EMPTY
from qodlab.widgets import Dashboard, DeviceForm, SessionForm, SessionsPanel, dashboard, parse_ports

from ..conftest import wait_until


@pytest.fixture
def bench(sandbox: Sandbox, client: QodClient) -> Iterator[Workbench]:
    with Listener(EventLog(), path="/widgets") as listener:
        yield Workbench(client, listener.log, listener, sandbox)


# -- forms ----------------------------------------------------------------------------------------


def test_device_form_builds_each_kind_of_device() -> None:
    form = DeviceForm()
    assert form.value is not None and form.value.phone_number == "+36721601234567"
    form.phone.value = "36721601234567"
    assert form.value is not None and form.value.phone_number == "+36721601234567"
    form.kind.value = "network access identifier"
    form.nai.value = "device@testcsp.net"
    assert form.value is not None and form.value.network_access_identifier == "device@testcsp.net"
    form.kind.value = "IPv4 address"
    form.public_address.value, form.public_port.value = "233.252.0.2", "80"
    assert form.value is not None and form.value.ipv4_address is not None
    assert form.value.ipv4_address.public_port == 80
    form.kind.value = "IPv6 address"
    form.ipv6.value = "2001:db8::1"
    assert form.value is not None and form.value.ipv6_address == "2001:db8::1"


def test_device_form_shows_the_message_beside_the_field() -> None:
    form = DeviceForm()
    form.phone.value = "+0"
    assert form.value is None and "E.164" in form.errors["phone"].value
    form.kind.value = "IPv4 address"
    form.public_address.value = "233.252.0.2"
    assert form.value is None and "privateAddress or publicPort" in form.errors["ipv4"].value
    form.public_port.value = "99999"
    assert "65535" in form.errors["public_port"].value
    form.public_port.value = "80"
    assert form.value is not None and all(not label.value for label in form.errors.values())


def test_parse_ports() -> None:
    spec = parse_ports("80, 5000-5010")
    assert spec is not None and spec.ports == [80] and spec.ranges is not None and spec.ranges[0].to == 5010
    assert parse_ports("  ") is None
    with pytest.raises(ValueError, match="not a port"):
        parse_ports("http")
    with pytest.raises(ValueError, match="above 'to'"):
        parse_ports("6000-5000")


def test_session_form_builds_the_request_and_blocks_when_invalid(bench: Workbench) -> None:
    form = SessionForm(bench)
    assert form.request is not None and not form.create.disabled
    assert form.sink.value == bench.listener.url and form.token.value == bench.listener.token  # type: ignore[union-attr]
    request = form.request
    assert request.qos_profile == "QOS_L" and request.application_server.ipv4_address == "233.252.0.2"
    assert request.sink_credential is not None
    form.device_ports.value = "80, x"
    assert form.create.disabled and "not a port" in form.errors["device_ports"].value
    assert form.submit() is None  # nothing is sent while invalid
    form.device_ports.value = "80"
    form.server_ipv4.value = ""
    assert form.create.disabled and "applicationServer" in form.errors["server"].value
    form.server_ipv4.value = "233.252.0.2"
    assert not form.create.disabled


def test_duration_is_bounded_by_the_profile(bench: Workbench) -> None:
    form = SessionForm(bench)
    form.profile.value = "QOS_L"
    assert form.duration.max == 12 * 3600
    form.profile.value = "QOS_E"
    assert form.duration.max == 24 * 3600


def test_create_button_creates_or_shows_the_api_error(bench: Workbench) -> None:
    form = SessionForm(bench)
    form.duration.value = 36_000  # alive for a real minute at 600x: the second click meets it, however late
    form.create.click()
    assert "Created" in form.result.value
    [tracked] = bench.sessions()
    assert tracked.info.qos_status is QosStatus.REQUESTED
    form.create.click()  # the same device again: 409
    assert "409 CONFLICT" in form.result.value and "Traceback" not in form.result.value
    form.profile.value = "QOS_XL"
    form.device.phone.value = "+3612345678"
    form.create.click()
    assert "422 QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE" in form.result.value


# -- panels ---------------------------------------------------------------------------------------


def test_sessions_panel_buttons_act_on_the_sandbox(sandbox: Sandbox, bench: Workbench) -> None:
    sandbox.speed = 1
    form = SessionForm(bench)
    form.create.click()
    [tracked] = bench.sessions()
    sid = str(tracked.info.session_id)
    panel = SessionsPanel(bench)
    panel.render()
    row = panel.rows[sid]
    assert "REQUESTED" in row.status.value and row.extend.disabled
    sandbox.advance(1)
    row.refresh.click()
    panel.render()
    assert "AVAILABLE" in row.status.value and not row.extend.disabled and "s left" in row.left.value
    row.seconds.value = 120
    row.extend.click()
    assert bench.sessions()[0].info.duration == 720
    row.delete.click()
    panel.render()
    assert "DELETE_REQUESTED" in row.status.value and row.delete.disabled
    bench.log.wait_for(sid, QosStatus.UNAVAILABLE, status_info=StatusInfo.DELETE_REQUESTED)
    row.refresh.click()
    assert "404 NOT_FOUND" in panel.message.value


def test_sessions_created_elsewhere_are_followed_by_id_or_found_by_device(client: QodClient, bench: Workbench) -> None:
    sink, token = bench.sink  # type: ignore[misc]
    mine = client.create_session(_request(sink, token, 7, 3600))  # elsewhere; an hour: 6 s real
    other = client.create_session(_request(sink, token, 8, 3600))
    panel, form = SessionsPanel(bench), SessionForm(bench)
    assert bench.sessions() == []
    panel.session_id.value = f" {mine.session_id} "
    panel.follow.click()
    panel.render()
    assert list(panel.rows) == [str(mine.session_id)] and panel.message.value == "" and panel.session_id.value == ""
    panel.follow_session("0b4bd5c4-3b5d-4d0a-9d3b-6a1e1c7b1f00")
    assert "404 NOT_FOUND" in panel.message.value and len(bench.sessions()) == 1
    panel.follow.click()  # an empty field
    assert "Give a session id" in panel.message.value
    form.device.phone.value = "+36770000008"
    form.find.click()
    assert "1 session(s)" in form.result.value and str(other.session_id)[:8] in form.result.value
    panel.render()
    assert set(panel.rows) == {str(mine.session_id), str(other.session_id)}
    form.device.phone.value = "+0"
    assert form.find.disabled and form.find_sessions() is None


# -- the pump -------------------------------------------------------------------------------------


def _events(n: int, sessions: int = 10) -> list[StatusEvent]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        StatusEvent(
            event_id=f"e{i}",
            session_id=f"s{i % sessions}",
            qos_status=QosStatus.AVAILABLE if i < n // 2 else QosStatus.UNAVAILABLE,
            status_info=None if i < n // 2 else StatusInfo.DURATION_EXPIRED,
            event_time=t0 + timedelta(seconds=i),
            type="t",
            source="s",
            shape="cloudevent-v1",
            raw={},
        )
        for i in range(n)
    ]


def test_pump_applies_n_events_in_at_most_ceil_n_over_batch_redraws() -> None:
    pump = Pump(interval=0.05, max_batch=100)
    seen: list[int] = []
    pump.add_view(lambda batch: seen.append(len(batch)))
    for event in _events(950):
        pump.submit(event)
    pump.start()
    assert pump.wait_idle(10)
    pump.stop()
    assert sum(seen) == 950 and pump.applied == 950
    assert pump.redraws <= math.ceil(950 / 100) + 1  # +1: the idle marker may close its own redraw


def test_pump_throttles_a_fast_stream() -> None:
    pump = Pump(interval=0.2)
    pump.add_view(lambda batch: None)
    pump.start()
    stop = threading.Event()
    events = _events(200_000, sessions=100)

    def producer() -> None:
        for i, event in enumerate(events):
            if stop.is_set():
                return
            pump.submit(event)
            if i % 1000 == 999:
                stop.wait(0.005)  # a steady stream rather than one burst

    thread = threading.Thread(target=producer)
    thread.start()
    wait_until(lambda: pump.redraws >= 5, timeout=10, message="five redraws")
    stop.set()
    thread.join(5)
    pump.wait_idle(10)
    pump.stop()
    assert pump.applied > pump.redraws * 10  # batched, not one redraw per event


def test_a_failing_view_does_not_stop_the_pump() -> None:
    pump = Pump(interval=0.01)

    def broken(_: object) -> None:
        raise RuntimeError("boom")

    got: list[int] = []
    pump.add_view(broken)
    pump.add_view(lambda batch: got.append(len(batch)))
    pump.start()
    pump.submit(_events(2)[0])
    assert pump.wait_idle(5)
    pump.stop()
    assert sum(got) == 1


# -- plots ----------------------------------------------------------------------------------------


def test_timeline_rows_say_device_and_profile_and_endings_say_why(sandbox: Sandbox, bench: Workbench) -> None:
    sink, token = bench.sink  # type: ignore[misc]
    ids = [
        str(bench.create(_request(sink, token, i, duration)).session.session_id)  # type: ignore[union-attr]
        for i, duration in enumerate((60, 6000, 6000))
    ]
    for sid in ids:
        bench.log.wait_for(sid, QosStatus.AVAILABLE)
    bench.delete(ids[1])
    sandbox.terminate(ids[2])
    for sid in ids:
        bench.log.wait_for(sid, QosStatus.UNAVAILABLE)
    plot = TimelinePlot(bench.log, now=bench.now, sessions=bench.infos, metrics=sandbox)
    traces = {trace.name: trace for trace in plot.widget.data}
    bars = [trace for trace in plot.widget.data if trace.type == "bar"]
    assert [(t.name, t.marker.color) for t in bars] == [
        ("REQUESTED", COLORS["REQUESTED"]),
        ("AVAILABLE", COLORS["AVAILABLE"]),
    ]
    labels = [f"+3677…00{i} · QOS_E" for i in range(3)]
    assert list(plot.widget.layout.yaxis.categoryarray) == labels  # what the user chose, not an id
    assert all(sid in " ".join(traces["AVAILABLE"].hovertext) for sid in ids)  # the id is in the hover
    endings = {t.name: list(t.y) for t in plot.widget.data if t.name.startswith("UNAVAILABLE")}
    assert endings == {
        "UNAVAILABLE: expired": [labels[0]],
        "UNAVAILABLE: deleted": [labels[1]],
        "UNAVAILABLE: terminated by the network": [labels[2]],
    }
    # The first trace with x data holds a time, so plotly.js keeps guessing "date" for the axis
    anchor = plot.widget.data[0]
    assert anchor.type == "scatter" and datetime.fromisoformat(anchor.x[0])
    # Every session has ended: the axis spans the data, with no "now" line running on
    last_end = max(datetime.fromisoformat(x) for t in plot.widget.data if t.name.startswith("UNAVAILABLE") for x in t.x)
    assert (
        datetime.fromisoformat(plot.widget.layout.xaxis.range[1])
        < last_end + (last_end - datetime.fromisoformat(traces["REQUESTED"].base[0])) * 0.1
        and plot.widget.layout.shapes == ()
    )
    downlink = [t for t in plot.widget.data if t.type == "scatter" and t.meta == "Mbps" and len(t.x)]
    assert len(downlink) == 3 and all(len(t.y) > 10 for t in downlink)  # one line per device
    promise = traces["profile's target minimum rate"]
    assert [y for y in promise.y if y == y] == [1.0] * 6  # QOS_E's 1 Mbps while each was up (NaN between)


def test_an_empty_timeline_says_so(bench: Workbench) -> None:
    plot = TimelinePlot(bench.log, now=bench.now)
    assert plot.widget.layout.annotations[0].text == EMPTY and plot.widget.layout.xaxis.visible is False
    assert timeline_png(bench.log)[:8] == b"\x89PNG\r\n\x1a\n"


def _request(sink: str, token: str, i: int, duration: int = 60):  # type: ignore[no-untyped-def]
    from qodlab import create_request

    return create_request(
        device={"phoneNumber": f"+3677000{i:04d}"},
        application_server="233.252.0.2",
        qos_profile="QOS_E",
        duration=duration,
        sink=sink,
        sink_token=token,
    )


def test_timeline_png_is_a_png(bench: Workbench) -> None:
    for event in _events(20, sessions=4):
        bench.log.append(event)
    data = timeline_png(bench.log)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


# -- the dashboard ----------------------------------------------------------------------------------


def test_dashboard_with_no_arguments_runs_on_a_sandbox() -> None:
    board = dashboard(speed=600)
    try:
        assert isinstance(board, Dashboard) and board.workbench.sandbox is not None
        board.form.create.click()
        [tracked] = board.workbench.sessions()
        sid = str(tracked.info.session_id)
        board.workbench.log.wait_for(sid, QosStatus.AVAILABLE)
        wait_until(
            lambda: "AVAILABLE" in board.sessions.rows[sid].status.value if sid in board.sessions.rows else False,
            message="the panel to show AVAILABLE",
        )
        assert "qodlab-dashboard" in board._dom_classes
    finally:
        board.close()
        board.workbench.sandbox.stop()  # type: ignore[union-attr]
        board.workbench.listener.stop()  # type: ignore[union-attr]


def test_dashboard_survives_the_listener_stopping_and_restarting(sandbox: Sandbox, bench: Workbench) -> None:
    sandbox.notifier.backoff = 0.1
    board = Dashboard(bench)
    try:
        assert board.sandbox_panel is not None
        board.sandbox_panel.listener_button.value = True  # stop
        assert not bench.listener.running  # type: ignore[union-attr]
        board.form.create.click()
        [tracked] = bench.sessions()
        sid = str(tracked.info.session_id)
        wait_until(lambda: any(d.outcome.value == "retry" for d in sandbox.deliveries()), message="a retry")
        board.sandbox_panel.listener_button.value = False  # start again, same port
        bench.log.wait_for(sid, QosStatus.UNAVAILABLE, timeout=15)
        wait_until(
            lambda: sid in board.sessions.rows and "UNAVAILABLE" in board.sessions.rows[sid].status.value,
            message="the panel to show UNAVAILABLE",
        )
        assert board.pump.redraws > 0
    finally:
        board.close()


def test_the_dashboard_says_how_notifications_arrive(bench: Workbench) -> None:
    board = Dashboard(bench)
    try:
        assert "notifications: direct to 127.0.0.1:" in board.children[0].value
    finally:
        board.close()


def test_a_dashboard_on_a_real_network_without_a_relay_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QODLAB_RELAY", raising=False)
    board = dashboard(QodClient("https://api.operator.example", token="t", max_retries=0))
    try:
        assert board.workbench.notifications == "poll" and board.workbench.listener is None
        assert "notifications: polling every 5 s: no public URL" in board.children[0].value
        assert board.form.sink.value == ""  # no sink to offer: nothing could reach it
        assert "Could not load the QoS profiles" in board.form.result.value  # said, not raised
    finally:
        board.close()
    assert board.workbench.watcher is not None and not board.workbench.watcher.running


def test_time_left_counts_down_for_a_session_created_requested(client: QodClient) -> None:
    with Sandbox(speed=60, provisioning_delay=5, reuse=False) as slow, Listener(EventLog()) as listener:
        bench = Workbench(slow.client(), listener.log, listener, slow)
        outcome = bench.create(_request(listener.url, listener.token, 1, duration=600))
        assert outcome.session is not None and outcome.session.expires_at is None  # REQUESTED: no times yet
        sid = str(outcome.session.session_id)
        bench.apply([listener.log.wait_for(sid, QosStatus.AVAILABLE)])  # what the pump does
        [tracked] = bench.sessions()
        left = bench.seconds_left(tracked.info)
        assert left is not None and 0 < left <= 600  # expiresAt = startedAt + duration, from the notification
        assert tracked.info.expires_at == tracked.info.started_at + timedelta(seconds=600)  # type: ignore[operator]


def test_the_png_has_labels_endings_and_the_link(sandbox: Sandbox, bench: Workbench) -> None:
    sink, token = bench.sink  # type: ignore[misc]
    sid = str(bench.create(_request(sink, token, 0)).session.session_id)  # type: ignore[union-attr]
    bench.log.wait_for(sid, QosStatus.UNAVAILABLE)
    plain = timeline_png(bench.log)
    full = timeline_png(bench.log, sessions=bench.infos(), metrics=sandbox)
    assert full[:8] == b"\x89PNG\r\n\x1a\n" and len(full) > len(plain)  # the metrics rows are drawn


def test_the_form_offers_the_test_devices_and_shows_the_answer_beside_the_field() -> None:
    from qodlab import EventLog, Workbench
    from qodlab.widgets.forms import SessionForm

    with Sandbox(speed=60, reuse=False) as sandbox, sandbox.client() as client:
        form = SessionForm(Workbench(client, EventLog(), sandbox=sandbox))
        labels = [label for label, _ in form.device.test_device.options]
        assert labels[0] == "your own device" and "an unknown device (404)" in labels
        form.device.test_device.value = labels.index("an unknown device (404)") - 1
        assert form.device.phone.value == "+99900000404" and "never seen" in form.device.test_info.value
        outcome = form.submit()
        assert outcome is not None and outcome.code == "IDENTIFIER_NOT_FOUND"
        assert "IDENTIFIER_NOT_FOUND" in form.device.errors["device"].value  # beside the device
        assert "QOS_CRITICAL" not in [name for _, name in form.profile.options]  # restricted: not for everyone
        form.device.test_device.value = labels.index("the only device that may use QOS_CRITICAL") - 1
        assert "only device that may use QOS_CRITICAL" in form.device.test_info.value  # the hint, in CAMARA's terms
        assert form.profile.value == "QOS_CRITICAL"  # offered, and chosen, for the device it is restricted to
        assert form.duration.max == 12 * 3600  # its own maxDuration bounds the duration
        created = form.submit()
        assert created is not None and created.session is not None and created.session.qos_profile == "QOS_CRITICAL"
        client.delete_session(created.session.session_id)
        form.device.test_device.value = -1  # your own device again: the restricted profile is not offered
        assert "QOS_CRITICAL" not in [name for _, name in form.profile.options]
        form.device.test_device.value = labels.index("a device offered no profile") - 1
        form.profile.value = "QOS_L"
        outcome = form.submit()
        assert outcome is not None and outcome.code == "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE"
        assert "QOS_PROFILE_NOT_APPLICABLE" in form.errors["profile"].value  # beside the profile
        assert "IDENTIFIER" not in form.device.errors["device"].value  # cleared: this answer is about the profile
        assert "qos-profiles/v1" in form.profile_source.value


def test_a_1_2_form_takes_an_address_list_ports_from_1_and_private_key_jwt() -> None:
    from qodlab import EventLog, Listener, Workbench
    from qodlab.widgets.forms import SessionForm

    with (
        Sandbox(speed=60, reuse=False) as sandbox,
        Listener(EventLog()) as listener,
        QodClient(sandbox.url, release="1.2.0-rc.3") as client,
    ):
        form = SessionForm(Workbench(client, listener.log, listener, sandbox))
        assert form.server_list.layout.display is None and list(form.credential.options) == [
            "ACCESSTOKEN",
            "PRIVATE_KEY_JWT",
        ]
        form.server_ipv4.value = ""
        form.server_list.value = "233.252.0.2, 233.252.0.2"
        assert form.validate() is None and "unique" in form.errors["server"].value
        form.server_list.value = "233.252.0.2, 2001:db8::1"
        form.device_ports.value = "0"
        assert form.validate() is None and "start at 1" in form.errors["device_ports"].value
        form.device_ports.value = ""
        form.credential.value = "PRIVATE_KEY_JWT"
        outcome = form.submit()
        assert outcome is not None and outcome.ok, outcome
        listener.log.wait_for(str(outcome.session.session_id), "AVAILABLE", timeout=10)  # type: ignore[union-attr]
        assert listener.tokens is not None and listener.tokens.issued == 1


def test_the_timeline_becomes_a_picture_where_plotly_does_not_render() -> None:
    with Sandbox(speed=60, reuse=False) as sandbox, Listener(EventLog()) as listener, sandbox.client() as client:
        plot = TimelinePlot(listener.log, now=sandbox.now, detect_after=0.2)
        assert plot.view.children[1:] == (plot.widget,) and plot.renderer == "widget"  # [0]: its stylesheet
        session = client.create_session(
            device={"phoneNumber": "+36721601239001"},
            application_server="233.252.0.2",
            qos_profile="QOS_L",
            duration=600,
            sink=listener.url,
            sink_token=listener.token,
        )
        listener.log.wait_for(str(session.session_id), "AVAILABLE", timeout=10)
        plot.shown()  # no browser draws it: after 0.2 s it is a picture
        wait_until(lambda: "base64," in plot.picture.value, timeout=10, message="the switch to the picture")
        assert plot.view.children[1:] == (plot.note, plot.picture)
        assert "did not render" in plot.reason and "extensions" in plot.note.value  # type: ignore[operator]
        assert "data:image/png;base64," in plot.picture.value and "1 AVAILABLE" in plot.picture.value
        asked = TimelinePlot(listener.log, renderer="png")
        assert asked.renderer == "png" and "asked for" in (asked.reason or "")


def test_a_rendered_figure_stays_interactive() -> None:
    log = EventLog()
    plot = TimelinePlot(log, detect_after=0.2)
    plot.shown()
    plot.widget._js2py_layoutDelta = {"layout_delta": {}, "layout_edit_id": 0}  # what plotly.js sends once drawn
    assert plot._timer is not None
    plot._timer.join(5)  # the detection has run (0.2 s after shown): it found the figure drawn
    assert not plot._timer.is_alive() and plot.rendered and plot.renderer == "widget"


def test_the_form_assigns_a_profile_and_the_panel_revokes_it() -> None:
    from qodlab.plots.frame import timeline_frame
    from qodlab.widgets.forms import SessionForm
    from qodlab.widgets.panels import SessionsPanel

    with Sandbox(speed=60, reuse=False) as sandbox, Listener(EventLog()) as listener, sandbox.client() as client:
        workbench = Workbench(client, listener.log, listener, sandbox)
        form, panel = SessionForm(workbench), SessionsPanel(workbench)
        assert form.what.layout.display is None  # the API has QoS Provisioning beside it
        form.what.value = "assignment"
        assert form.duration.layout.display == "none" and form.create.description == "Assign profile"
        form.device.phone.value = "+36721601239101"
        outcome = form.submit()
        assert outcome is not None and outcome.ok and outcome.session is not None, outcome
        assignment_id = str(outcome.session.session_id)
        listener.log.wait_for(assignment_id, "AVAILABLE", timeout=10)
        workbench.apply([])
        panel.render()
        row = panel.rows[assignment_id]
        assert row.delete.description == "Revoke" and row.extend.layout.display == "none"
        assert row.left.value == "until revoked"
        label = timeline_frame(listener.log.intervals(), sandbox.now(), workbench.infos(), workbench.kinds()).labels[0]
        assert label.startswith("assignment · +3672") and label.endswith("QOS_L")
        revoked = panel.act(assignment_id, "delete")
        assert revoked.ok and revoked.session is not None and revoked.session.status_info == "DELETE_REQUESTED"
        listener.log.wait_for(assignment_id, "UNAVAILABLE", timeout=10)


def test_the_sessions_panel_shows_and_acts_on_sessions_made_in_code() -> None:
    """Issue 34 §2: `dashboard(sandbox=, listener=)`, then sessions made with a client, the listener their sink."""
    with Sandbox(speed=10, reuse=False) as sandbox, Listener(EventLog(), reuse=False) as listener:
        board = dashboard(sandbox=sandbox, listener=listener)
        try:
            with sandbox.client() as client:
                made = [client.create_session(_request(listener.url, listener.token, i, 600)) for i in range(50)]
                ids = {str(session.session_id) for session in made}
                rows = board.sessions.rows
                wait_until(lambda: ids <= set(rows), timeout=30, message="a row for each of the 50 sessions")
                wait_until(
                    lambda: all("AVAILABLE" in rows[sid].status.value for sid in ids),
                    timeout=30,
                    message="every row AVAILABLE, as the timeline",
                )
                assert board.sessions.empty.layout.display == "none"  # not "No sessions yet"
                first = str(made[0].session_id)
                row = rows[first]
                assert row.profile.value == "QOS_E" and row.left.value.endswith(" s left")  # the sandbox's facts
                row.seconds.value = 60
                row.extend.click()
                assert board.sessions.message.value == "" and client.get_session(first).duration == 660
                row.delete.click()
                listener.log.wait_for(first, "UNAVAILABLE", status_info="DELETE_REQUESTED")
                wait_until(lambda: "DELETE_REQUESTED" in row.status.value, message="the row to say it was deleted")
        finally:
            board.close()


def test_a_wrong_key_says_beside_the_profile_why_there_is_none() -> None:
    """Issue 34 §9: no profile because the API refused the key; it said "Field required" by the server."""
    with Sandbox(api_key="right", reuse=False) as sandbox:
        board = dashboard(url=sandbox.url, api_key="wrong")
        try:
            assert "no profile to choose: 401 UNAUTHENTICATED" in board.form.errors["profile"].value
            assert board.form.errors["server"].value == "" and board.form.create.disabled
            assert (
                "right" not in board.form.errors["profile"].value and "wrong" not in board.form.errors["profile"].value
            )
        finally:
            board.close()


def _sandbox_on_one_line(seed: int) -> Sandbox:
    return Sandbox(speed=60, seed=seed)  # one line: a second call is this line run again, which replaces the first


def test_the_sandbox_panel_says_dropped_and_names_what_replaced_its_sandbox() -> None:
    """Issue 34 §4: a dashboard given a replaced sandbox said "will be droped" (sic) and dropped nothing."""
    from qodlab import SettingsChanged

    first = _sandbox_on_one_line(0)
    with Listener(EventLog(), reuse=False) as listener:
        board = dashboard(sandbox=first, listener=listener)
        second = None
        try:
            panel = board.sandbox_panel
            assert panel is not None
            panel.drop.click()
            assert panel.status.value == "The next 1 notification(s) will be dropped."
            with pytest.warns(SettingsChanged, match=r"seed=3 \(was 0\)"):
                second = _sandbox_on_one_line(3)
            panel.drop.click()
            assert "this Sandbox was stopped and replaced by &lt;Sandbox " + second.url in panel.status.value
        finally:
            board.close()
            (second or first).stop()


def test_a_dashboard_whose_servers_stopped_keeps_drawing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """Every pump tick raised ServerStopped in four views (a traceback a tick) once its sandbox and listener stopped."""
    sandbox = Sandbox(speed=60, reuse=False)
    listener = Listener(EventLog(), reuse=False)
    board = dashboard(sandbox=sandbox, listener=listener)
    try:
        board.form.create.click()
        assert wait_until(lambda: board.workbench.infos(), timeout=30)
        sandbox.stop()
        listener.stop()
        for view in list(board.pump._views):
            view([])  # none raises: the clock stands where the sandbox stopped
        assert "is stopped" in board.events.rejected.value
        assert board.workbench.now() == board.workbench.now()
        assert not [r for r in caplog.records if "pump view" in r.getMessage()]  # nor did the pump's own ticks
    finally:
        board.close()
