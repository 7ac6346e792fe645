"""The link-metrics rows under a timeline: each device's downlink and latency, and its profile's promise.

A source is a sandbox (its `metrics(device, start, end)`), any callable of that shape, or a
DataFrame of one device's samples. The rows show the devices of the newest sessions (at most
`MAX_DEVICES`), each thinned to at most `POINTS` samples, and, while a session is AVAILABLE, its
profile's `targetMinDownstreamRate` and `packetDelayBudget` as reference lines.

An event log names no devices: they come from the sessions given (`sessions=`) and, for a sandbox,
from what it knows of the sessions it served (`known_sessions`). Where no session on the timeline
has a known device, `missing` says what to pass instead of drawing empty rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import ServerStopped
from ..models import Device, QosProfile, QosStatus, SessionInfo
from .frame import Timeline, device_label, device_name, iso_times

__all__ = [
    "MAX_DEVICES",
    "POINTS",
    "DeviceSeries",
    "MetricsSource",
    "Targets",
    "known_sessions",
    "metric_rows",
    "missing",
]

MAX_DEVICES = 6  # the newest sessions' devices drawn (one colour each: `colors.LINE_COLORS`)
POINTS = 600


class _Sandboxish(Protocol):
    def metrics(self, device: Device, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame: ...


MetricsSource = _Sandboxish | Callable[[Device, datetime, datetime], pd.DataFrame] | pd.DataFrame


@dataclass(frozen=True)
class DeviceSeries:
    """One device's samples to draw: time, downlink_mbps, latency_ms."""

    label: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class Targets:
    """The promises to draw while sessions are up: segments as x (ISO times) and y, NaN between them."""

    x: np.ndarray[Any, Any]
    downlink: np.ndarray[Any, Any]
    latency: np.ndarray[Any, Any]


_NO_TARGETS = Targets(np.array([], dtype=object), np.array([]), np.array([]))


def known_sessions(
    source: MetricsSource | None, sessions: Mapping[str, SessionInfo] | None, ids: Iterable[str] = ()
) -> Mapping[str, SessionInfo]:
    """The sessions given, and for the other `ids` (a log's) what a sandbox source knows of them.

    Only the ids not given are asked for: a dashboard's workbench knows its own sessions, and
    building 1,000 from the sandbox on every redraw took 20 ms.
    """
    known = getattr(source, "known_sessions", None)
    given = sessions or {}
    wanted = [sid for sid in ids if sid not in given] if callable(known) else []
    if not wanted:
        return given
    return {**known(ids=wanted), **given}  # type: ignore[misc]  # (callable: checked above)


def missing(source: MetricsSource, timeline: Timeline, sessions: Mapping[str, SessionInfo]) -> str | None:
    """What the link rows lack, when no session on the timeline has a known device (None: nothing)."""
    if timeline.x_range is None or isinstance(source, pd.DataFrame):
        return None
    infos = [sessions[sid] for sid in timeline.sessions if sid in sessions]
    if any(info.device is not None for info in infos):
        return None
    unknown = len(timeline.sessions) - len(infos)
    why = f"none of the {len(timeline.sessions)} sessions on the timeline has a known device" + (
        f" ({unknown} not in sessions=)" if unknown else " (their devices came from access tokens)"
    )
    return (
        f"metrics= draws each session's device's link, but {why}: pass sessions= with them "
        "(a Workbench's infos(), or {session.session_id: session} for the sessions you created), "
        "or metrics= the sandbox that served them"
    )


def metric_rows(
    source: MetricsSource,
    timeline: Timeline,
    sessions: Mapping[str, SessionInfo],
    profiles: Mapping[str, QosProfile],
) -> tuple[list[DeviceSeries], Targets]:
    """The devices' series and the profiles' targets for the timeline's x range."""
    if timeline.x_range is None:
        return [], _NO_TARGETS
    start, end = timeline.x_range
    devices: dict[str, Device] = {}  # whole name -> device, the newest sessions' first
    for sid in reversed(timeline.sessions):
        info = sessions.get(sid)
        if info is not None and info.device is not None and len(devices) < MAX_DEVICES:
            devices.setdefault(device_name(info.device), info.device)
    shorts = [device_label(device) for device in devices.values()]
    labels = [short if shorts.count(short) == 1 else name for short, name in zip(shorts, devices, strict=True)]
    targets = _targets(timeline, sessions, profiles, set(devices))
    if isinstance(source, pd.DataFrame):  # one device's samples: one series, whichever device it is
        return [DeviceSeries(labels[0] if labels else "link", _thin(_fetch(source, None, start, end)))], targets
    fetched = (_thin(_fetch(source, device, start, end)) for device in devices.values())
    return [DeviceSeries(label, frame) for label, frame in zip(labels, fetched, strict=True)], targets


def _targets(
    timeline: Timeline, sessions: Mapping[str, SessionInfo], profiles: Mapping[str, QosProfile], devices: set[str]
) -> Targets:
    """Each AVAILABLE interval of a drawn device's session, at its profile's target minimum
    rate (`targetMinDownstreamRate`) and delay budget."""
    available = timeline.bars[QosStatus.AVAILABLE.value]
    promised: dict[str, tuple[float, float]] = {}  # session id -> (Mbps, ms), NaN where the profile has none
    for sid in set(np.asarray(timeline.sessions, dtype=object)[available["row"].to_numpy()]) if len(available) else ():
        info = sessions.get(sid)
        profile = profiles.get(info.qos_profile or "") if info is not None else None
        if info is not None and profile is not None and device_name(info.device) in devices:
            rate, budget = profile.target_min_downstream_rate, profile.packet_delay_budget
            promised[sid] = (rate.bps / 1e6 if rate else np.nan, budget.seconds * 1000 if budget else np.nan)
    if not promised:
        return _NO_TARGETS
    ids = np.asarray(timeline.sessions, dtype=object)[available["row"].to_numpy()]
    keep = np.fromiter((sid in promised for sid in ids), dtype=bool, count=len(ids))
    part = available[keep]
    values = np.array([promised[sid] for sid in ids[keep]], dtype=float).reshape(-1, 2)
    begin = part["start"]
    stop = begin + pd.to_timedelta(part["seconds"].to_numpy(), unit="s")
    x = np.full((len(part), 3), None, dtype=object)  # start, stop, a gap
    x[:, 0], x[:, 1] = iso_times(begin), iso_times(stop)
    y = np.full((len(part), 3, 2), np.nan)
    y[:, 0], y[:, 1] = values, values
    return Targets(x.ravel(), y[:, :, 0].ravel(), y[:, :, 1].ravel())


def _fetch(source: MetricsSource, device: Device | None, start: datetime, end: datetime) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        frame = source
        return frame[(frame["time"] >= start) & (frame["time"] <= end)]
    if device is None:  # (only a DataFrame source is read without one)
        msg = "a device is needed to read a metrics source"
        raise TypeError(msg)
    try:
        if hasattr(source, "metrics"):
            return source.metrics(device, start, end)
        return source(device, start, end)
    except (ValueError, ServerStopped):  # a range it will not serve, or a stopped sandbox: draw nothing, not fail
        return pd.DataFrame(columns=["time", "downlink_mbps", "latency_ms"])


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= POINTS:
        return frame
    return frame.iloc[np.linspace(0, len(frame) - 1, POINTS).astype(int)]
