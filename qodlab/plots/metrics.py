"""The link-metrics rows under a timeline: each device's downlink and latency, and its profile's promise.

A source is a sandbox (its `metrics(device, start, end)`), any callable of that shape, or a
DataFrame of one device's samples. The rows show the devices of the newest sessions (at most
`MAX_DEVICES`), each thinned to at most `POINTS` samples, and, while a session is AVAILABLE, its
profile's `targetMinDownstreamRate` and `packetDelayBudget` as reference lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..models import Device, QosProfile, QosStatus, SessionInfo
from .frame import Timeline, device_label, iso_times

__all__ = ["MAX_DEVICES", "POINTS", "DeviceSeries", "MetricsSource", "Targets", "metric_rows"]

MAX_DEVICES = 3
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
    devices: dict[str, Device] = {}
    for sid in reversed(timeline.sessions):  # the newest sessions' devices first
        info = sessions.get(sid)
        if info is not None and info.device is not None and len(devices) < MAX_DEVICES:
            devices.setdefault(device_label(info.device), info.device)
    series = [DeviceSeries(label, _thin(_fetch(source, device, start, end))) for label, device in devices.items()]
    return series, _targets(timeline, sessions, profiles, set(devices))


def _targets(
    timeline: Timeline, sessions: Mapping[str, SessionInfo], profiles: Mapping[str, QosProfile], devices: set[str]
) -> Targets:
    """Each AVAILABLE interval of a drawn device's session, at its profile's target rate and delay budget."""
    available = timeline.bars[QosStatus.AVAILABLE.value]
    promised: dict[str, tuple[float, float]] = {}  # session id -> (Mbps, ms), NaN where the profile has none
    for sid in set(np.asarray(timeline.sessions, dtype=object)[available["row"].to_numpy()]) if len(available) else ():
        info = sessions.get(sid)
        profile = profiles.get(info.qos_profile or "") if info is not None else None
        if info is not None and profile is not None and device_label(info.device) in devices:
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


def _fetch(source: MetricsSource, device: Device, start: datetime, end: datetime) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        frame = source
        return frame[(frame["time"] >= start) & (frame["time"] <= end)]
    try:
        if hasattr(source, "metrics"):
            return source.metrics(device, start, end)
        return source(device, start, end)
    except ValueError:  # a range the source will not serve: draw nothing rather than fail
        return pd.DataFrame(columns=["time", "downlink_mbps", "latency_ms"])


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= POINTS:
        return frame
    return frame.iloc[np.linspace(0, len(frame) - 1, POINTS).astype(int)]
