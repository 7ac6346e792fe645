"""What a timeline draws, computed from `EventLog.intervals()` with pandas alone (no plotting library).

One row per session, labelled by what the user chose (device and profile) when the sessions are
known, by the session id's start otherwise; a bar per REQUESTED or AVAILABLE interval (an open
one runs to "now"); and, where a session ended, a marker whose shape says why. The x range spans
the data with a small margin, and follows "now" only while some session is live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..models import Device, QosStatus, SessionInfo, StatusInfo

__all__ = ["COLORS", "ENDINGS", "Timeline", "device_label", "iso_times", "session_label", "timeline_frame"]

COLORS = {
    QosStatus.REQUESTED.value: "#f2a93b",  # amber: asked for, not yet provided
    QosStatus.AVAILABLE.value: "#2ca02c",  # green: the network provides it
    QosStatus.UNAVAILABLE.value: "#d62728",  # red: ended
}
ENDINGS = {  # why a session ended: a marker each, in plotly's and matplotlib's names
    StatusInfo.DURATION_EXPIRED.value: ("circle", "o", "expired"),
    StatusInfo.DELETE_REQUESTED.value: ("x", "X", "deleted"),
    StatusInfo.NETWORK_TERMINATED.value: ("triangle-down", "v", "terminated by the network"),
}
_MARGIN = 0.03  # share of the span added on each side of the x range
_BARS = (QosStatus.REQUESTED.value, QosStatus.AVAILABLE.value)


@dataclass(frozen=True)
class Timeline:
    """Rows, bars, end markers and the x range of one timeline drawing."""

    labels: list[str]  # one per session, top to bottom
    sessions: list[str]  # the session id of each row
    bars: dict[str, pd.DataFrame]  # REQUESTED, AVAILABLE -> columns: row, label, start, seconds, hover
    endings: dict[str, pd.DataFrame]  # statusInfo -> columns: row, label, time, hover
    now: datetime
    x_range: tuple[datetime, datetime] | None  # None: nothing to draw yet
    live: bool  # whether some session has not ended


def iso_times(times: pd.Series) -> np.ndarray[Any, Any]:
    """UTC times as the ISO strings plotly's date axes read (numpy's formatter: ~20x pandas' strftime)."""
    values = pd.to_datetime(times, utc=True).dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    return np.datetime_as_string(values, unit="us").astype(object)


def device_label(device: Device | None) -> str:
    """A short name for a device: `+3672…567`, the first part of an identifier, or an address."""
    if device is None:
        return "(device from token)"
    kind, value = device.identifiers()[0]
    if kind == "phoneNumber":
        return f"{value[:5]}…{value[-3:]}" if len(value) > 9 else value
    if kind == "ipv4Address":
        return value.split("|")[0]
    return value if len(value) <= 16 else f"{value[:15]}…"


def session_label(info: SessionInfo) -> str:
    """What the user chose: device and profile, e.g. `+3672…567 · QOS_L`."""
    return f"{device_label(info.device)} · {info.qos_profile or '?'}"


def timeline_frame(
    intervals: pd.DataFrame,
    now: datetime | None = None,
    sessions: Mapping[str, SessionInfo] | None = None,
    groups: Mapping[str, str] | None = None,
) -> Timeline:
    """Turn status intervals into rows, bars and end markers (`sessions` name the rows).

    With `groups` (a group name by session id, e.g. its student), rows are grouped by it, the
    groups in the order they first appear in `groups`, and each label starts with its group.
    """
    wall = datetime.now(UTC)
    latest = intervals["start"].max() if len(intervals) else pd.NaT
    now = now or (wall if pd.isna(latest) else max(wall, latest.to_pydatetime()))
    now_ts = pd.Timestamp(now)
    ids = intervals["session_id"].astype(object).to_numpy()
    order = [str(sid) for sid in dict.fromkeys(ids)]
    if groups:
        rank = {group: i for i, group in enumerate(dict.fromkeys(groups.values()))}
        order.sort(key=lambda sid: rank.get(groups.get(sid, ""), len(rank)))  # stable: first seen first in a group
    labels = _labels(order, sessions or {}, groups or {})
    frame = intervals
    status = frame["qos_status"].astype(str).to_numpy()
    start = frame["start"]
    end = frame["end"].fillna(now_ts)
    seconds = np.maximum((end - start).dt.total_seconds().to_numpy(dtype=float), 0.0)
    seconds[status == QosStatus.UNAVAILABLE.value] = 0.0  # an end is a moment, drawn as a marker
    row = pd.Categorical(ids, categories=order).codes.astype(np.int64)
    label = np.array(labels, dtype=object)[row] if len(row) else np.array([], dtype=object)
    info = frame["status_info"].astype(object).where(frame["status_info"].notna(), "").astype(str).to_numpy()
    lasted = " for " + np.round(seconds, 1).astype(str).astype(object) + " s"
    hover = (
        ids + "<br>" + status.astype(object)
        + np.where(info != "", " / " + info.astype(object), "")
        + "<br>from " + np.array([t[11:19] for t in iso_times(start)], dtype=object)
        + np.where(status == QosStatus.UNAVAILABLE.value, "", lasted)
    )  # fmt: skip
    table = pd.DataFrame({
        "row": row, "label": label, "start": start.array, "seconds": seconds, "hover": hover,
        "status": status, "info": info,
    })  # fmt: skip
    bars = {s: table[table["status"] == s] for s in _BARS}
    ended = table[table["status"] == QosStatus.UNAVAILABLE.value].rename(columns={"start": "time"})
    endings = {reason: ended[ended["info"] == reason] for reason in ENDINGS}
    last_of_each = np.r_[row[1:] != row[:-1], True] if len(row) else np.array([], dtype=bool)  # rows are grouped
    live = bool((last_of_each & (status != QosStatus.UNAVAILABLE.value)).any())
    return Timeline(labels, order, bars, endings, now, _x_range(table, now_ts, live), live)


def _labels(order: list[str], sessions: Mapping[str, SessionInfo], groups: Mapping[str, str]) -> list[str]:
    """Row labels; a label several sessions share gets `#2`, `#3`... (one row each)."""
    labels, seen = [], {}  # type: list[str], dict[str, int]
    for sid in order:
        info = sessions.get(sid)
        base = session_label(info) if info is not None else sid[:8]
        if sid in groups:
            base = f"{groups[sid]} · {base}"
        seen[base] = seen.get(base, 0) + 1
        labels.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
    return labels


def _x_range(table: pd.DataFrame, now: pd.Timestamp, live: bool) -> tuple[datetime, datetime] | None:
    if table.empty:
        return None
    first = table["start"].min()
    last = (table["start"] + pd.to_timedelta(table["seconds"], unit="s")).max()
    if live:
        last = max(last, now)
    margin = max((last - first) * _MARGIN, timedelta(seconds=1))
    return (first - margin).floor("us").to_pydatetime(), (last + margin).ceil("us").to_pydatetime()
