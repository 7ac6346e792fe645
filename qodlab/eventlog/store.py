"""The event log's file: SQLite in WAL mode, one row per event, appended in transactions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..notifications import StatusEvent

__all__ = ["commit", "connect", "rollback", "row", "rows_since", "write"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    qos_status TEXT NOT NULL,
    status_info TEXT,
    event_time INTEGER,
    received_at INTEGER NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    shape TEXT NOT NULL,
    raw TEXT NOT NULL
)"""
# No UNIQUE index on event_id: the log deduplicates in memory (it loads every row when opened),
# and the index's B-tree inserts of random ids cost ~9 us of the ~15 us an event took to store.
_INSERT = "INSERT INTO events VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def ns(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000) * 1000


def row(event: StatusEvent, raw: str) -> tuple[Any, ...]:
    """An event's columns, as stored in SQLite and in memory."""
    return (
        event.event_id,
        event.session_id,
        event.qos_status.value,
        event.status_info.value if event.status_info else None,
        ns(event.event_time) if event.event_time else None,
        ns(event.received_at or datetime.now(UTC)),
        event.type,
        event.source,
        event.shape,
        raw,
    )


def connect(path: Path, *, readonly: bool, fsync: bool) -> sqlite3.Connection:
    """Open the file: read-only, or for writing (created with its table if new)."""
    if readonly:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
    db.execute(_SCHEMA)
    return db


def write(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Begin a transaction and write rows in it (the connection autocommits otherwise): `commit` ends it.

    The log commits only once its columns hold the rows too, so an event is in both or in neither;
    and a batch costs about one commit instead of one per event.
    """
    db.execute("BEGIN")
    db.executemany(_INSERT, rows)


def commit(db: sqlite3.Connection) -> None:
    """Commit what `write` wrote: on disk before anyone is told."""
    db.execute("COMMIT")


def rollback(db: sqlite3.Connection) -> None:
    """Undo what `write` wrote, if a transaction is open (a failed BEGIN leaves none)."""
    if db.in_transaction:
        db.execute("ROLLBACK")


def rows_since(db: sqlite3.Connection, seq: int, limit: int = 20_000) -> list[tuple[Any, ...]]:
    """At most `limit` rows written after `seq` (another process may be writing); [] before the table exists.

    In chunks, so that reopening a file of a million events never holds them all as Python rows.
    """
    try:
        return db.execute(
            "SELECT seq, event_id, session_id, qos_status, status_info, event_time, received_at, type,"
            " source, shape, raw FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
    except sqlite3.OperationalError:  # the writer has not created the table yet
        return []
