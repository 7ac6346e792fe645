"""The event log: every status change once, as a pandas DataFrame, whichever way it came.

A row is a notification the listener accepted (direct, through a relay), a change a `Watcher` saw
by polling, or a REQUESTED session qodlab's own client created; `shape` says which, and `kind`
whether its id is a QoS session's or a QoS Provisioning assignment's (`qodlab.models.Kind`).

`log` holds the `EventLog` (appending, reading, waiting), `frames` its in-memory columns and the
DataFrame built from them, `intervals` the status intervals a timeline draws, and `store` the
SQLite file that makes it durable.
"""

from __future__ import annotations

from .codes import COLUMNS, INTERVAL_COLUMNS
from .log import EventLog

__all__ = ["COLUMNS", "INTERVAL_COLUMNS", "EventLog"]
