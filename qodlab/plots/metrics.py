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
from .frame import Timeline, device_label

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
    """The promises to draw while sessions are up, as x/y lists with None between segments."""

    x: list[Any]
    downlink: list[float | None]
    latency: list[float | None]


def metric_rows(
    source: MetricsSource,
    timeline: Timeline,
    sessions: Mapping[str, SessionInfo],
    profiles: Mapping[str, QosProfile],
) -> tuple[list[DeviceSeries], Targets]:
    """The devices' series and the profiles' targets for the timeline's x range."""
    targets = Targets([], [], [])
    if timeline.x_range is None:
        return [], targets
    start, end = timeline.x_range
    devices: dict[str, Device] = {}
    for sid in reversed(timeline.sessions):  # the newest sessions' devices first
        info = sessions.get(sid)
        if info is not None and info.device is not None and len(devices) < MAX_DEVICES:
            devices.setdefault(device_label(info.device), info.device)
    series = [DeviceSeries(label, _thin(_fetch(source, device, start, end))) for label, device in devices.items()]
    available = timeline.bars[QosStatus.AVAILABLE.value]
    for sid, begin, seconds in zip(
        available["row"].map(lambda r: timeline.sessions[r]), available["start"], available["seconds"], strict=True
    ):
        info = sessions.get(sid)
        profile = profiles.get(info.qos_profile or "") if info is not None else None
        if profile is None or info is None or device_label(info.device) not in devices:
            continue
        rate, budget = profile.target_min_downstream_rate, profile.packet_delay_budget
        stop = begin + pd.Timedelta(seconds=float(seconds))
        targets.x.extend([begin, stop, None])
        down = rate.bps / 1e6 if rate is not None else None
        targets.downlink.extend([down, down, None])
        late = budget.seconds * 1000 if budget is not None else None
        targets.latency.extend([late, late, None])
    return series, targets


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
