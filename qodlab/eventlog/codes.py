"""The event log's in-memory columns: codes, names and times, with no pandas or numpy at import.

`frames` builds the DataFrame from them when `.df` is first read; an application that only
appends and waits (a listener in a script) never imports pandas.
"""

from __future__ import annotations

from array import array
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, get_args

from ..models import Kind, QosStatus, StatusInfo
from ..notifications import SHAPES

if TYPE_CHECKING:
    import numpy as np

__all__ = ["COLUMNS", "INTERVAL_COLUMNS", "NAT", "Codes", "Identities", "dt"]

COLUMNS = (
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
    "kind",
)
KIND_DTYPE_NAMES: tuple[Kind, ...] = get_args(Kind)  # `kind`: a QoS session, or a QoS Provisioning assignment
INTERVAL_COLUMNS = ("session_id", "qos_status", "status_info", "start", "end", "kind")
STATUSES = [s.value for s in QosStatus]
INFOS = [s.value for s in StatusInfo]
SHAPE_NAMES: list[str] = list(SHAPES)
NAT = -(2**63)  # numpy's NaT as int64 (np.iinfo(np.int64).min)
STATUS_CODE = {name: code for code, name in enumerate(STATUSES)}
INFO_CODE = {name: code for code, name in enumerate(INFOS)}
SHAPE_CODE = {name: code for code, name in enumerate(SHAPE_NAMES)}


def dt(ns: int) -> datetime | None:
    return None if ns == NAT else datetime.fromtimestamp(ns / 1e9, UTC)


_WIDER = {"b": "h", "h": "i", "i": "q"}
_LIMIT = {"b": 2**7, "h": 2**15, "i": 2**31, "q": 2**63}


class Codes:
    """A column of repeated strings, held as integer codes into a list of distinct names.

    The codes start narrow (`typecode`) and widen as names are added (8, 16, 32, then 64 bits):
    a log with a million distinct sources costs 4 bytes a row there, one with a few costs 1 or 2,
    and no count of names is ever refused.
    """

    def __init__(self, typecode: str = "b") -> None:
        self.codes: array[int] = array(typecode)
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def append(self, name: str) -> None:
        code = self.index.get(name)
        if code is None:
            code = len(self.names)
            if code >= _LIMIT[self.codes.typecode]:
                self.codes = array(_WIDER[self.codes.typecode], self.codes)
            self.index[name] = code
            self.names.append(name)
        self.codes.append(code)

    def truncate(self, rows: int, names: int) -> None:
        """Forget the rows from `rows` on and the names from `names` on (an append that failed)."""
        del self.codes[rows:]
        for name in self.names[names:]:
            del self.index[name]
        del self.names[names:]

    def name(self, row: int) -> str:
        return self.names[self.codes[row]]

    def frozen(self, n: int) -> tuple[np.ndarray[Any, Any], list[str]]:
        """The first `n` codes (a copy) and the names they use."""
        import numpy as np

        codes = np.frombuffer(self.codes, dtype=self.codes.typecode)[:n].copy() if n else np.array([], np.int32)
        return codes, self.names[:]


class Identities:
    """The identities a log holds, `(source, id)` pairs kept as a set of ids per source.

    A set of pairs cost a tuple (64 bytes) per event; here an event costs a set slot, and the id
    string is the one the log's `event_id` column already holds.
    """

    def __init__(self) -> None:
        self.by_source: dict[str | None, set[str]] = {}

    def __contains__(self, key: tuple[str | None, str]) -> bool:
        ids = self.by_source.get(key[0])
        return ids is not None and key[1] in ids

    def add(self, key: tuple[str | None, str]) -> None:
        ids = self.by_source.get(key[0])
        if ids is None:
            ids = self.by_source[key[0]] = set()
        ids.add(key[1])

    def discard(self, key: tuple[str | None, str]) -> None:
        ids = self.by_source.get(key[0])
        if ids is not None:
            ids.discard(key[1])
