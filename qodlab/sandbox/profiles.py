"""The sandbox's QoS profile catalogue: the four CAMARA labels, one restricted to certain devices, and the 422 paths.

QOS_CRITICAL is restricted to certain devices (CAMARA's retrieveQoSProfiles 04 and 05): only the
`restricted` test device may use it (`devices.TestDevices.restricted`), so it is listed for that device
alone, never in a list without a device. `GET /qos-profiles/QOS_CRITICAL` answers it as it answers any
profile: the name exists.
"""

from __future__ import annotations

from typing import Any

from ..models import QosProfile

__all__ = ["DEFAULT_PROFILES", "default_profiles"]


def _rate(mbps: float) -> dict[str, Any]:
    return {"value": int(mbps * 1000), "unit": "kbps"} if mbps < 1 else {"value": int(mbps), "unit": "Mbps"}


def _profile(name: str, status: str, description: str, mbps: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "description": description,
        "targetMinUpstreamRate": _rate(mbps / 2),
        "maxUpstreamRate": _rate(mbps),
        "targetMinDownstreamRate": _rate(mbps),
        "maxDownstreamRate": _rate(mbps * 2),
        "minDuration": {"value": 1, "unit": "Seconds"},
        "maxDuration": {"value": 24, "unit": "Hours"},
        **extra,
    }


DEFAULT_PROFILES: list[dict[str, Any]] = [
    _profile(
        "QOS_E",
        "ACTIVE",
        "Stable latency for real-time control, about 1 Mbps",
        1,
        priority=10,
        packetDelayBudget={"value": 20, "unit": "Milliseconds"},
        jitter={"value": 5, "unit": "Milliseconds"},
        packetErrorLossRate=3,
    ),
    _profile(
        "QOS_S",
        "ACTIVE",
        "Small throughput, about 4 Mbps (audio, telemetry)",
        4,
        priority=20,
        packetDelayBudget={"value": 50, "unit": "Milliseconds"},
        packetErrorLossRate=3,
    ),
    _profile(
        "QOS_M",
        "ACTIVE",
        "Medium throughput, about 8 Mbps (HD video)",
        8,
        priority=30,
        packetDelayBudget={"value": 100, "unit": "Milliseconds"},
        packetErrorLossRate=4,
    ),
    _profile(
        "QOS_L",
        "ACTIVE",
        "Large throughput, about 20 Mbps (4K video, cloud gaming)",
        20,
        priority=40,
        packetDelayBudget={"value": 100, "unit": "Milliseconds"},
        packetErrorLossRate=4,
        maxDuration={"value": 12, "unit": "Hours"},
    ),
    _profile(
        "QOS_CRITICAL",
        "ACTIVE",
        "Mission-critical, about 50 Mbps at the lowest latency; restricted to certain devices",
        50,
        priority=5,
        packetDelayBudget={"value": 10, "unit": "Milliseconds"},
        jitter={"value": 2, "unit": "Milliseconds"},
        packetErrorLossRate=6,
        maxDuration={"value": 12, "unit": "Hours"},
    ),
    _profile(
        "QOS_XL",
        "INACTIVE",
        "Very large throughput, about 100 Mbps; not deployed at present",
        100,
        priority=50,
    ),
    _profile(
        "QOS_LEGACY",
        "DEPRECATED",
        "Superseded by QOS_M; kept for sessions that still use it",
        6,
        priority=60,
    ),
]


def default_profiles() -> dict[str, QosProfile]:
    """A fresh catalogue, keyed by name."""
    return {p["name"]: QosProfile.model_validate(p) for p in DEFAULT_PROFILES}
