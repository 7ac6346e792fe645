"""The devices a real network has: documented test devices whose answers are fixed, and identifier types it refuses.

Pure rules, no I/O: the engine asks `TestDevices.identify()` before it creates a session, lists a
device's sessions or its profiles. Every device not in the catalogue behaves as it always has.
The phone numbers use country code +999, which E.164 reserves and no network assigns.

- +99900000404 `not_found`: 404 IDENTIFIER_NOT_FOUND on create, retrieve-sessions and
  retrieve-qos-profiles.
- +99900000422 `not_applicable`: 422 SERVICE_NOT_APPLICABLE on the same three.
- +99900000001 `restricted`: the one device that may use QOS_CRITICAL, a profile restricted to certain
  devices (CAMARA's retrieveQoSProfiles 04 and 05): retrieve-qos-profiles lists it for this device only,
  never without a device or for another one; another device's create or assignment with it is 422
  QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE (QoS Provisioning: QOS_PROVISIONING.QOS_PROFILE_NOT_APPLICABLE).
  Every other profile is offered to it as to any device.
- +99900000000 `no_profiles`: retrieve-qos-profiles answers 200 []; any create is 422
  QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE.
- +99900000503 `provisioning_fails`: 201 REQUESTED, then UNAVAILABLE / NETWORK_TERMINATED.
- +99900000030 `slow_provisioning`: 201 REQUESTED, AVAILABLE only after 30 sandbox seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..models import Device
from .refusals import EngineError

__all__ = ["SLOW_PROVISIONING", "Behaviour", "TestDevice", "TestDevices"]

SLOW_PROVISIONING = 30.0  # sandbox seconds from REQUESTED to AVAILABLE for the slow device


class Behaviour(StrEnum):
    """How a test device answers (the words `GET /_sandbox/test-devices` uses: tools read them)."""

    NOT_FOUND = "not_found"  # the network has never seen it
    NOT_APPLICABLE = "not_applicable"  # the service does not apply to it
    RESTRICTED = "restricted"  # the device some profiles are restricted to (only it may use them)
    NO_PROFILES = "no_profiles"  # no profile at all
    PROVISIONING_FAILS = "provisioning_fails"  # every session ends NETWORK_TERMINATED before AVAILABLE
    SLOW_PROVISIONING = "slow_provisioning"  # provisioning takes SLOW_PROVISIONING sandbox seconds


@dataclass(frozen=True)
class TestDevice:
    """One documented test device."""

    __test__ = False  # not a pytest test class

    device: dict[str, Any]  # a CAMARA Device, as on the wire
    behaviour: Behaviour
    description: str
    label: str  # a short name for a form's choice
    profiles: tuple[str, ...] = field(default=())  # RESTRICTED: the restricted profiles this device may use

    def as_dict(self) -> dict[str, Any]:
        """The `GET /_sandbox/test-devices` entry."""
        entry: dict[str, Any] = {"device": self.device, "behaviour": self.behaviour.value}
        if self.behaviour is Behaviour.RESTRICTED:
            entry["profiles"] = list(self.profiles)
        entry["description"] = self.description
        return entry

    @property
    def fails_provisioning(self) -> bool:
        """Whether its sessions end NETWORK_TERMINATED instead of AVAILABLE."""
        return self.behaviour is Behaviour.PROVISIONING_FAILS

    def provisioning_delay(self, usual: float) -> float:
        """Sandbox seconds from REQUESTED to AVAILABLE for this device."""
        return max(usual, SLOW_PROVISIONING) if self.behaviour is Behaviour.SLOW_PROVISIONING else usual

    def may_use(self, restricted: str) -> bool:
        """Whether `restricted`, a profile restricted to certain devices, is one this device may use."""
        return self.behaviour is Behaviour.RESTRICTED and restricted in self.profiles


CATALOGUE: tuple[TestDevice, ...] = (
    TestDevice(
        {"phoneNumber": "+99900000404"},
        Behaviour.NOT_FOUND,
        "A device the network has never seen: 404 IDENTIFIER_NOT_FOUND.",
        "an unknown device",
    ),
    TestDevice(
        {"phoneNumber": "+99900000422"},
        Behaviour.NOT_APPLICABLE,
        "A device the service does not apply to (e.g. another operator's subscriber): 422 SERVICE_NOT_APPLICABLE.",
        "a device the service does not apply to",
    ),
    TestDevice(
        {"phoneNumber": "+99900000001"},
        Behaviour.RESTRICTED,
        "The only device that may use QOS_CRITICAL, a profile restricted to certain devices: listed for it, "
        "absent from a list without a device or for another device, whose create or assignment with it is 422 "
        "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE (QoS Provisioning: QOS_PROVISIONING.QOS_PROFILE_NOT_APPLICABLE). "
        "Every other profile as usual.",
        "the only device that may use QOS_CRITICAL",
        ("QOS_CRITICAL",),
    ),
    TestDevice(
        {"phoneNumber": "+99900000000"},
        Behaviour.NO_PROFILES,
        "A device offered no profile: retrieve-qos-profiles answers 200 [], a create 422.",
        "a device with no profile",
    ),
    TestDevice(
        {"phoneNumber": "+99900000503"},
        Behaviour.PROVISIONING_FAILS,
        "A device whose provisioning always fails: REQUESTED, then UNAVAILABLE / NETWORK_TERMINATED.",
        "a device whose provisioning fails",
    ),
    TestDevice(
        {"phoneNumber": "+99900000030"},
        Behaviour.SLOW_PROVISIONING,
        f"A device whose provisioning takes {SLOW_PROVISIONING:g} sandbox seconds (REQUESTED until then).",
        "a device whose provisioning is slow",
    ),
)


class TestDevices:
    """The catalogue, and the identifier types this network does not support."""

    __test__ = False

    def __init__(self, devices: Sequence[TestDevice] = CATALOGUE, unsupported: Iterable[str] = ()) -> None:
        self.devices = tuple(devices)
        self.unsupported = frozenset(unsupported)
        """Identifier types (e.g. `networkAccessIdentifier`) a request may not rely on alone."""
        unknown = self.unsupported - {"phoneNumber", "networkAccessIdentifier", "ipv4Address", "ipv6Address"}
        if unknown:
            msg = f"not a CAMARA device identifier type: {', '.join(sorted(unknown))}"
            raise ValueError(msg)
        self._by_key = {key: d for d in self.devices for key in Device.model_validate(d.device).identifiers()}
        self.restricted = frozenset(p for d in self.devices if d.behaviour is Behaviour.RESTRICTED for p in d.profiles)
        """The profiles restricted to certain devices: only a `restricted` device naming one may use it."""

    def allows(self, device: TestDevice | None, profile: str) -> bool:
        """Whether `profile` is offered to `device` (None: an ordinary device, or no device given)."""
        if device is not None and device.behaviour is Behaviour.NO_PROFILES:
            return False
        return profile not in self.restricted or (device is not None and device.may_use(profile))

    def find(self, keys: Iterable[tuple[str, str]]) -> TestDevice | None:
        """The test device with any of these identifier keys, if any."""
        return next((self._by_key[k] for k in keys if k in self._by_key), None)

    def identify(self, device: Device) -> TestDevice | None:
        """The test device a request names (None: an ordinary device), or EngineError as the network answers."""
        keys = device.identifiers()
        if self.unsupported and {kind for kind, _ in keys} <= self.unsupported:
            kinds = ", ".join(sorted({kind for kind, _ in keys}))
            raise EngineError(422, "UNSUPPORTED_IDENTIFIER", f"The identifier provided is not supported ({kinds}).")
        found = self.find(keys)
        if found is not None and found.behaviour is Behaviour.NOT_FOUND:
            raise EngineError(404, "IDENTIFIER_NOT_FOUND", "Device identifier not found.")
        if found is not None and found.behaviour is Behaviour.NOT_APPLICABLE:
            raise EngineError(
                422, "SERVICE_NOT_APPLICABLE", "The service is not available for the provided identifier."
            )
        return found
