"""Timelines tested by what they show (`describe`): ticks that read, rows told apart, link rows with data.

Live (plotly FigureWidget) and static (matplotlib PNG) alike, on the logs a person has: one that
spans days, sessions on one device, assignments beside sessions, a sandbox's log drawn with
`metrics=sandbox` and no `sessions=`, and the demo's picture.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qodlab import EventLog, Listener, Sandbox, SessionInfo, StatusEvent
from qodlab.errors import InvalidRequest
from qodlab.models import QosStatus, StatusInfo
from qodlab.plots import TimelinePlot, describe, timeline_figure, timeline_png
from qodlab.plots.colors import COLORS, LINE_COLORS
from qodlab.plots.live import TICK_FORMATS

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _event(i: int, sid: str, status: str, seconds: float, info: str | None = None) -> StatusEvent:
    return StatusEvent(
        event_id=f"e{i}",
        session_id=sid,
        qos_status=QosStatus(status),
        status_info=StatusInfo(info) if info else None,
        event_time=T0 + timedelta(seconds=seconds),
        type="t",
        source="test",
        shape="cloudevent-v1",
        raw={},
    )


def _info(sid: str, phone: str, profile: str = "QOS_L") -> SessionInfo:
    return SessionInfo.model_validate(
        {
            "sessionId": sid,
            "duration": 600,
            "qosStatus": "AVAILABLE",
            "device": {"phoneNumber": phone},
            "qosProfile": profile,
        }
    )


def _multi_day_log() -> EventLog:
    """Notebook 02's log: notifications dated days before a sandbox's lifecycle."""
    log = EventLog()
    for i, shape in enumerate(("cloudevent-v1", "cloudevent-v0", "nac")):
        log.append(_event(i, f"session-{shape}", "AVAILABLE", 60 * i))
    for i in range(3):
        sid = f"0000000{i}-aaaa-4bbb-8ccc-000000000000"
        log.append(_event(10 + i, sid, "AVAILABLE", 6 * 86400 + 60 * i))
        log.append(_event(20 + i, sid, "UNAVAILABLE", 6 * 86400 + 60 * i + 90, "DURATION_EXPIRED"))
    return log


def _distinct(values: list[str]) -> bool:
    return len(values) == len(set(values))


def _assert_says_something(shown: dict[str, Any], rows: int) -> None:
    """What every timeline must show: distinct ticks, whole distinct rows, data in every panel."""
    assert len(shown["xticks"]) >= 2 and _distinct(shown["xticks"]), shown["xticks"]
    assert len(shown["rows"]) == rows and _distinct(shown["rows"]), shown["rows"]
    assert all(panel["points"] > 0 for panel in shown["panels"]), [p["points"] for p in shown["panels"]]


# -- ticks ----------------------------------------------------------------------------------------


def test_a_multi_day_picture_reads_dates_and_whole_ids() -> None:
    log = _multi_day_log()
    shown = describe(timeline_png(log, now=T0 + timedelta(days=6, hours=1)))
    _assert_says_something(shown, rows=6)
    assert "00:00:00" not in shown["xticks"]
    assert {"Nov 27", "Nov 28", "Nov 29", "Nov 30"} <= set(shown["xticks"]) and "Dec" in shown["xticks"]  # its days
    assert shown["rows"][:3] == ["session-cloudevent-v1", "session-cloudevent-v0", "session-nac"]  # whole ids
    assert shown["rows"][3] == "00000000-aaaa-4bbb-8ccc-000000000000"


def test_a_picture_within_minutes_reads_times_and_says_the_date() -> None:
    log = EventLog()
    log.append(_event(0, "a", "AVAILABLE", 0))
    log.append(_event(1, "a", "UNAVAILABLE", 300, "DELETE_REQUESTED"))
    figure = timeline_figure(log, now=T0 + timedelta(seconds=400))
    shown = describe(figure)
    assert shown["xticks"] and all(tick.count(":") == 1 for tick in shown["xticks"]), shown["xticks"]
    assert shown["panels"][-1]["xoffset"] == "2026-Nov-26"  # the day, beside the axis
    assert describe(timeline_png(log, now=T0 + timedelta(seconds=400))) == shown  # the PNG says the same


# 10 s and 13 min: where matplotlib's steps (1 s -> 5 s, 1 min -> 5 min) left two ticks in view; 270 s and
# 4.6 days: where it ran out of steps and warned ("unable to pick an appropriate interval") into the cell
SPANS = [2, 10, 13, 95, 270, 700, 790, 7200, 20 * 3600, 4 * 86400 + 15 * 3600, 9 * 86400, 70 * 86400, 3 * 365 * 86400]


@pytest.mark.parametrize("seconds", SPANS)
@pytest.mark.parametrize("start", [T0, T0 + timedelta(days=3, hours=13, minutes=20, seconds=34)])
def test_tick_labels_are_distinct_at_any_span(seconds: int, start: datetime) -> None:
    """matplotlib's concise ticks read 40, 50, 17:11, 10, 20, 30, 40 over a minute and a half, and
    06:00 on each day over days: every tick names its minute, and its day where the span crosses one."""
    log = EventLog()
    log.append(_event(0, "a", "AVAILABLE", (start - T0).total_seconds()))
    log.append(_event(1, "a", "UNAVAILABLE", (start - T0).total_seconds() + seconds, "DELETE_REQUESTED"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's own warnings too
        ticks = describe(timeline_png(log, now=start + timedelta(seconds=seconds + 1)))["xticks"]
    assert len(ticks) >= 3 and _distinct(ticks), ticks


def test_the_live_time_axis_names_the_date_at_every_zoom() -> None:
    plot = TimelinePlot(_multi_day_log(), now=lambda: T0 + timedelta(days=6, hours=1))
    shown = describe(plot)
    formats = shown["xticks"]
    assert formats == [stop["value"] for stop in TICK_FORMATS]
    # plotly.js writes what follows "\n" under the first tick and wherever it changes: the date (and year)
    assert all("\n" in f and "%Y" in f.split("\n")[1] for f in formats)
    assert any("%b %-d" in f for f in formats)  # days, where ticks are hours or days apart
    assert shown["rows"][:2] == ["session-cloudevent-v1", "session-cloudevent-v0"]
    _assert_no_cut(shown["rows"])


def _assert_no_cut(rows: list[str]) -> None:
    assert _distinct(rows) and not any(row.endswith(("-", " #2")) for row in rows), rows


# -- rows -----------------------------------------------------------------------------------------


def test_rows_of_one_device_and_of_look_alike_numbers_are_told_apart() -> None:
    log = EventLog()
    ids = [f"0000000{i}-aaaa-4bbb-8ccc-000000000000" for i in range(4)]
    for i, sid in enumerate(ids):
        log.append(_event(i, sid, "AVAILABLE", 60 * i))
    sessions = {
        ids[0]: _info(ids[0], "+36721601234567"),
        ids[1]: _info(ids[1], "+36721601234567"),  # the same device and profile again
        ids[2]: _info(ids[2], "+36729991234567"),  # another device whose short name reads the same
        ids[3]: _info(ids[3], "+36701230000", "QOS_E"),
    }
    now = T0 + timedelta(seconds=400)
    static = describe(timeline_png(log, now=now, sessions=sessions))["rows"]
    live = describe(TimelinePlot(log, now=lambda: now, sessions=sessions))["rows"]
    assert (
        static
        == live
        == [
            "+36721601234567 · QOS_L",
            "+36721601234567 · QOS_L #2",
            "+36729991234567 · QOS_L",  # whole: "+3672…567" would read the same as the first two
            "+3670…000 · QOS_E",  # short where that tells it apart
        ]
    )


def test_assignments_and_sessions_from_a_sandbox_read_their_kind_device_and_profile() -> None:
    """Notebook 11: `timeline_png(log, metrics=sandbox)`, no `sessions=`: the sandbox knows the devices."""
    with Sandbox(speed=60, reuse=False) as sandbox, Listener(EventLog()) as listener, sandbox.client() as client:
        notify = {"sink": listener.url, "sink_token": listener.token}
        camera, gateway = {"phoneNumber": "+36721601236001"}, {"phoneNumber": "+36721601236002"}
        session = client.create_session(
            device=camera, application_server="233.252.0.2", qos_profile="QOS_L", duration=120, **notify
        )
        listener.log.wait_for(session.session_id, "AVAILABLE", timeout=10)
        sandbox.advance(120)
        listener.log.wait_for(session.session_id, "UNAVAILABLE", timeout=10)
        assignment = client.assign_qos(camera, "QOS_L", **notify)
        listener.log.wait_for(assignment.assignment_id, "AVAILABLE", timeout=10)
        other = client.assign_qos(gateway, "QOS_M", **notify)
        listener.log.wait_for(other.assignment_id, "AVAILABLE", timeout=10)
        sandbox.advance(300)
        assignment.revoke()
        listener.log.wait_for(assignment.assignment_id, "UNAVAILABLE", timeout=10)
        revoked = sandbox.known_sessions([assignment.id])  # what it last knew, of the ids asked for
        assert list(revoked) == [assignment.id] and revoked[assignment.id].qos_status is QosStatus.UNAVAILABLE
        assert revoked[assignment.id].device == assignment.device and revoked[assignment.id].qos_profile == "QOS_L"
        rows = ["session · +3672…001 · QOS_L", "assignment · +3672…001 · QOS_L", "assignment · +3672…002 · QOS_M"]
        static = describe(timeline_png(listener.log, now=sandbox.now(), metrics=sandbox))
        _assert_says_something(static, rows=3)
        assert static["rows"] == rows
        down, late = static["panels"][1:]
        assert sorted(down["lines"]) == ["+3672…001", "+3672…002", "profile's target minimum rate"]
        assert late["points"] > 300 and not down["texts"]
        plot = TimelinePlot(listener.log, now=sandbox.now, metrics=sandbox)
        live = describe(plot)
        assert live["rows"] == rows and all(panel["points"] > 0 for panel in live["panels"])
        assert sorted(live["panels"][1]["lines"]) == ["+3672…001", "+3672…002", "profile's target minimum rate"]


def test_metrics_without_any_known_device_say_what_to_pass() -> None:
    log = EventLog()
    log.append(_event(0, "session-from-elsewhere", "AVAILABLE", 0))
    with Sandbox(speed=60, reuse=False) as sandbox:
        with pytest.raises(InvalidRequest) as caught:
            timeline_png(log, now=T0 + timedelta(seconds=60), metrics=sandbox)
        assert caught.value.field == "sessions" and "pass sessions=" in str(caught.value)
        assert "none of the 1 sessions on the timeline has a known device" in str(caught.value)
        plot = TimelinePlot(log, now=lambda: T0 + timedelta(seconds=60), metrics=sandbox)
        links = describe(plot)["panels"][1:]
        assert all("pass sessions=" in " ".join(panel["texts"]) for panel in links)  # said in the rows, not empty
        picture = describe(
            timeline_png(
                log,
                now=T0 + timedelta(seconds=60),
                metrics=sandbox,
                sessions={"session-from-elsewhere": _info(_UUID, "+36721601236009")},
            )
        )
        assert all(panel["points"] > 0 for panel in picture["panels"])  # given its device, drawn


_UUID = "00000009-aaaa-4bbb-8ccc-000000000000"


def test_six_devices_get_a_line_each_in_their_own_colour() -> None:
    log = EventLog()
    ids = [f"0000000{i}-aaaa-4bbb-8ccc-000000000000" for i in range(7)]
    for i, sid in enumerate(ids):
        log.append(_event(i, sid, "AVAILABLE", 10 * i))
    sessions = {sid: _info(sid, f"+367012300{i:02d}") for i, sid in enumerate(ids)}
    with Sandbox(speed=60, reuse=False) as sandbox:
        source = _link_source(sandbox)
        figure = timeline_figure(log, now=T0 + timedelta(seconds=200), sessions=sessions, metrics=source)
    down = figure.get_axes()[1]
    lines = [line for line in down.get_lines() if not line.get_label().startswith("profile")]
    assert len(lines) == 6 and len({line.get_color() for line in lines}) == 6  # the newest six devices
    assert [line.get_label() for line in lines] == [f"+3670…0{i:02d}" for i in range(6, 0, -1)]
    assert {line.get_color() for line in lines} == set(LINE_COLORS) and COLORS["AVAILABLE"] not in LINE_COLORS


def _link_source(sandbox: Sandbox):  # type: ignore[no-untyped-def]
    """The sandbox's link model for any times (the log's are in the past)."""
    import pandas as pd

    def metrics(device, start, end):  # type: ignore[no-untyped-def]
        frame = pd.DataFrame(sandbox.links.samples(device.identifiers()[0], start.timestamp(), end.timestamp()))
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        return frame

    return metrics


# -- the live picture -----------------------------------------------------------------------------


def test_the_live_picture_redrawn_over_its_kept_background_shows_what_a_whole_drawing_shows() -> None:
    """LivePicture keeps its figure and draws only what moves: each redraw must read back (and look)
    like the picture drawn whole at that moment, and the figure is built again only when rows change."""
    import io

    import numpy as np
    from PIL import Image

    from qodlab.plots.static import LivePicture

    def pixels(png: bytes) -> Any:
        with Image.open(io.BytesIO(png)) as image:
            return np.asarray(image.convert("RGB"), dtype=int)

    log = EventLog()
    for i in range(40):  # 40 sessions, 30 kept: the title says the newest 30 of 40
        sid = f"0000{i:04d}-aaaa-4bbb-8ccc-000000000000"
        log.append(_event(2 * i, sid, "AVAILABLE", 10 * i))
        if i % 3 == 0:
            log.append(_event(2 * i + 1, sid, "UNAVAILABLE", 10 * i + 200, "DELETE_REQUESTED"))
    picture = LivePicture(30, dpi=80)
    for seconds in (400, 401, 460, 3600):  # "now" moves: the bars, the now line and the ticks move with it
        now = T0 + timedelta(seconds=seconds)
        live, whole = picture.png(log, now), timeline_png(log, now, max_rows=30, dpi=80)
        shown = describe(live)
        assert shown == describe(whole)
        assert "the newest 30 sessions of 40" in shown["title"]
        _assert_says_something(shown, 30)
        differ = (np.abs(pixels(live) - pixels(whole)).sum(axis=-1) > 0).mean()
        assert differ < 0.001, f"{differ:.2%} of the pixels differ at {seconds} s"
    assert picture.rebuilds == 1
    log.append(_event(999, "0000abcd-aaaa-4bbb-8ccc-000000000000", "AVAILABLE", 500))  # a new row
    now = T0 + timedelta(seconds=3601)
    assert describe(picture.png(log, now))["rows"] == describe(timeline_png(log, now, max_rows=30, dpi=80))["rows"]
    assert picture.rebuilds == 2
