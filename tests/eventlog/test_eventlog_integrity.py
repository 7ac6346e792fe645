"""The event log never breaks and never loses: no ceiling on names, atomic appends, CloudEvents identity."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from qodlab import EventLog, Listener, QosStatus, StatusEvent
from qodlab.eventlog import store
from qodlab.notifications import build_notification

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
TOKEN = "integrity-token"


def _event(n: int, source: str | None = None, kind: str | None = None, event_id: str | None = None) -> StatusEvent:
    return StatusEvent(
        event_id=event_id or f"e-{n}",
        session_id=f"s-{n}",
        qos_status=QosStatus.AVAILABLE,
        status_info=None,
        event_time=T0 + timedelta(milliseconds=n),
        type=kind or "org.camaraproject.quality-on-demand.v1.qos-status-changed",
        source=source or f"https://api.example.com/qod/v1/sessions/s-{n}",
        shape="cloudevent-v1",
        raw={"n": n},
    )


def _agree(log: EventLog, path: Path | None, expected: list[str]) -> None:
    """The log's ids, its df, its intervals and the reopened file all hold `expected`, once each."""
    assert list(log.df["event_id"]) == expected
    assert len(log) == len(expected) == len(log.df) == len(log.intervals())
    if path is not None:
        reopened = EventLog(path)
        assert list(reopened.df["event_id"]) == expected
        assert reopened.df.drop(columns=["raw"]).equals(log.df.drop(columns=["raw"]))
        reopened.close()


# -- no fixed-width codes ----------------------------------------------------------------------


def test_a_hundred_thousand_distinct_sources_and_types_are_stored_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    log = EventLog(path)
    count = 100_000  # past 2**15 and 2**16: the old 16-bit codes broke at the 32,769th source
    events = [_event(n, kind=f"org.example.type-{n}") for n in range(count)]
    for start in range(0, count, 10_000):
        assert all(log.append_many([(e, None) for e in events[start : start + 10_000]]))
    frame = log.df
    assert len(frame) == count and frame["source"].nunique() == count and frame["type"].nunique() == count
    assert frame["source"].iloc[-1] == f"https://api.example.com/qod/v1/sessions/s-{count - 1}"
    assert frame["type"].iloc[40_000] == "org.example.type-40000"
    assert len(log.intervals()) == count
    log.close()
    reopened = EventLog(path)
    assert len(reopened) == count and reopened.df["source"].nunique() == count
    assert reopened.df["type"].iloc[-1] == f"org.example.type-{count - 1}"
    assert not reopened.append(events[50_000])  # still known after reopening


def test_the_listener_takes_a_new_source_past_the_old_ceiling(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite")
    log.append_many([(_event(n), None) for n in range(2**15 + 5)])
    with Listener(log, token=TOKEN) as listener:
        source = "https://api.example.com/qod/v1/sessions/new"
        body = build_notification(
            "cloudevent-v1",
            event_id="new",
            session_id="s-new",
            qos_status="AVAILABLE",
            time="2026-12-06T10:00:00Z",
            source=source,
        )
        answer = httpx.post(listener.url, json=body, headers={"authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 204
    assert log.df["event_id"].iloc[-1] == "new" and len(log.df) == 2**15 + 6


# -- atomic appends ----------------------------------------------------------------------------


class Boom(Exception):
    """The injected failure."""


def _failing(after: int = 0) -> Callable[..., None]:
    """A function that works `after` times, then raises Boom."""
    calls = {"n": 0}

    def fail(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] > after:
            raise Boom

    return fail


STEPS = ["write", "commit", "sessions", "types", "sources", "status"]
CASES = [("file", step) for step in STEPS] + [("memory", step) for step in STEPS if step not in ("write", "commit")]


def _inject(monkeypatch: pytest.MonkeyPatch, log: EventLog, step: str) -> None:
    """Make one step of the next append fail, as a full disk or an exhausted memory would."""
    if step in ("write", "commit"):
        real = getattr(store, step)
        failing = _failing()
        monkeypatch.setattr(store, step, lambda db, *rows: (failing(), real(db, *rows)))
    elif step == "status":
        monkeypatch.setattr(log, "_status", _FailingArray(log._status))
    else:  # a code column: the row is half in memory when it fails
        monkeypatch.setattr(getattr(log, f"_{step}"), "append", _failing())


class _FailingArray:
    """An array whose append fails (the last column a row reaches)."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def append(self, value: int) -> None:
        raise Boom

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)

    def __getitem__(self, item: Any) -> Any:
        return self.wrapped[item]

    def __delitem__(self, item: Any) -> None:
        del self.wrapped[item]

    def __len__(self) -> int:
        return len(self.wrapped)


@pytest.mark.parametrize(("storage", "step"), CASES, ids=[f"{storage}-{step}" for storage, step in CASES])
@pytest.mark.parametrize("batched", [False, True], ids=["append", "append_many"])
def test_a_failure_at_any_step_leaves_no_trace_and_the_retry_lands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, storage: str, step: str, batched: bool
) -> None:
    path = tmp_path / "events.sqlite" if storage == "file" else None
    log = EventLog(path)
    assert log.append(_event(0))
    _inject(monkeypatch, log, step)
    fresh = [_event(1), _event(2, source="https://another.example.com/new-source")]
    with pytest.raises(Boom):
        if batched:
            log.append_many([(e, None) for e in fresh])
        else:
            log.append(fresh[0])
    _agree(log, path, ["e-0"])
    assert log.sessions() == ["s-0"] and list(log.df["source"].cat.categories) == [_event(0).source]
    monkeypatch.undo()
    if path is not None:
        assert sqlite3.connect(path).execute("SELECT count(*) FROM events").fetchone() == (1,)
    assert log.append_many([(e, None) for e in fresh]) == [True, True]  # the retry is stored, not a duplicate
    _agree(log, path, ["e-0", "e-1", "e-2"])
    assert log.raw("e-2") == {"n": 2}


def test_a_failed_store_is_503_and_the_providers_retry_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.sqlite"
    log = EventLog(path)
    body = build_notification(
        "cloudevent-v1", event_id="retry-me", session_id="s-1", qos_status="AVAILABLE", time="2026-12-06T10:00:00Z"
    )
    headers = {"authorization": f"Bearer {TOKEN}"}
    with Listener(log, token=TOKEN) as listener:
        _inject(monkeypatch, log, "sources")  # memory fails after the row reached the open transaction
        first = httpx.post(listener.url, json=body, headers=headers)
        assert first.status_code == 503 and first.json()["code"] == "UNAVAILABLE"
        monkeypatch.undo()
        assert httpx.post(listener.url, json=body, headers=headers).status_code == 204
        assert listener.accepted == 1 and listener.duplicates == 0
        assert httpx.post(listener.url, json=body, headers=headers).status_code == 204
        assert listener.duplicates == 1
    _agree(log, path, ["retry-me"])


# -- identity ----------------------------------------------------------------------------------


def test_identity_is_source_and_id_for_cloudevents() -> None:
    log = EventLog()
    assert log.append(_event(1, source="https://a.example.com", event_id="1"))
    assert log.append(_event(2, source="https://b.example.com", event_id="1"))  # another provider's "1"
    assert not log.append(_event(3, source="https://a.example.com", event_id="1"))  # a's "1" again
    assert list(zip(log.df["source"], log.df["event_id"], strict=True)) == [
        ("https://a.example.com", "1"),
        ("https://b.example.com", "1"),
    ]


def test_identity_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    log = EventLog(path)
    log.append_many([(_event(1, source="a", event_id="x"), None), (_event(2, source="b", event_id="x"), None)])
    log.close()
    reopened = EventLog(path)
    assert len(reopened) == 2
    assert not reopened.append(_event(9, source="b", event_id="x"))
    assert reopened.append(_event(9, source="c", event_id="x"))


def test_polls_and_client_records_keep_their_own_identity() -> None:
    """A poll's id names its session and status: the same change polled from two URLs is one event."""
    log = EventLog()
    polled = [
        StatusEvent("poll:s-1:AVAILABLE:", "s-1", QosStatus.AVAILABLE, None, T0, "poll", url, "poll", {})
        for url in ("http://127.0.0.1:1/qod/v1", "http://localhost:1/qod/v1")
    ]
    assert [log.append(e) for e in polled] == [True, False]
    created = [
        StatusEvent("client:s-1:requested", "s-1", QosStatus.REQUESTED, None, T0, "created", src, "client", {})
        for src in ("qodlab-client", "another")
    ]
    assert [log.append(e) for e in created] == [True, False]


def test_the_listener_keeps_same_id_events_from_two_sources() -> None:
    with Listener(EventLog(), token=TOKEN) as listener:
        for source in ("https://a.example.com/qod/v1/sessions/1", "https://a.example.com/qod/v1/sessions/2"):
            body = build_notification(
                "cloudevent-v1",
                event_id="1",
                session_id=source[-1],
                qos_status="AVAILABLE",
                time="2026-12-06T10:00:00Z",
                source=source,
            )
            answer = httpx.post(
                listener.url,
                content=json.dumps(body),
                headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/cloudevents+json"},
            )
            assert answer.status_code == 204
        assert listener.accepted == 2 and list(listener.log.df["session_id"]) == ["1", "2"]
