"""The event log: every accepted status notification once, as a pandas DataFrame.

`log` holds the `EventLog` (appending, reading, waiting), `frames` its in-memory columns and the
DataFrame built from them, `intervals` the status intervals a timeline draws, and `store` the
SQLite file that makes it durable.
"""

from __future__ import annotations

from .codes import COLUMNS, INTERVAL_COLUMNS
from .log import EventLog

__all__ = ["COLUMNS", "INTERVAL_COLUMNS", "EventLog"]
