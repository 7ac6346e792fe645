"""The event log's in-memory columns, and the pandas DataFrame built from them.

Rows are held as compact columns (arrays of codes and nanosecond times, interned strings), so a
million events stay well under 500 MB and `.df` is built from them without touching Python
objects one by one.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np
import pandas as pd

from ..notifications import ASSIGNMENT_SHAPES
from .codes import (
    COLUMNS,
    INFO_CODE,
    INFOS,
    INTERVAL_COLUMNS,
    KIND_DTYPE_NAMES,
    NAT,
    SHAPE_CODE,
    SHAPE_NAMES,
    STATUS_CODE,
    STATUSES,
    Codes,
    dt,
)

__all__ = [
    "COLUMNS",
    "INFO_CODE",
    "INFO_DTYPE",
    "INTERVAL_COLUMNS",
    "NAT",
    "SHAPE_CODE",
    "SHAPE_DTYPE",
    "STATUS_CODE",
    "STATUS_DTYPE",
    "Codes",
    "dt",
    "frame",
]

STATUS_DTYPE = pd.CategoricalDtype(STATUSES)
INFO_DTYPE = pd.CategoricalDtype(INFOS)
SHAPE_DTYPE = pd.CategoricalDtype(SHAPE_NAMES)


def times(ns: array[int]) -> pd.DatetimeIndex:
    values = np.frombuffer(ns, dtype=np.int64).view("datetime64[ns]") if len(ns) else np.array([], "datetime64[ns]")
    return pd.DatetimeIndex(values).tz_localize("UTC")


KIND_DTYPE = pd.CategoricalDtype(list(KIND_DTYPE_NAMES))
ASSIGNMENT_CODES = [SHAPE_CODE[name] for name in ASSIGNMENT_SHAPES]
STRING = pd.StringDtype("python")  # references the log's own str objects: no copy


def categories(frozen: tuple[np.ndarray[Any, Any], list[str]]) -> Any:
    codes, names = frozen
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(names, dtype=object)))


def int8s(codes: array[int]) -> np.ndarray[Any, np.dtype[np.int8]]:
    return np.frombuffer(codes, dtype=np.int8) if len(codes) else np.array([], np.int8)


def categorical(codes: np.ndarray[Any, np.dtype[np.int8]], dtype: pd.CategoricalDtype) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=dtype)


def frame(
    ids: list[str],
    sessions: tuple[np.ndarray[Any, Any], list[str]],
    status: array[int],
    info: array[int],
    event_ns: array[int],
    received_ns: array[int],
    types: tuple[np.ndarray[Any, Any], list[str]],
    sources: tuple[np.ndarray[Any, Any], list[str]],
    shape: array[int],
    raw: list[tuple[int, str]],
) -> pd.DataFrame:
    raw_column = np.full(len(ids), None, dtype=object)
    for index, text in raw:
        raw_column[index] = text
    return pd.DataFrame(
        {
            "event_id": pd.array(np.array(ids, dtype=object), dtype=STRING),
            "session_id": categories(sessions),
            "qos_status": categorical(int8s(status), STATUS_DTYPE),
            "status_info": categorical(int8s(info), INFO_DTYPE),
            "event_time": times(event_ns),
            "received_at": times(received_ns),
            "type": categories(types),
            "source": categories(sources),
            "shape": categorical(int8s(shape), SHAPE_DTYPE),
            "raw": pd.Series(raw_column, dtype=object),
            "kind": categorical(np.isin(int8s(shape), ASSIGNMENT_CODES).astype(np.int8), KIND_DTYPE),
        }
    )
