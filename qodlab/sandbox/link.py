"""The simulated link of every device: what a QoS session changes, second by second.

Pure state and rules on the sandbox clock, like the engine: no I/O, no thread. A device's link
(downlink and uplink rate, latency, jitter, loss) follows its cell's load: a slow swing plus
noise, 0.4 to 0.8 of capacity, times the strongest congestion episode at the time (scheduled
ones, 1.4 to 1.8, in about one hour in three; those `congest` injects). While a
session is AVAILABLE, its QoS profile lifts the rates to at least `targetMin*Rate` and holds
latency within `packetDelayBudget`, jitter within `jitter` and loss within `packetErrorLossRate`,
unless the cell is loaded beyond what the profile's `priority` wins: then the promise visibly breaks.

A session never makes a device's link worse than best effort, as in a real network: 3GPP TS 23.501
5.7.2.5 guarantees a QoS flow its GFBR (`targetMin*Rate`) and lets it reach its MFBR (`max*Rate`)
with spare capacity, "bit rates above the GFBR value and up to the MFBR value ... provided with
relative priority"; the flow carries the session's traffic (device to application server), while
the device's other traffic stays on its default flow, best effort. CAMARA calls `max*Rate` "the
maximum best effort rate" and lets `max*BurstRate` exceed it when there is capacity; Network as
Code says a profile's connection "is given priority". So the maximum caps what the priority lifts,
never the best effort the device already had: QOS_E (1 to 2 Mbps) on an idle 30 Mbps cell leaves
30 Mbps, and latency, jitter and loss are never raised by a session.

Samples are computed when asked for, from the seed, the device and the time alone (noise comes
in seeded blocks), so the same seed gives the same series, and memory holds only the sessions'
boosts and the injected episodes of the last `window` seconds, not the samples.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidRequest
from ..models import QosProfile, QosStatus

if TYPE_CHECKING:
    from .engine import StatusChange

__all__ = ["METRICS", "SAMPLE_COLUMNS", "Episode", "Links"]

METRICS = ("downlink_mbps", "uplink_mbps", "latency_ms", "jitter_ms", "loss_pct")
SAMPLE_COLUMNS = ("time", *METRICS, "session_id", "qos_profile", "congested")
_BLOCK = 1024  # samples of noise drawn together from one seeded generator
_SCHEDULE = 3600.0  # a scheduled congestion episode may start once in every hour of sandbox time

DeviceKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Episode:
    """A congestion episode: the cell's load times `factor`, for one device or (None) all."""

    start: float
    end: float
    factor: float
    device: DeviceKey | None = None


@dataclass(slots=True)
class _Boost:
    """An AVAILABLE session's profile, applied to its device's link."""

    session_id: str
    profile: QosProfile
    start: float
    end: float = math.inf


@dataclass(frozen=True, slots=True)
class _Cell:
    """A device's fixed link parameters, drawn from the seed."""

    down: float  # best-effort capacity, Mbps
    up: float
    latency: float  # ms, unloaded
    period: float  # s, of the load's swing
    phase: float


class Links:
    """Every device's link; `record` is an engine subscriber, `samples` reads a time range."""

    def __init__(
        self, profiles: dict[str, QosProfile], *, seed: int = 0, step: float = 1.0, window: float = 86400.0
    ) -> None:
        self.profiles = profiles
        self.seed = seed
        self.step = step
        self.window = window
        self._boosts: dict[DeviceKey, list[_Boost]] = {}
        self._episodes: list[Episode] = []
        self._seen: dict[str, tuple[DeviceKey, str, QosStatus, float]] = {}  # id -> device, profile, last change
        self._swept = -math.inf  # the horizon of the last sweep
        self.sweeps = 0
        self._lock = threading.Lock()

    # -- what changes a link -------------------------------------------------------------------

    def record(self, change: StatusChange) -> None:
        """A session became AVAILABLE (its profile applies) or ended (it no longer does)."""
        if change.device is None:
            return
        with self._lock:
            boosts = self._boosts.setdefault(change.device, [])
            sid = str(change.session_id)
            self._seen[sid] = (change.device, change.profile, change.qos_status, change.time)
            if change.qos_status is QosStatus.AVAILABLE and change.profile in self.profiles:
                boosts.append(_Boost(sid, self.profiles[change.profile], change.time))
            elif change.qos_status is QosStatus.UNAVAILABLE:
                for boost in boosts:
                    if boost.session_id == sid and boost.end == math.inf:
                        boost.end = change.time
            self._forget_before(change.time - self.window)

    def congest(self, start: float, seconds: float, factor: float, device: DeviceKey | None = None) -> Episode:
        """Load the cell `factor` times more from `start` for `seconds` (one device, or all).

        It starts with the sample `start` falls in (rounded down to `step`): a read right after
        shows it, as its last sample is the one now falls in.
        """
        if not (factor > 0 and seconds > 0):
            msg = f"congestion needs factor > 0 and seconds > 0, got {factor!r} and {seconds!r}"
            raise InvalidRequest(msg, "factor" if not factor > 0 else "seconds")
        first = math.floor(start / self.step) * self.step
        episode = Episode(first, start + seconds, factor, device)
        with self._lock:
            self._episodes.append(episode)
            self._forget_before(start - self.window)
        return episode

    def _forget_before(self, horizon: float) -> None:
        """Drop what ended before `horizon`: a sweep over every device at most once per tenth of a window.

        (A sweep on every change made each session's AVAILABLE cost O(devices): at 5,000 live
        sessions creates ran at a fifth of their rate.)
        """
        if horizon < self._swept + self.window / 10:
            return
        self._swept = horizon
        self.sweeps += 1
        self._episodes = [e for e in self._episodes if e.end >= horizon]
        self._seen = {sid: seen for sid, seen in self._seen.items() if seen[3] >= horizon}
        for key, boosts in list(self._boosts.items()):
            kept = [b for b in boosts if b.end >= horizon]
            if kept:
                self._boosts[key] = kept
            else:
                del self._boosts[key]

    # -- reading -------------------------------------------------------------------------------

    def sessions(self) -> dict[str, tuple[DeviceKey, str, QosStatus]]:
        """Each session (and assignment) whose status changed within the window: device, profile, status.

        What a timeline needs to draw a sandbox's links from an event log alone (which names no devices).
        """
        with self._lock:
            return {sid: (device, profile, status) for sid, (device, profile, status, _) in self._seen.items()}

    def samples(self, device: DeviceKey, start: float, end: float) -> dict[str, np.ndarray[Any, Any]]:
        """The link's samples from `start` to `end` (sandbox epoch seconds), one per `step`, as columns."""
        first, last = math.ceil(start / self.step), math.floor(end / self.step)
        count = max(0, last - first + 1)
        if count > self.window / self.step:
            msg = f"at most {self.window:g} s of samples at a time, asked for {end - start:g} s (read it in parts)"
            raise InvalidRequest(msg, "start")
        t = (first + np.arange(count)) * self.step
        cell = self._cell(device)
        noise = self._noise(device, first, count)
        with self._lock:
            episodes = [e for e in self._episodes if e.device in (None, device) and e.end > t[0]] if count else []
            boosts = list(self._boosts.get(device, ()))
        factor = _factor(t, episodes + (self._scheduled(device, t) if count else []))
        congested = factor > 1.0
        # The usual load stays within 0.4 to 0.8: twice it (a 2x congestion) is 0.8 to 1.6.
        swing = 0.1 * np.sin(2 * np.pi * t / cell.period + cell.phase)
        load = (0.6 + swing + 0.04 * noise[:, 0].clip(-2.5, 2.5)) * factor
        over = np.maximum(0.0, load - 0.4)
        columns: dict[str, np.ndarray[Any, Any]] = {
            "time": t,
            "downlink_mbps": cell.down / (1 + 4 * over) * (1 + 0.03 * noise[:, 1].clip(-2.5, 2.5)),
            "uplink_mbps": cell.up / (1 + 4 * over) * (1 + 0.03 * noise[:, 2].clip(-2.5, 2.5)),
            "latency_ms": cell.latency * (1 + 4 * np.maximum(0.0, load - 0.5)) + 3 * np.abs(noise[:, 3]),
            "jitter_ms": 2 + 15 * np.maximum(0.0, load - 0.5) + np.abs(noise[:, 4]),
            "loss_pct": 0.05 + 3 * np.maximum(0.0, load - 0.8) + 0.01 * np.abs(noise[:, 1]),
            "session_id": np.full(count, None, dtype=object),
            "qos_profile": np.full(count, None, dtype=object),
            "congested": congested,
        }
        for boost in boosts:
            during = (t >= boost.start) & (t < boost.end)
            if during.any():
                _apply(columns, during, boost, load, noise)
        return columns

    def _cell(self, device: DeviceKey) -> _Cell:
        rng = np.random.default_rng([self.seed, _digest(device)])
        down, up, latency, period, phase = rng.uniform((25, 8, 25, 600, 0), (50, 20, 45, 1800, 2 * np.pi))
        return _Cell(float(down), float(up), float(latency), float(period), float(phase))

    def _noise(self, device: DeviceKey, first: int, count: int) -> np.ndarray[Any, Any]:
        """Standard normal noise, five columns, for samples first..first+count-1: a function of the index."""
        if count == 0:
            return np.zeros((0, 5))
        blocks = range(first // _BLOCK, (first + count - 1) // _BLOCK + 1)
        drawn = np.concatenate(
            [np.random.default_rng([self.seed, _digest(device), 1, b]).standard_normal((_BLOCK, 5)) for b in blocks]
        )
        offset = first - blocks[0] * _BLOCK
        return drawn[offset : offset + count]

    def _scheduled(self, device: DeviceKey, t: np.ndarray[Any, Any]) -> list[Episode]:
        """The cell's own congestion: in about one hour in three, 5 to 10 minutes at 1.4 to 1.8 times the load."""
        episodes = []
        for hour in range(int(t[0] // _SCHEDULE) - 1, int(t[-1] // _SCHEDULE) + 1):
            rng = np.random.default_rng([self.seed, _digest(device), 2, hour])
            happens, offset, length, factor = rng.uniform((0, 0, 300, 1.4), (1, _SCHEDULE, 600, 1.8))
            if happens < 1 / 3:
                start = hour * _SCHEDULE + offset
                episodes.append(Episode(start, start + length, float(factor), device))
        return episodes


def _factor(t: np.ndarray[Any, Any], episodes: list[Episode]) -> np.ndarray[Any, Any]:
    """The load factor at each sample: the strongest episode then (episodes do not stack)."""
    factor = np.ones(len(t))
    for episode in episodes:
        during = (t >= episode.start) & (t < episode.end)
        factor[during] = np.maximum(factor[during], episode.factor)
    return factor


def _apply(
    columns: dict[str, np.ndarray[Any, Any]],
    during: np.ndarray[Any, Any],
    boost: _Boost,
    load: np.ndarray[Any, Any],
    noise: np.ndarray[Any, Any],
) -> None:
    """A profile on the samples `during` its session: kept while the load is within what its priority wins."""
    profile = boost.profile
    columns["session_id"][during] = boost.session_id
    columns["qos_profile"][during] = profile.name
    # The load a profile's promise holds to: priority 100 only 1.0, QOS_L's 40 up to 2.2 (a 2x
    # congestion, at most 1.6, never breaks it; 6x, at least 2.4, always does), priority 1 almost 3.
    holds_to = 1.0 + (100 - (profile.priority or 100)) / 50
    kept = during & (load < holds_to)
    broken = during & ~kept
    wobble = 1 + 0.05 * np.abs(noise[:, 1])
    for column, target, ceiling in (
        ("downlink_mbps", profile.target_min_downstream_rate, profile.max_downstream_rate),
        ("uplink_mbps", profile.target_min_upstream_rate, profile.max_upstream_rate),
    ):
        values = columns[column]
        best = values[during].copy()  # best effort: what the device has without the session
        if target is not None:
            floor = target.bps / 1e6
            values[kept] = np.maximum(values[kept], floor * wobble[kept])
            values[broken] = floor * (holds_to / load[broken]) ** 2  # below the promise, and visibly so
        if ceiling is not None:  # the lift stops at the cap, where a link still wobbles a little below it
            values[during] = np.minimum(values[during], ceiling.bps / 1e6 * (1 - 0.03 * np.abs(noise[during, 2])))
        values[during] = np.maximum(values[during], best)  # ... but never below best effort (module docstring)
    for column, bound, typical in (
        ("latency_ms", profile.packet_delay_budget, 0.6),
        ("jitter_ms", profile.jitter, 0.5),
    ):
        if bound is not None:
            limit = bound.seconds * 1000
            values = columns[column]
            best = values[during].copy()
            values[kept] = np.minimum(values[kept], limit * (typical + 0.3 * np.abs(noise[kept, 3]).clip(0, 1)))
            values[broken] = limit * load[broken] / holds_to * 1.2
            values[during] = np.minimum(values[during], best)
    if profile.packet_error_loss_rate is not None:
        limit = 100 * 10.0**-profile.packet_error_loss_rate
        columns["loss_pct"][kept] = np.minimum(columns["loss_pct"][kept], 0.5 * limit)


def _digest(device: DeviceKey) -> int:
    """A stable number for a device (Python's hash() changes from run to run)."""
    return int.from_bytes(hashlib.sha256("\0".join(device).encode()).digest()[:8], "big")
