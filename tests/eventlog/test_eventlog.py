"""The event log: dtypes, caching, intervals, waiting, durability, exports."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from qodlab import EventLog, QosStatus, StatusEvent, StatusInfo, parse_notification
from qodlab.notifications import build_notification

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def event(
    session: str,
    status: str,
    seconds: float,
    info: str | None = None,
    event_id: str | None = None,
    shape: str = "cloudevent-v1",
) -> StatusEvent:
    body = build_notification(
        shape,
        event_id=event_id or f"{session}-{status}-{seconds}",
        session_id=session,  # type: ignore[arg-type]
        qos_status=status,
        status_info=info,
        time=(T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
    )
    return parse_notification(body)


def test_dtypes_are_declared() -> None:
    log = EventLog()
    log.append(event("a", "AVAILABLE", 0))
    dtypes = log.df.dtypes
    assert str(dtypes["event_time"]) == "datetime64[ns, UTC]" and str(dtypes["received_at"]) == "datetime64[ns, UTC]"
    assert isinstance(dtypes["qos_status"], pd.CategoricalDtype)
    assert list(dtypes["qos_status"].categories) == ["REQUESTED", "AVAILABLE", "UNAVAILABLE"]
    assert isinstance(dtypes["status_info"], pd.CategoricalDtype)
    assert str(dtypes["event_id"]) == "string" and isinstance(dtypes["session_id"], pd.CategoricalDtype)
    assert list(log.df.columns) == [
        "event_id",
        "session_id",
        "qos_status",
        "status_info",
        "event_time",
        "received_at",
        "type",
        "source",
        "shape",
        "raw",
        "kind",  # session, or assignment (QoS Provisioning)
    ]
    assert list(dtypes["kind"].categories) == ["session", "assignment"]


def test_empty_log_has_the_columns() -> None:
    log = EventLog()
    assert log.df.empty and len(log.df.columns) == 11
    assert log.intervals().empty and list(log.intervals().columns) == [
        "session_id",
        "qos_status",
        "status_info",
        "start",
        "end",
        "kind",  # session, or assignment: what a timeline's row is
    ]


def test_df_is_cached_until_an_event_arrives() -> None:
    log = EventLog()
    log.append(event("a", "AVAILABLE", 0))
    first = log.df
    assert log.df is first
    log.append(event("a", "UNAVAILABLE", 5, "DURATION_EXPIRED"))
    assert log.df is not first and len(log.df) == 2


def test_duplicates_are_stored_once() -> None:
    log = EventLog()
    assert log.append(event("a", "AVAILABLE", 0)) is True
    assert log.append(event("a", "AVAILABLE", 0)) is False
    assert len(log) == 1


def test_intervals_per_session_in_event_time_order() -> None:
    log = EventLog()
    log.append(event("a", "UNAVAILABLE", 60, "DELETE_REQUESTED"))  # arrives first, happened last
    log.append(event("a", "AVAILABLE", 10))
    log.append(event("a", "AVAILABLE", 20, event_id="resent"))  # a re-sent status continues its interval
    log.append(event("b", "AVAILABLE", 30))
    frame = log.intervals()
    a = frame[frame["session_id"] == "a"]
    assert list(a["qos_status"]) == ["AVAILABLE", "UNAVAILABLE"]
    assert list(a["start"]) == [T0 + timedelta(seconds=10), T0 + timedelta(seconds=60)]
    assert a["end"].iloc[0] == T0 + timedelta(seconds=60) and pd.isna(a["end"].iloc[1])
    assert a["status_info"].iloc[1] == "DELETE_REQUESTED"
    b = frame[frame["session_id"] == "b"]
    assert len(b) == 1 and pd.isna(b["end"].iloc[0])


def test_on_event_and_remove() -> None:
    log = EventLog()
    seen: list[StatusEvent] = []
    log.on_event(seen.append)
    log.append(event("a", "AVAILABLE", 0))
    log.on_event(seen.append, remove=True)
    log.append(event("a", "UNAVAILABLE", 1, "DURATION_EXPIRED"))
    assert [e.qos_status for e in seen] == [QosStatus.AVAILABLE]
    assert seen[0].received_at is not None


def test_a_failing_callback_loses_nothing() -> None:
    log = EventLog()

    def broken(_: StatusEvent) -> None:
        raise RuntimeError("boom")

    log.on_event(broken)
    assert log.append(event("a", "AVAILABLE", 0)) is True
    assert len(log) == 1


def test_wait_for_returns_the_event_or_times_out() -> None:
    log = EventLog()
    timer = threading.Timer(0.05, lambda: log.append(event("a", "UNAVAILABLE", 1, "NETWORK_TERMINATED")))
    timer.start()
    found = log.wait_for("a", "UNAVAILABLE", timeout=5, status_info="NETWORK_TERMINATED")
    assert found.status_info is StatusInfo.NETWORK_TERMINATED and found.session_id == "a"
    with pytest.raises(TimeoutError, match="AVAILABLE"):
        log.wait_for("a", QosStatus.AVAILABLE, timeout=0.05)


def test_durable_log_reloads(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    log = EventLog(path)
    log.append(event("a", "AVAILABLE", 0))
    log.append(event("a", "UNAVAILABLE", 5, "DURATION_EXPIRED"))
    log.close()
    again = EventLog(path)
    assert len(again) == 2 and list(again.df["qos_status"]) == ["AVAILABLE", "UNAVAILABLE"]
    assert again.append(event("a", "AVAILABLE", 0)) is False  # known after the reload
    assert again.raw(again.df["event_id"][0])["data"]["sessionId"] == "a"


def test_read_only_open_follows_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    writer = EventLog(path)
    writer.append(event("a", "AVAILABLE", 0))
    reader = EventLog.open(path)
    assert len(reader) == 1
    writer.append(event("a", "UNAVAILABLE", 9, "DELETE_REQUESTED"))
    assert len(reader.df) == 2
    assert reader.wait_for("a", "UNAVAILABLE", timeout=2).status_info is StatusInfo.DELETE_REQUESTED
    with pytest.raises(PermissionError):
        reader.append(event("b", "AVAILABLE", 0))


def test_raw_is_kept_for_the_newest_events_and_on_disk(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "raw.sqlite", keep_raw=1)
    log.append(event("a", "AVAILABLE", 0, event_id="old"))
    log.append(event("a", "UNAVAILABLE", 1, "DELETE_REQUESTED", event_id="new"))
    assert list(log.df["raw"].isna()) == [True, False]
    assert log.raw("old")["id"] == "old"


def test_exports(tmp_path: Path) -> None:
    log = EventLog()
    log.append(event("a", "AVAILABLE", 0))
    csv = pd.read_csv(log.to_csv(tmp_path / "events.csv"))
    assert list(csv["qos_status"]) == ["AVAILABLE"]
    parquet = pd.read_parquet(log.to_parquet(tmp_path / "events.parquet"))
    assert parquet["event_time"].iloc[0] == T0
