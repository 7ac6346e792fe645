"""The API versions the sandbox serves side by side, each a thin layer over the one engine.

A version is its base paths, the OpenAPI files its requests are checked against, and how a
session is shaped for it. A session created through one version is one session; read through the
other, it is shaped for that one:

- 1.1.0 (CAMARA r3.2): `/quality-on-demand/v1`, `/qos-profiles/v1`. It knows no `ipAddresses`
  list: a session created with one reads as its first IPv4 and first IPv6 address. It never shows
  a `sinkCredential`.
- 1.2.0-rc.3 (CAMARA r4.1): `/quality-on-demand/v1rc3`, `/qos-profiles/v1rc3`; request bodies
  strict (an undeclared property is 400); a PRIVATE_KEY_JWT session shows
  `sinkCredential: {credentialType, jwksUri}` (the read-only part, never the write-only ones).

QoS Provisioning (another API of the family) would be another such layer over the same engine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .contract import Api

__all__ = ["V1", "V1RC3", "VERSIONS", "Version", "code_for"]


def _as_v1(body: dict[str, Any], jwks_uri: str) -> dict[str, Any]:
    body.pop("sinkCredential", None)
    server = body.get("applicationServer")
    if isinstance(server, dict) and "ipAddresses" in server:
        addresses = [ipaddress.ip_address(a) for a in server["ipAddresses"]]
        shaped = {
            "ipv4Address": next((str(a) for a in addresses if a.version == 4), None),
            "ipv6Address": next((str(a) for a in addresses if a.version == 6), None),
        }
        body["applicationServer"] = {k: v for k, v in shaped.items() if v is not None}
    return body


def _as_v1rc3(body: dict[str, Any], jwks_uri: str) -> dict[str, Any]:
    credential = body.get("sinkCredential")
    if isinstance(credential, dict):
        body["sinkCredential"] = {**credential, "jwksUri": jwks_uri}
    return body


@dataclass(frozen=True)
class Version:
    """One API version: where it is served, what its requests are checked against, how it shows a session."""

    name: str
    qod: str  # base path of Quality on Demand
    profiles: str  # base path of QoS Profiles
    qod_api: Api  # the contract its QoD requests are checked against
    profiles_api: Api
    _shape: Callable[[dict[str, Any], str], dict[str, Any]]
    codes: dict[str, str] = field(default_factory=dict)  # an engine error code -> this version's

    def serves(self, path: str) -> bool:
        """Whether `path` is one of this version's."""
        return path.startswith((f"{self.qod}/", f"{self.profiles}/"))

    def session(self, body: dict[str, Any], jwks_uri: str) -> dict[str, Any]:
        """A session's wire body (the engine's `info()`), shaped for this version."""
        return self._shape(body, jwks_uri)


V1 = Version("1.1.0", "/quality-on-demand/v1", "/qos-profiles/v1", "qod", "profiles", _as_v1)
# CAMARA's r4.1 test definitions: a duration outside the profile's range is INVALID_ARGUMENT
# (createSession 400.9), and PLAIN or REFRESHTOKEN fail schema validation as INVALID_ARGUMENT (400.6).
V1RC3 = Version(
    "1.2.0-rc.3",
    "/quality-on-demand/v1rc3",
    "/qos-profiles/v1rc3",
    "qod-1.2",
    "profiles-1.2",
    _as_v1rc3,
    {"QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE": "INVALID_ARGUMENT", "INVALID_CREDENTIAL": "INVALID_ARGUMENT"},
)
VERSIONS = (V1, V1RC3)


# QoS Provisioning (0.3.0 and 0.4.0-rc.1) names its own 422 for a profile it cannot assign
# (createQosAssignment 422.1).
PROVISIONING_CODES = {"QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE": "QOS_PROVISIONING.QOS_PROFILE_NOT_APPLICABLE"}


def code_for(path: str, code: str) -> str:
    """The error code the API version serving `path` gives for an engine error's `code`."""
    if path.startswith("/qos-provisioning/"):
        return PROVISIONING_CODES.get(code, code)
    version = next((v for v in VERSIONS if v.serves(path)), None)
    return version.codes.get(code, code) if version is not None else code
