"""The devices a real network has: documented test devices whose answers are fixed, and identifier types it refuses.

Pure rules, no I/O: the engine asks `TestDevices.identify()` before it creates a session, lists a
device's sessions or its profiles. Every device not in the catalogue behaves as it always has.
The phone numbers use country code +999, which E.164 reserves and no network assigns.

- +99900000404 `not_found`: 404 IDENTIFIER_NOT_FOUND on create, retrieve-sessions and
  retrieve-qos-profiles.
- +99900000422 `not_applicable`: 422 SERVICE_NOT_APPLICABLE on the same three.
- +99900000001 `restricted`: retrieve-qos-profiles lists only QOS_E and QOS_S; a create with another
  profile is 422 QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE.
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
    RESTRICTED = "restricted"  # only some profiles are offered to it
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
    profiles: tuple[str, ...] = field(default=())  # only for RESTRICTED

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

    def allows(self, profile: str) -> bool:
        """Whether `profile` is offered to this device."""
        if self.behaviour is Behaviour.NO_PROFILES:
            return False
        return self.behaviour is not Behaviour.RESTRICTED or profile in self.profiles


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
        "A device offered only QOS_E and QOS_S; any other profile: 422 QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE.",
        "a device offered only QOS_E and QOS_S",
        ("QOS_E", "QOS_S"),
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
