"""Status intervals: one row per stretch of a session in one status, the timeline's data."""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np
import pandas as pd

from ..notifications import POLL_SHAPES
from .frames import (
    ASSIGNMENT_CODES,
    INFO_DTYPE,
    KIND_DTYPE,
    NAT,
    SHAPE_CODE,
    STATUS_DTYPE,
    categorical,
    categories,
    int8s,
)

__all__ = ["intervals"]

_NEVER = np.iinfo(np.int64).max


def intervals(
    sessions: tuple[np.ndarray[Any, Any], list[str]],
    status: array[int],
    info: array[int],
    event_ns: array[int],
    received_ns: array[int],
    shape: array[int],
) -> pd.DataFrame:
    """One row per session and status stretch; a session's last interval ends at NaT.

    `kind` says whether the row's id is a QoS session or a QoS Provisioning assignment (the shape
    its notifications came in), as in the events' frame.

    A status seen twice in a row (a re-sent event, or a change both notified and polled) is one
    interval, starting at the earliest notified time, or the earliest polled one if only polled.
    """
    codes, names = sessions
    st, si = int8s(status), int8s(info)
    shapes = int8s(shape)
    polled = np.isin(shapes, [SHAPE_CODE[name] for name in POLL_SHAPES])
    kind = np.isin(shapes, ASSIGNMENT_CODES).astype(np.int8)  # 0: a session, 1: an assignment
    received = np.frombuffer(received_ns, dtype=np.int64) if len(received_ns) else np.array([], np.int64)
    when = np.frombuffer(event_ns, dtype=np.int64) if len(event_ns) else np.array([], np.int64)
    when = np.where(when == NAT, received, when)  # no event time: use arrival
    order = np.lexsort((received, when, codes))
    codes, st, si, when, polled, kind = codes[order], st[order], si[order], when[order], polled[order], kind[order]
    same_as_previous = np.r_[False, (codes[1:] == codes[:-1]) & (st[1:] == st[:-1]) & (si[1:] == si[:-1])]
    starts = np.flatnonzero(~same_as_previous[: len(codes)])
    if polled.any():  # the notification's time wins over the poll's
        notified = np.where(polled, _NEVER, when)
        first_notified = np.minimum.reduceat(notified, starts) if len(starts) else notified[:0]
        when = np.where(first_notified != _NEVER, first_notified, when[starts])
    else:
        when = when[starts]
    codes, st, si, kind = codes[starts], st[starts], si[starts], kind[starts]
    next_same = np.r_[codes[1:] == codes[:-1], False]
    end = np.where(next_same, np.r_[when[1:], NAT], NAT)[: len(codes)]
    return pd.DataFrame(
        {
            "session_id": categories((codes, names)),
            "qos_status": categorical(st, STATUS_DTYPE),
            "status_info": categorical(si, INFO_DTYPE),
            "start": pd.DatetimeIndex(when.view("datetime64[ns]")).tz_localize("UTC"),
            "end": pd.DatetimeIndex(end.view("datetime64[ns]")).tz_localize("UTC"),
            "kind": categorical(kind, KIND_DTYPE),
        }
    )
