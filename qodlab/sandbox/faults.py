"""Fault injection: what the sandbox does wrong on purpose, set from Python or over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from ..errors import InvalidRequest
from ..models import Device

__all__ = ["ApiFault", "Faults", "NoticeFault", "NoticeFaultKind"]


class NoticeFaultKind(StrEnum):
    """What to do to the next notifications."""

    DROP = "drop"  # never send it (recorded as dropped)
    DELAY = "delay"  # send it late
    DUPLICATE = "duplicate"  # send it twice, with the same event id


@dataclass(frozen=True)
class NoticeFault:
    """A fault applied to one notification."""

    kind: NoticeFaultKind
    delay: float = 0.0  # real seconds, for DELAY


@dataclass(frozen=True)
class ApiFault:
    """A canned error answer for one API call."""

    status: int
    retry_after: float | None


T = TypeVar("T")


@dataclass
class _Pending(Generic[T]):
    fault: T
    remaining: int
    owner: str | None = None  # only this client's sessions (a classroom's student); None: anyone's


def _take(
    queue: list[_Pending[T]], owner: str | None = None, fits: Callable[[T], bool] = lambda _: True
) -> _Pending[T] | None:
    """The first pending fault that `fits` and is for `owner`'s sessions (or anyone's), one of its count used."""
    for i, pending in enumerate(queue):
        if pending.owner in (None, owner) and fits(pending.fault):
            pending.remaining -= 1
            if pending.remaining == 0:
                queue.pop(i)
            return pending
    return None


class Faults:
    """Pending faults; each `take_*` consumes one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notices: list[_Pending[NoticeFault]] = []
        self._api: list[_Pending[ApiFault]] = []
        self._fail_devices: set[tuple[str, str]] = set()
        self._fail_profiles: set[str] = set()
        self._fail_next: list[_Pending[str | None]] = []  # the profile (None: any) of the next sessions to fail
        self._refuse_next: list[_Pending[str | None]] = []  # ... and of those the network refuses at creation

    def add_notice_fault(
        self, kind: NoticeFaultKind | str, count: int = 1, delay: float = 0.0, owner: str | None = None
    ) -> None:
        """Apply `kind` to the next `count` notifications (of `owner`'s sessions only, when given)."""
        _positive(count)
        with self._lock:
            self._notices.append(_Pending(NoticeFault(NoticeFaultKind(kind), float(delay)), count, owner))

    def add_api_fault(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `count` API calls with `status` (429 or 503)."""
        _positive(count)
        if status not in (429, 503):
            msg = f"status must be 429 or 503, got {status}"
            raise InvalidRequest(msg, "status")
        with self._lock:
            self._api.append(_Pending(ApiFault(status, retry_after), count))

    def fail_provisioning(self, device: Device | None = None, profile: str | None = None) -> None:
        """Sessions for this device, or with this profile, become NETWORK_TERMINATED instead of AVAILABLE."""
        if device is None and profile is None:
            msg = "name a device or a profile whose provisioning should fail (device=... or profile=...)"
            raise InvalidRequest(msg, "device")
        with self._lock:
            if device is not None:
                self._fail_devices.update(device.identifiers())
            if profile is not None:
                self._fail_profiles.add(profile)

    def fail_next_provisioning(self, count: int = 1, profile: str | None = None, owner: str | None = None) -> None:
        """The next `count` sessions (with `profile`, of `owner`, when given) end NETWORK_TERMINATED."""
        _positive(count)
        with self._lock:
            self._fail_next.append(_Pending(profile, count, owner))

    def fail_at_creation(self, count: int = 1, profile: str | None = None, owner: str | None = None) -> None:
        """The network knows at once it cannot serve the next `count` sessions: 201 UNAVAILABLE / NETWORK_TERMINATED."""
        _positive(count)
        with self._lock:
            self._refuse_next.append(_Pending(profile, count, owner))

    def fails_at_creation(self, profile: str, owner: str | None = None) -> bool:
        """Whether a session with `profile` (of `owner`) is to be refused at creation (consumes the fault)."""
        with self._lock:
            return _take(self._refuse_next, owner, lambda wanted: wanted in (None, profile)) is not None

    def provisioning_fails(
        self, device_keys: tuple[tuple[str, str], ...], profile: str, owner: str | None = None
    ) -> bool:
        """Whether provisioning a session for a device (its identifier keys) with `profile` is set to fail."""
        with self._lock:
            if profile in self._fail_profiles or not self._fail_devices.isdisjoint(device_keys):
                return True
            return _take(self._fail_next, owner, lambda wanted: wanted in (None, profile)) is not None

    def take_notice_fault(self, owner: str | None = None) -> NoticeFault | None:
        """The fault for the next notification (of a session of `owner`), if any."""
        with self._lock:
            pending = _take(self._notices, owner)
        return pending.fault if pending is not None else None

    def take_api_fault(self) -> ApiFault | None:
        """The canned answer for the next API call, if any."""
        with self._lock:
            pending = _take(self._api)
        return pending.fault if pending is not None else None

    def clear(self) -> None:
        """Remove every pending fault."""
        with self._lock:
            self._notices.clear()
            self._api.clear()
            self._fail_devices.clear()
            self._fail_profiles.clear()
            self._fail_next.clear()
            self._refuse_next.clear()


def _positive(count: int) -> None:
    if count < 1:
        msg = f"count must be at least 1, got {count}"
        raise InvalidRequest(msg, "count")
