"""The event log against a plain Python model: random appends, duplicates, failures, retries, reopenings.

A hypothesis rule-based state machine drives an `EventLog` (in memory, and on a file) and a model
of it made of a list and a set; after every step `df`, `len` and `intervals()` must say what the
model says. Identity is the module docstring's rule: (source, id) for notifications, id alone for
qodlab's own records (polls).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from qodlab import EventLog, QosStatus, StatusEvent, StatusInfo
from qodlab.eventlog import store

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
STEPS = ("write", "commit", "_sessions", "_types", "_sources")


class Boom(Exception):
    """The injected failure."""


def _raise(*args: Any, **kwargs: Any) -> None:
    raise Boom


events = st.builds(
    lambda event_id, session, status, info, source, shape, when, received: StatusEvent(
        event_id=f"poll:{session}:{status.value}:" if shape == "poll" else event_id,
        session_id=session,
        qos_status=status,
        status_info=info if status is QosStatus.UNAVAILABLE else None,
        event_time=None if when is None else T0 + timedelta(seconds=when),
        type="t",
        source=source,
        shape=shape,
        raw={"id": event_id},
        received_at=T0 + timedelta(seconds=received),
    ),
    event_id=st.sampled_from(["1", "2", "3", "4"]),
    session=st.sampled_from(["s0", "s1", "s2"]),
    status=st.sampled_from(list(QosStatus)),
    info=st.sampled_from([StatusInfo.DURATION_EXPIRED, StatusInfo.DELETE_REQUESTED]),
    source=st.sampled_from(["https://a.example.com", "https://b.example.com"]),
    shape=st.sampled_from(["cloudevent-v1", "cloudevent-v1", "poll"]),
    when=st.none() | st.integers(0, 20),
    received=st.integers(0, 20),
)


def _key(event: StatusEvent) -> tuple[str | None, str]:
    return (None, event.event_id) if event.shape == "poll" else (event.source, event.event_id)


def _intervals(rows: list[StatusEvent]) -> list[tuple[Any, ...]]:
    """The status intervals, by the rule `EventLog.intervals` documents, in plain Python."""
    out: list[tuple[Any, ...]] = []
    for session in dict.fromkeys(e.session_id for e in rows):
        mine = [e for e in rows if e.session_id == session]
        mine.sort(key=lambda e: (e.event_time or e.received_at, e.received_at))  # stable: ties keep arrival
        runs: list[list[StatusEvent]] = []
        for e in mine:
            if runs and (runs[-1][0].qos_status, runs[-1][0].status_info) == (e.qos_status, e.status_info):
                runs[-1].append(e)
            else:
                runs.append([e])
        starts = []
        for run in runs:
            notified = [e.event_time or e.received_at for e in run if e.shape != "poll"]
            starts.append(min(notified) if notified else run[0].event_time or run[0].received_at)
        for i, run in enumerate(runs):
            end = starts[i + 1] if i + 1 < len(runs) else None
            info = run[0].status_info.value if run[0].status_info else None
            out.append((session, run[0].qos_status.value, info, starts[i], end))
    return out


class LogMachine(RuleBasedStateMachine):
    durable = False

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp()) if self.durable else None
        self.path = self.folder / "events.sqlite" if self.folder else None
        self.log = EventLog(self.path)
        self.rows: list[StatusEvent] = []
        self.keys: set[tuple[str | None, str]] = set()

    def _expect(self, event: StatusEvent) -> bool:
        new = _key(event) not in self.keys
        if new:
            self.keys.add(_key(event))
            self.rows.append(event)
        return new

    @rule(event=events)
    def append(self, event: StatusEvent) -> None:
        assert self.log.append(event) == self._expect(event)

    @rule(batch=st.lists(events, max_size=4))
    def append_many(self, batch: list[StatusEvent]) -> None:
        assert self.log.append_many([(e, None) for e in batch]) == [self._expect(e) for e in batch]

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        again = data.draw(st.sampled_from(self.rows))
        assert not self.log.append(again)

    @rule(event=events, step=st.sampled_from(STEPS), batched=st.booleans())
    def fail_then_retry(self, event: StatusEvent, step: str, batched: bool) -> None:
        if step in ("write", "commit") and not self.durable:
            step = "_sources"
        undo = self._inject(step)
        new = _key(event) not in self.keys
        try:
            if batched:
                self.log.append_many([(event, None)])
            else:
                self.log.append(event)
        except Boom:
            assert new, "only a new event reaches the step that fails"
        else:
            assert not new, "a new event got past a failing step"
        finally:
            undo()
        self.check()  # nothing of it stayed
        assert self.log.append(event) == self._expect(event)  # the retry lands (or is a true duplicate)

    def _inject(self, step: str) -> Callable[[], None]:
        if step in ("write", "commit"):
            real = getattr(store, step)
            setattr(store, step, _raise)
            return lambda: setattr(store, step, real)
        column = getattr(self.log, step)
        column.append = _raise
        return lambda: delattr(column, "append")

    @precondition(lambda self: self.durable)
    @rule()
    def reopen(self) -> None:
        self.log.close()
        self.log = EventLog(self.path)

    @invariant()
    def check(self) -> None:
        frame = self.log.df
        assert len(self.log) == len(self.rows) == len(frame)
        assert list(frame["event_id"]) == [e.event_id for e in self.rows]
        assert list(frame["source"].astype(object)) == [e.source for e in self.rows]
        assert list(frame["session_id"].astype(object)) == [e.session_id for e in self.rows]
        assert list(frame["qos_status"].astype(object)) == [e.qos_status.value for e in self.rows]
        assert list(frame["received_at"]) == [pd.Timestamp(e.received_at) for e in self.rows]
        assert self.log.sessions() == list(dict.fromkeys(e.session_id for e in self.rows))
        got = [
            (
                r.session_id,
                r.qos_status,
                None if pd.isna(r.status_info) else r.status_info,
                r.start,
                None if pd.isna(r.end) else r.end,
            )
            for r in self.log.intervals().itertuples()
        ]
        assert got == [
            (s, q, i, pd.Timestamp(a), None if b is None else pd.Timestamp(b))
            for s, q, i, a, b in _intervals(self.rows)
        ]

    def teardown(self) -> None:
        self.log.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


class DurableLogMachine(LogMachine):
    durable = True


TestLogInMemory = LogMachine.TestCase
TestLogInMemory.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestLogOnFile = DurableLogMachine.TestCase
TestLogOnFile.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
