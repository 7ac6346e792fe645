"""The timeline's rows are in session creation order, whatever order notifications arrive in.

The demo's picture swapped two rows on a busy machine (its rows followed arrival); here the
arrival order is made to differ from creation order on purpose, so the test needs no timing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qodlab import EventLog, QosStatus, StatusEvent, StatusInfo
from qodlab.plots import describe, timeline_png
from qodlab.plots.frame import timeline_frame

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def _event(session: str, status: QosStatus, seconds: float, shape: str = "cloudevent-v1") -> StatusEvent:
    info = StatusInfo.DURATION_EXPIRED if status is QosStatus.UNAVAILABLE else None
    return StatusEvent(
        f"{session}-{status.value}", session, status, info, T0 + timedelta(seconds=seconds), "t", "urn:test", shape, {}
    )  # type: ignore[arg-type]


def _arrived_out_of_order() -> EventLog:
    """Sessions a, b, c, d created in that order (AVAILABLE 1 s after each); c and a arrive first."""
    log = EventLog()
    for session, seconds in [("c", 12), ("a", 10), ("d", 13), ("b", 11)]:
        log.append(_event(session, QosStatus.AVAILABLE, seconds))
    for session, seconds in [("b", 40), ("a", 30)]:
        log.append(_event(session, QosStatus.UNAVAILABLE, seconds))
    return log


def test_rows_follow_creation_not_arrival() -> None:
    log = _arrived_out_of_order()
    assert log.sessions() == ["c", "a", "d", "b"]  # the log keeps arrival order
    assert timeline_frame(log.intervals(), now=T0 + timedelta(minutes=1)).sessions == ["a", "b", "c", "d"]


def test_a_client_record_is_the_creation_time() -> None:
    """A session qodlab created has its REQUESTED record: that is its place, even if notified late."""
    log = EventLog()
    log.append(_event("late", QosStatus.AVAILABLE, 5))
    log.append(_event("early", QosStatus.REQUESTED, 1, shape="client"))
    log.append(_event("early", QosStatus.AVAILABLE, 9))
    assert timeline_frame(log.intervals(), now=T0 + timedelta(minutes=1)).sessions == ["early", "late"]


def test_ties_keep_arrival_order() -> None:
    log = EventLog()
    for session in ("y", "x"):
        log.append(_event(session, QosStatus.AVAILABLE, 1))
    assert timeline_frame(log.intervals(), now=T0 + timedelta(minutes=1)).sessions == ["y", "x"]


def test_the_picture_shows_rows_in_creation_order() -> None:
    picture = describe(timeline_png(_arrived_out_of_order(), now=T0 + timedelta(minutes=1)))
    assert [row.split(" ")[0] for row in picture["rows"]] == ["a", "b", "c", "d"]
