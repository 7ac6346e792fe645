"""`EventLog`: every accepted status event once, as a pandas DataFrame, optionally durable.

Appends come from the listener's thread; reads come from anywhere. The columns live in memory
(`frames`); with a path, each event is written to SQLite (`store`) before `append` returns, so a
listener acknowledges only what is on disk, and the file is reloaded when opened again.

An append is atomic: the rows go into an open SQLite transaction, then into the columns, then the
transaction commits; a failure at any step undoes the others, so the event is in neither (memory,
file, the set of known identities) and a retry of it is stored, not taken for a duplicate.

An event's identity (what makes a second copy a duplicate):
- a notification (every CloudEvent shape, and v0.9): its `source` and `id` together, as CloudEvents
  defines it, so two providers' or two sessions' events with the same `id` are both kept; a v0.9
  event has no source, so its `eventId` (or, without one, a digest of its body) alone;
- a poll (`poll`, `poll-assignment`) or a client record (`client`): its `event_id` alone, which
  qodlab makes from the session id, status and status info (`poll:<id>:<status>:<info>`,
  `client:<id>:requested`), so a status seen by two watchers, or polled again, is one event.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest, WaitTimeout
from ..models import QosStatus, StatusInfo
from ..notebook import kernel
from ..notifications import POLL_SHAPES, SHAPES, Shape, StatusEvent
from . import store

if TYPE_CHECKING:
    import pandas as pd
from .codes import INFO_CODE, INFOS, NAT, SHAPE_CODE, STATUS_CODE, STATUSES, Codes, Identities, dt

__all__ = ["EventLog", "identity"]

_OWN_SHAPES = frozenset((*POLL_SHAPES, "client"))


def identity(event_id: str, source: str, shape: str) -> tuple[str | None, str]:
    """What makes two events the same one: `(source, id)` for a notification, `(None, id)` for qodlab's own."""
    return (None, event_id) if shape in _OWN_SHAPES else (source, event_id)


log = logging.getLogger("qodlab")
SHOWN = 50  # the newest events a notebook cell shows


class EventLog:
    """Status events, each stored once (by identity: see the module), readable as `.df` and `.intervals()`.

    Parameters:
        path: a SQLite file to write every event to (and to reload from); None keeps it in memory.
        keep_raw: how many of the newest raw bodies to keep in memory for the `raw` column
            (older ones stay in the file: `raw(event_id)`).
        fsync: also survive power loss (SQLite synchronous=FULL); the default survives the
            process being killed, which is what a notebook needs, at a fraction of the cost.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        keep_raw: int = 100_000,
        fsync: bool = False,
        _readonly: bool = False,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.readonly = _readonly
        self._cond = threading.Condition(threading.RLock())
        self._ids: list[str] = []
        self._seen = Identities()  # what `identity` gives for each stored event
        self._sessions = Codes()  # session ids as codes: categorical for free, small in memory
        self._status = array("b")
        self._info = array("b")
        self._shape = array("b")
        self._event_ns = array("q")
        self._received_ns = array("q")
        self._types = Codes()
        self._sources = Codes()
        self._raw: deque[tuple[int, str]] = deque(maxlen=keep_raw)
        self._version = 0
        self._cache: tuple[int, pd.DataFrame] | None = None
        self._callbacks: list[Callable[[StatusEvent], None]] = []
        self._feeders: weakref.WeakSet[Any] = weakref.WeakSet()  # listeners writing here: their refusals
        self._db: sqlite3.Connection | None = None
        self._db_seq = 0
        if self.path is not None:
            self._open_db(fsync)

    @property
    def durable(self) -> bool:
        """Whether events are written to a file."""
        return self._db is not None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> EventLog:
        """Open a log file read-only, e.g. while a `qodlab listen --db` process writes it."""
        return cls(path, _readonly=True)

    def __repr__(self) -> str:
        from ..notebook.display import plural

        where = f" {self.path}" if self.path else ""
        return f"<EventLog {plural(len(self), 'event')}, {plural(len(self._sessions.names), 'session')}{where}>"

    def _repr_html_(self) -> str:
        """A card (counts by status), then the newest events: all of them, or the last 50 of N."""
        from ..notebook.display import card, plural

        frame: Any = self.df.drop(columns="raw")
        n, shown = len(frame), min(len(frame), SHOWN)
        counts = frame["qos_status"].value_counts(sort=False)  # in the lifecycle's order
        rows = [
            ("events", plural(n, "event")),
            ("sessions", plural(len(self._sessions.names), "session")),
            ("by status", ", ".join(f"{s} {c}" for s, c in counts.items() if c) or "none yet"),
            ("stored", html.escape(str(self.path)) if self.path else "in memory"),
        ]
        note = f"the last {shown} of {n:,} events" if n > shown else ("all of them" if n else "no events yet")
        table = str(frame.tail(SHOWN)._repr_html_()) if n else ""
        return card("EventLog", rows, note=note) + table

    def __len__(self) -> int:
        self.refresh()
        return len(self._ids)

    # -- writing -------------------------------------------------------------------------

    def append(self, event: StatusEvent, raw: str | None = None) -> bool:
        """Store `event` unless its identity is known; returns whether it was new.

        With a file, the event is committed before this returns. `raw` is the body as received
        (defaults to `event.raw` as JSON). Raises what kept it from being stored (then it is not).
        """
        if self._db is not None or self.readonly:
            return self.append_many([(event, raw)])[0]
        # In memory, one event (a listener's every request): the same steps as append_many, unbatched.
        stored = event if event.received_at else replace(event, received_at=datetime.now(UTC))
        text = raw if raw is not None else json.dumps(event.raw, separators=(",", ":"))
        with self._cond:
            if identity(event.event_id, event.source, event.shape) in self._seen:
                return False
            self._add_rows([store.row(stored, text)])
            self._cond.notify_all()
        self._announce([stored])
        return True

    def _announce(self, events: Sequence[StatusEvent]) -> None:
        """Hand new events to the callbacks (outside the lock)."""
        for event in events:
            for callback in list(self._callbacks):
                try:
                    callback(event)
                except Exception:  # a broken callback must not lose or refuse an event
                    log.exception("event log callback %r failed", callback)

    def append_many(self, items: Sequence[tuple[StatusEvent, str | None]]) -> list[bool]:
        """Store several events in one transaction (one commit); returns which were new."""
        if self.readonly:
            msg = "this event log was opened read-only"
            raise PermissionError(msg)
        now = datetime.now(UTC)
        fresh: list[tuple[StatusEvent, str]] = []
        results: list[bool] = []
        with self._cond:
            batch: set[tuple[str | None, str]] = set()
            for event, raw in items:
                key = identity(event.event_id, event.source, event.shape)
                new = key not in self._seen and key not in batch
                results.append(new)
                if new:
                    batch.add(key)
                    stored = event if event.received_at else replace(event, received_at=now)
                    fresh.append((stored, raw if raw is not None else json.dumps(event.raw, separators=(",", ":"))))
            rows = [store.row(event, raw) for event, raw in fresh]
            if rows:
                self._add_rows(rows)
                self._cond.notify_all()  # once per batch: wait_for() callers re-check
        self._announce([event for event, _ in fresh])
        return results

    def _add_rows(self, rows: list[tuple[Any, ...]], write: bool = True) -> None:
        """Store new rows in the file (`write`) and the columns, all or none (the caller holds the lock)."""
        mark = (len(self._ids), len(self._sessions.names), len(self._types.names), len(self._sources.names))
        db = self._db if write else None
        try:
            if db is not None:
                store.write(db, rows)  # inside a transaction, not committed yet
            for row in rows:
                self._add(*row)
            if db is not None:
                store.commit(db)
        except BaseException:
            for row in rows:
                self._seen.discard(identity(row[0], row[7], row[8]))
            self._truncate(*mark)
            if db is not None:
                store.rollback(db)
            raise
        first = mark[0]
        self._raw.extend((first + i, row[-1]) for i, row in enumerate(rows))
        self._version += 1

    def _truncate(self, rows: int, sessions: int, types: int, sources: int) -> None:
        """Forget every row from `rows` on, in every column (an append that failed midway)."""
        del self._ids[rows:]
        for column in (self._status, self._info, self._shape, self._event_ns, self._received_ns):
            del column[rows:]
        self._sessions.truncate(rows, sessions)
        self._types.truncate(rows, types)
        self._sources.truncate(rows, sources)
        self._version += 1

    def _add(
        self,
        event_id: str,
        session_id: str,
        status: str,
        info: str | None,
        event_ns: int | None,
        received_ns: int,
        kind: str,
        source: str,
        shape: str,
        raw: str,
    ) -> None:
        self._ids.append(event_id)
        self._sessions.append(session_id)
        self._status.append(STATUS_CODE[status])
        self._info.append(INFO_CODE[info] if info else -1)
        self._shape.append(SHAPE_CODE[shape])
        self._event_ns.append(NAT if event_ns is None else event_ns)
        self._received_ns.append(received_ns)
        self._types.append(kind)
        self._sources.append(source)
        self._seen.add(identity(event_id, source, shape))

    def fed_by(self, source: Any) -> None:
        """Note a listener that writes here: a `wait_for` that times out says what it refused.

        `source` has `refusals_note() -> str | None`; it is held weakly (a stopped listener is forgotten).
        """
        self._feeders.add(source)

    def on_event(self, callback: Callable[[StatusEvent], None], remove: bool = False) -> None:
        """Call `callback(event)` for every new event (from the appending thread)."""
        with self._cond:
            if remove:
                self._callbacks.remove(callback)
            else:
                self._callbacks.append(callback)

    def close(self) -> None:
        """Close the file, if any."""
        with self._cond:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- reading -------------------------------------------------------------------------

    @property
    def df(self) -> pd.DataFrame:
        """Every event, oldest first (cached until an event arrives)."""
        self.refresh()
        with self._cond:
            if self._cache is not None and self._cache[0] == self._version:
                return self._cache[1]
            version, snapshot = self._version, self._snapshot()
        from .frames import frame  # pandas, when a frame is first asked for

        built = frame(*snapshot)
        with self._cond:
            self._cache = (version, built)
        return built

    def _snapshot(self) -> tuple[Any, ...]:
        n = len(self._ids)
        raw = [item for item in self._raw if item[0] < n]
        return (
            self._ids[:n],
            self._sessions.frozen(n),
            self._status[:n],
            self._info[:n],
            self._event_ns[:n],
            self._received_ns[:n],
            self._types.frozen(n),
            self._sources.frozen(n),
            self._shape[:n],
            raw,
        )

    def intervals(self) -> pd.DataFrame:
        """One row per session status interval (its `kind`: session or assignment); the last ends at NaT."""
        self.refresh()
        with self._cond:
            n = len(self._ids)
            sessions, status, info = self._sessions.frozen(n), self._status[:n], self._info[:n]
            event_ns, received_ns, shape = self._event_ns[:n], self._received_ns[:n], self._shape[:n]
        from .intervals import intervals

        return intervals(sessions, status, info, event_ns, received_ns, shape)

    def recent(
        self,
        limit: int = 50,
        session_id: str | None = None,
        qos_status: str | None = None,
        columns: Sequence[str] = ("received_at", "session_id", "qos_status", "status_info", "shape", "event_id"),
    ) -> list[dict[str, Any]]:
        """The newest events first, at most `limit`, optionally of one session or status, as plain dicts."""
        frame = self.df
        if session_id:
            frame = frame[frame["session_id"] == session_id]
        if qos_status:
            frame = frame[frame["qos_status"] == qos_status]
        import pandas as pd

        rows = frame.tail(limit).iloc[::-1][list(columns)]
        return [{str(k): (None if pd.isna(v) else v) for k, v in row.items()} for row in rows.to_dict("records")]

    def sessions(self) -> list[str]:
        """Every session id seen, in order of first appearance."""
        with self._cond:
            return self._sessions.names[:]

    def raw(self, event_id: str) -> dict[str, Any]:
        """The body an event arrived with."""
        with self._cond:
            for index, text in reversed(self._raw):
                if self._ids[index] == event_id:
                    return dict(json.loads(text))
            if self._db is not None:
                row = self._db.execute("SELECT raw FROM events WHERE event_id = ?", (event_id,)).fetchone()
                if row is not None:
                    return dict(json.loads(row[0]))
        raise KeyError(event_id)

    def has(self, session_id: str, status: QosStatus | str, status_info: StatusInfo | str | None = None) -> bool:
        """Whether `session_id` has an event with `status` (and `status_info`, when given)."""
        want = (_status(status).value, StatusInfo(status_info).value if status_info else None)
        self.refresh()
        with self._cond:
            return self._find(str(session_id), want, 0) is not None

    def wait_for(
        self,
        session_id: str,
        status: QosStatus | str,
        timeout: float = 10.0,
        status_info: StatusInfo | str | None = None,
    ) -> StatusEvent:
        """Wait until `session_id` has an event with `status` (and `status_info`); returns it.

        Raises WaitTimeout (a QodError and a TimeoutError) saying the last status the log has for it
        and what the listeners feeding the log refused. In a kernel cell the dashboard keeps redrawing
        meanwhile (`qodlab.notebook.kernel.run_pending`).
        """
        want = (_status(status).value, StatusInfo(status_info).value if status_info else None)
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            with self._cond:
                self.refresh()
                found = self._find(str(session_id), want, checked)
                if found is not None:
                    return self._event_at(found)
                checked = len(self._ids)
                left = deadline - time.monotonic()
                if left <= 0:
                    last = self._last_status(str(session_id))
                    seen = f"its last event here: {last}" if last else "no event for it here at all"
                    msg = f"no {want[0]} event for session {session_id} within {timeout:g} s ({seen})"
                    text = "; ".join([msg, *self._refusals()])
                    raise WaitTimeout(text, str(session_id), want[0], last or "unknown")
                self._cond.wait(kernel.wait_slice(min(left, 0.2) if self.readonly else left))
            kernel.run_pending()  # outside the lock: the views read this log

    def _last_status(self, session_id: str) -> str | None:
        session = self._sessions.index.get(session_id)
        codes = self._sessions.codes
        for i in range(len(self._ids) - 1, -1, -1):
            if codes[i] == session:
                return STATUSES[self._status[i]]
        return None

    def feeders(self) -> list[Any]:
        """The running listeners that write into this log (`fed_by`), e.g. to read what they refused."""
        return [feeder for feeder in list(self._feeders) if feeder.log is self and feeder.running]

    def _refusals(self) -> list[str]:
        """What the listeners feeding this log refused, a sentence each (none: nothing refused)."""
        notes = [feeder.refusals_note() for feeder in self.feeders()]
        notes += [_gone(feeder, self) for feeder in list(self._feeders) if feeder.log is self and not feeder.running]
        return [note for note in notes if note]

    def _find(self, session_id: str, want: tuple[str, str | None], start: int) -> int | None:
        status, session = STATUS_CODE[want[0]], self._sessions.index.get(session_id)
        codes = self._sessions.codes
        for i in range(start, len(self._ids)):
            if codes[i] == session and self._status[i] == status:
                info = self._info[i]
                if want[1] is None or (info >= 0 and INFOS[info] == want[1]):
                    return i
        return None

    def _event_at(self, i: int) -> StatusEvent:
        shape: Shape = SHAPES[self._shape[i]]
        raw = next((text for index, text in self._raw if index == i), None)
        return StatusEvent(
            event_id=self._ids[i],
            session_id=self._sessions.name(i),
            qos_status=QosStatus(STATUSES[self._status[i]]),
            status_info=StatusInfo(INFOS[self._info[i]]) if self._info[i] >= 0 else None,
            event_time=dt(self._event_ns[i]),
            type=self._types.name(i),
            source=self._sources.name(i),
            shape=shape,
            raw=json.loads(raw) if raw else {},
            received_at=dt(self._received_ns[i]),
        )

    # -- exports -------------------------------------------------------------------------

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write every event to a CSV file."""
        self.df.to_csv(path, index=False)
        return Path(path)

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write every event to a Parquet file (needs pyarrow)."""
        try:
            import pyarrow  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            msg = "to_parquet needs pyarrow: pip install pyarrow"
            raise ImportError(msg) from None
        self.df.to_parquet(path, index=False)
        return Path(path)

    # -- the file --------------------------------------------------------------------------

    def _open_db(self, fsync: bool) -> None:
        assert self.path is not None
        self._db = store.connect(self.path, readonly=self.readonly, fsync=fsync)
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> int:
        """Load events another process has written to the file since; returns how many."""
        if self._db is None or not (self.readonly or force):
            return 0
        loaded = 0
        with self._cond:
            while rows := store.rows_since(self._db, self._db_seq):
                fresh, batch = [], set()
                for row in rows:
                    key = identity(row[1], row[8], row[9])
                    if key not in self._seen and key not in batch:  # a file of an older qodlab may hold both
                        batch.add(key)
                        fresh.append(row[1:])
                if fresh:
                    self._add_rows(fresh, write=False)
                self._db_seq = rows[-1][0]
                loaded += len(rows)
            if loaded:
                self._cond.notify_all()
            return loaded

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _status(status: QosStatus | str) -> QosStatus:
    try:
        return QosStatus(str(status.value if isinstance(status, QosStatus) else status).upper())
    except ValueError:
        msg = f"status: {status!r} is not a status (status takes REQUESTED, AVAILABLE or UNAVAILABLE)"
        raise InvalidRequest(msg, "status") from None


def _gone(feeder: Any, log: EventLog) -> str:
    """Why a listener that fed `log` no longer does: stopped, or replaced by one (feeding which log)."""
    name = type(feeder).__name__
    new = feeder.replaced_by
    if new is None:
        return f"the {name} feeding this log is stopped: nothing reaches it through that one (start() serves again)"
    where = "" if new.log is log else ", which feeds another log"
    return f"the {name} feeding this log was stopped and replaced by {new!r}{where}"
