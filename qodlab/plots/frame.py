"""What a timeline draws, computed from `EventLog.intervals()` with pandas alone (no plotting library).

One row per session, labelled by what the user chose (device and profile) when the sessions are
known, by the whole session id otherwise, and by its kind too (`assignment · +3672…567 · QOS_L`)
when the log holds QoS Provisioning assignments; labels never read the same for two rows. A bar
per REQUESTED or AVAILABLE interval (an open one runs to "now"); and, where a session ended, a
marker whose shape says why. The x range spans the data with a small margin, and follows "now"
only while some session is live.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..models import Device, QosStatus, SessionInfo, StatusInfo
from .colors import COLORS

__all__ = [
    "COLORS",
    "EMPTY",
    "ENDINGS",
    "Timeline",
    "device_label",
    "device_name",
    "iso_times",
    "session_label",
    "timeline_frame",
]

EMPTY = "No sessions yet: create one, and its status appears here as it changes."
ENDINGS = {  # why a session ended: a marker each, in plotly's and matplotlib's names
    StatusInfo.DURATION_EXPIRED.value: ("circle", "o", "expired"),
    StatusInfo.DELETE_REQUESTED.value: ("x", "X", "deleted"),
    StatusInfo.NETWORK_TERMINATED.value: ("triangle-down", "v", "terminated by the network"),
}
_SHORT = 24  # characters of a device name or address shown whole (a phone number reads `+3672…567`)
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
    return _names(device)[0]


def device_name(device: Device | None) -> str:
    """A device's whole preferred identifier: `+36721601234567`, `233.252.0.2 (192.0.2.25)`."""
    return _names(device)[1]


def session_label(info: SessionInfo, whole: bool = False) -> str:
    """What the user chose: device and profile, e.g. `+3672…567 · QOS_L` (`whole`: the device's whole name)."""
    return f"{_names(info.device)[whole]} · {info.qos_profile or '?'}"


def _names(device: Device | None) -> tuple[str, str]:
    """(short, whole) names of a device (`identifiers()` once: a timeline labels 1,000 rows on every redraw)."""
    return ("(device from token)",) * 2 if device is None else _key_names(*device.identifiers()[0])


@functools.lru_cache(maxsize=4096)
def _key_names(kind: str, value: str) -> tuple[str, str]:
    if kind == "phoneNumber":
        return (f"{value[:5]}…{value[-3:]}" if len(value) > 9 else value), value
    if kind == "ipv4Address":
        public, private, port = value.split("|")
        whole = public + (f":{port}" if port != "None" else "") + (f" ({private})" if private != "None" else "")
        return public, whole
    return (value if len(value) <= _SHORT else f"{value[: _SHORT - 1]}…"), value


def timeline_frame(
    intervals: pd.DataFrame,
    now: datetime | None = None,
    sessions: Mapping[str, SessionInfo] | None = None,
    groups: Mapping[str, str] | None = None,
) -> Timeline:
    """Turn status intervals into rows, bars and end markers (`sessions` name the rows).

    Rows are in the order the sessions were created (`creation_order`), whatever order their
    notifications arrived in. With `groups` (a group name by session id, e.g. its student), rows are grouped by it, the
    groups in the order they first appear in `groups`, and each label starts with its group.
    """
    wall = datetime.now(UTC)
    latest = intervals["start"].max() if len(intervals) else pd.NaT
    now = now or (wall if pd.isna(latest) else max(wall, latest.to_pydatetime()))
    now_ts = pd.Timestamp(now)
    ids = intervals["session_id"].astype(object).to_numpy()
    order = _row_order(intervals, ids, groups)
    assignments = _assignments(intervals, ids)
    labels = _labels(order, sessions or {}, groups or {}, assignments)
    frame = intervals
    status = frame["qos_status"].astype(str).to_numpy()
    start = frame["start"]
    end = frame["end"].fillna(now_ts)
    seconds = np.maximum((end - start).dt.total_seconds().to_numpy(dtype=float), 0.0)
    seconds[status == QosStatus.UNAVAILABLE.value] = 0.0  # an end is a moment, drawn as a marker
    row = pd.Categorical(ids, categories=order).codes.astype(np.int64)
    label = np.array(labels, dtype=object)[row] if len(row) else np.array([], dtype=object)
    info = frame["status_info"].astype(object).where(frame["status_info"].notna(), "").astype(str).to_numpy()
    hover = _hover(ids, status, info, start, seconds)
    table = pd.DataFrame(
        {
            "row": row,
            "label": label,
            "start": start.array,
            "seconds": seconds,
            "hover": hover,
            "status": status,
            "info": info,
        }
    )
    bars = {s: table[table["status"] == s] for s in _BARS}
    ended = table[table["status"] == QosStatus.UNAVAILABLE.value].rename(columns={"start": "time"})
    endings = {reason: ended[ended["info"] == reason] for reason in ENDINGS}
    last_of_each = np.r_[row[1:] != row[:-1], True] if len(row) else np.array([], dtype=bool)  # rows are grouped
    live = bool((last_of_each & (status != QosStatus.UNAVAILABLE.value)).any())
    return Timeline(labels, order, bars, endings, now, _x_range(table, now_ts, live), live)


def _row_order(intervals: pd.DataFrame, ids: np.ndarray[Any, Any], groups: Mapping[str, str] | None) -> list[str]:
    """The sessions in creation order, grouped by `groups` (the groups in the order they first appear there)."""
    order = creation_order(intervals, ids)
    if groups:
        rank = {group: i for i, group in enumerate(dict.fromkeys(groups.values()))}
        order.sort(key=lambda sid: rank.get(groups.get(sid, ""), len(rank)))  # stable: first seen first in a group
    return order


def _hover(
    ids: np.ndarray[Any, Any],
    status: np.ndarray[Any, Any],
    info: np.ndarray[Any, Any],
    start: pd.Series,
    seconds: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """Each interval's hover text: the session, its status (and reason), when it began and, unless an end, how long."""
    lasted = " for " + np.round(seconds, 1).astype(str).astype(object) + " s"
    hover: np.ndarray[Any, Any] = (
        ids
        + "<br>"
        + status.astype(object)
        + np.where(info != "", " / " + info.astype(object), "")
        + "<br>from "
        + np.array([t[11:19] for t in iso_times(start)], dtype=object)
        + np.where(status == QosStatus.UNAVAILABLE.value, "", lasted)
    )
    return hover


def creation_order(intervals: pd.DataFrame, ids: np.ndarray[Any, Any]) -> list[str]:
    """The sessions by the first time the log knows for each, on the provider's clock; ties in order of arrival.

    That time is a session's creation when qodlab's client recorded it (REQUESTED), else its first
    notified or polled status, which a provider's clock also gives in creation order (each is
    provisioned some fixed time after its creation). Arrival order is not: two sessions' first
    notifications, sent at once, reach a listener in either order on a busy machine.
    """
    arrival = [str(sid) for sid in dict.fromkeys(ids)]
    if len(arrival) < 2:
        return arrival
    first = intervals.groupby(pd.Index(ids.astype(str), name="sid"), sort=False)["start"].min()
    return sorted(arrival, key=first.__getitem__)  # stable: a tie keeps arrival order


def _assignments(intervals: pd.DataFrame, ids: np.ndarray[Any, Any]) -> set[str]:
    """The ids the log knows as QoS Provisioning assignments (by the shape of their notifications)."""
    kind = intervals.get("kind")
    if kind is None or not isinstance(kind.dtype, pd.CategoricalDtype) or "assignment" not in kind.cat.categories:
        return set()
    assigned = kind.cat.codes.to_numpy() == kind.cat.categories.get_loc("assignment")  # codes: 15x faster
    return {str(sid) for sid in set(ids[assigned])} if assigned.any() else set()


def _labels(
    order: list[str], sessions: Mapping[str, SessionInfo], groups: Mapping[str, str], assignments: Collection[str]
) -> list[str]:
    """Row labels, never the same for two rows.

    A device reads short (`+3672…567`) unless two devices on the timeline would read the same
    that way: then both read whole. Where the log holds assignments, every label says its kind
    (unless a group says something else). Sessions of one device and profile read `#2`, `#3`...
    """
    infos = [sessions.get(sid) for sid in order]
    names = [_names(info.device) if info is not None else None for info in infos]
    readings: dict[str, set[str]] = {}  # a short device label -> the whole names it stands for
    for pair in names:
        if pair is not None:
            readings.setdefault(pair[0], set()).add(pair[1])
    labels, used, seen = [], set(), {}  # type: list[str], set[str], dict[str, int]
    for sid, info, pair in zip(order, infos, names, strict=True):
        if info is None or pair is None:
            base = sid
        else:
            base = f"{pair[len(readings[pair[0]]) > 1]} · {info.qos_profile or '?'}"
        prefix = groups.get(sid) or (("assignment" if sid in assignments else "session") if assignments else "")
        label = base = f"{prefix} · {base}" if prefix else base
        count = seen.get(base, 1)
        while label in used:  # (an id could read like a numbered label: numbered on until unique)
            count += 1
            label = f"{base} #{count}"
        seen[base] = count
        used.add(label)
        labels.append(label)
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
