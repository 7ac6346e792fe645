"""Pydantic models of the CAMARA QoD family's bodies, one model per body for every release qodlab speaks.

Quality on Demand 1.1.0 and 1.2.0-rc.3, QoS Profiles of both, and QoS Provisioning 0.3.0 and
0.4.0-rc.1 (the rows of `qodlab.apis.RELEASES`): what only a later release has (1.2's
`applicationServer.ipAddresses`, PRIVATE_KEY_JWT) is optional here, and each release's own contract
judges a request where it is served. The 0.10 release's create body (`webhook: {...}`) is the
client's rewrite of a `CreateSession`.

Python attributes are snake_case; the wire is camelCase (`to_wire` / `model_validate`).
Validation messages name the field they are about, so a form can show them beside it.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "AccessTokenCredential",
    "ApplicationServer",
    "AssignmentInfo",
    "CreateAssignment",
    "CreateSession",
    "Device",
    "DeviceIpv4Addr",
    "Duration",
    "ErrorInfo",
    "ExtendSession",
    "Kind",
    "PortRange",
    "PortsSpec",
    "PrivateKeyJwtCredential",
    "ProfileStatus",
    "QosProfile",
    "QosStatus",
    "Rate",
    "RateUnit",
    "RetrieveProfiles",
    "RetrieveSessions",
    "SessionInfo",
    "StatusInfo",
    "TimeUnit",
    "to_wire",
]

TOKEN_VALIDITY = timedelta(days=2)  # a session lasts at most its profile's maxDuration (24 h here)
_E164 = re.compile(r"^\+[1-9][0-9]{4,14}$")
_PROFILE_NAME = r"^[a-zA-Z0-9_.-]+$"


Kind = Literal["session", "assignment"]
"""What an id names: a QoS session, or a QoS Provisioning assignment (a profile until revoked); the
event log's `kind` column holds these values."""


class QosStatus(StrEnum):
    """Status of a QoS session."""

    REQUESTED = "REQUESTED"  # created, the network is provisioning it
    AVAILABLE = "AVAILABLE"  # the network provides the requested QoS
    UNAVAILABLE = "UNAVAILABLE"  # ended; statusInfo says why


class StatusInfo(StrEnum):
    """Why a session became UNAVAILABLE."""

    DURATION_EXPIRED = "DURATION_EXPIRED"  # expiresAt was reached
    NETWORK_TERMINATED = "NETWORK_TERMINATED"  # the network ended or never provided it
    DELETE_REQUESTED = "DELETE_REQUESTED"  # the API consumer deleted it


class ProfileStatus(StrEnum):
    """Whether a QoS profile can be used for new sessions."""

    ACTIVE = "ACTIVE"  # available for new sessions
    INACTIVE = "INACTIVE"  # not available at present
    DEPRECATED = "DEPRECATED"  # still in use by sessions, not for new ones


class TimeUnit(StrEnum):
    """Units of a QoS profile duration."""

    DAYS = "Days"
    HOURS = "Hours"
    MINUTES = "Minutes"
    SECONDS = "Seconds"
    MILLISECONDS = "Milliseconds"
    MICROSECONDS = "Microseconds"
    NANOSECONDS = "Nanoseconds"


class RateUnit(StrEnum):
    """Units of a QoS profile rate."""

    BPS = "bps"
    KBPS = "kbps"
    MBPS = "Mbps"
    GBPS = "Gbps"
    TBPS = "Tbps"


_SECONDS_PER_UNIT = {
    TimeUnit.DAYS: 86400.0,
    TimeUnit.HOURS: 3600.0,
    TimeUnit.MINUTES: 60.0,
    TimeUnit.SECONDS: 1.0,
    TimeUnit.MILLISECONDS: 1e-3,
    TimeUnit.MICROSECONDS: 1e-6,
    TimeUnit.NANOSECONDS: 1e-9,
}
_BPS_PER_UNIT = {
    RateUnit.BPS: 1.0,
    RateUnit.KBPS: 1e3,
    RateUnit.MBPS: 1e6,
    RateUnit.GBPS: 1e9,
    RateUnit.TBPS: 1e12,
}


def _phone_number(value: Any) -> Any:
    """Normalise a phone number to E.164, accepting the `+`-less form of the NaC docs."""
    if not isinstance(value, str):
        return value
    compact = re.sub(r"[\s\-()]", "", value)
    if compact and compact[0].isdigit():
        compact = "+" + compact
    if not _E164.match(compact):
        msg = f"phoneNumber must be E.164 ('+' then 5 to 15 digits, no leading 0), got {value!r}"
        raise ValueError(msg)
    return compact


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        msg = f"not an IPv4 address: {value!r}"
        raise ValueError(msg) from None


def _ipv6(value: str) -> str:
    try:
        return str(ipaddress.IPv6Address(value))
    except ValueError:
        msg = f"not an IPv6 address: {value!r}"
        raise ValueError(msg) from None


def _network(version: int) -> Any:
    def check(value: str) -> str:
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            net = None
        if net is None or net.version != version:
            msg = f"not an IPv{version} address or address/mask: {value!r}"
            raise ValueError(msg)
        return value

    return check


PhoneNumber = Annotated[str, BeforeValidator(_phone_number)]
Ipv4 = Annotated[str, AfterValidator(_ipv4)]
Ipv6 = Annotated[str, AfterValidator(_ipv6)]
Port = Annotated[int, Field(ge=0, le=65535)]
ProfileName = Annotated[str, Field(min_length=3, max_length=256, pattern=_PROFILE_NAME)]


class _Model(BaseModel):
    """Base: camelCase on the wire, snake_case in Python, unknown wire fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_enum_values=False,
    )


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The JSON body of a model as the API expects it (camelCase, no nulls)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class DeviceIpv4Addr(_Model):
    """A device's IPv4 address as seen by the network: public plus private address or port."""

    public_address: Ipv4
    """The public (observed) address, required."""
    private_address: Ipv4 | None = None
    """The private (allocated) address, if known."""
    public_port: Port | None = None
    """The public (observed) port, if known."""

    @model_validator(mode="after")
    def _identifies(self) -> DeviceIpv4Addr:
        if self.private_address is None and self.public_port is None:
            msg = (
                "ipv4Address needs publicAddress plus privateAddress or publicPort "
                "(a public address alone does not identify a device behind NAT)"
            )
            raise ValueError(msg)
        return self


class Device(_Model):
    """End-user equipment, named by at least one identifier."""

    phone_number: PhoneNumber | None = None
    """E.164 number with leading '+' (a '+'-less number is normalised)."""
    network_access_identifier: str | None = None
    """GPSI external identifier, e.g. `device@testcsp.net`."""
    ipv4_address: DeviceIpv4Addr | None = None
    """IPv4 public address with private address or public port."""
    ipv6_address: Ipv6 | None = None
    """IPv6 address of the device or one from its allocated subnet."""

    @model_validator(mode="after")
    def _has_identifier(self) -> Device:
        if not self.identifiers():
            msg = (
                "device needs at least one identifier: phoneNumber, networkAccessIdentifier, ipv4Address or ipv6Address"
            )
            raise ValueError(msg)
        return self

    def identifiers(self) -> list[tuple[str, str]]:
        """Every identifier as a hashable key, in the order responses prefer them."""
        keys: list[tuple[str, str]] = []
        if self.phone_number:
            keys.append(("phoneNumber", self.phone_number))
        if self.network_access_identifier:
            keys.append(("networkAccessIdentifier", self.network_access_identifier))
        if self.ipv4_address:
            ip = self.ipv4_address
            keys.append(("ipv4Address", f"{ip.public_address}|{ip.private_address}|{ip.public_port}"))
        if self.ipv6_address:
            keys.append(("ipv6Address", self.ipv6_address))
        return keys

    def single(self) -> Device:
        """The device with only its preferred identifier, as responses echo it."""
        field = self.identifiers()[0][0]
        return Device.model_validate({field: getattr(self, to_snake(field))})


def to_snake(name: str) -> str:
    """camelCase wire name to the Python attribute name."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _single_addresses(values: list[str]) -> list[str]:
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            msg = f"not a single IPv4 or IPv6 address (no mask): {value!r}"
            raise ValueError(msg) from None
    if len(set(values)) != len(values):
        msg = "the addresses must be unique"
        raise ValueError(msg)
    return values


class ApplicationServer(_Model):
    """The server side of the flow: an IPv4 and/or IPv6 subnet, or (QoD 1.2) a list of single addresses."""

    ipv4_address: Annotated[str, AfterValidator(_network(4))] | None = None
    """IPv4 address or address/mask, e.g. `198.51.100.0/24`."""
    ipv6_address: Annotated[str, AfterValidator(_network(6))] | None = None
    """IPv6 address or address/mask."""
    ip_addresses: Annotated[list[str], Field(min_length=1, max_length=16), AfterValidator(_single_addresses)] | None = (
        None
    )
    """QoD 1.2: up to 16 unique single IPv4 or IPv6 addresses, instead of the subnets."""

    @model_validator(mode="after")
    def _has_address(self) -> ApplicationServer:
        if self.ip_addresses is not None and (self.ipv4_address or self.ipv6_address):
            msg = "applicationServer: give ipAddresses, or ipv4Address/ipv6Address, not both"
            raise ValueError(msg)
        if self.ipv4_address is None and self.ipv6_address is None and self.ip_addresses is None:
            msg = "applicationServer needs ipv4Address or ipv6Address (or, in QoD 1.2, ipAddresses)"
            raise ValueError(msg)
        return self


class PortRange(_Model):
    """An inclusive range of ports."""

    from_: Port = Field(alias="from")
    """First port of the range."""
    to: Port
    """Last port of the range."""

    @model_validator(mode="after")
    def _ordered(self) -> PortRange:
        if self.from_ > self.to:
            msg = f"port range 'from' ({self.from_}) is above 'to' ({self.to})"
            raise ValueError(msg)
        return self


class PortsSpec(_Model):
    """Ports and port ranges a session applies to."""

    ranges: Annotated[list[PortRange], Field(min_length=1)] | None = None
    """Port ranges."""
    ports: Annotated[list[Port], Field(min_length=1)] | None = None
    """Single ports."""

    @model_validator(mode="after")
    def _not_empty(self) -> PortsSpec:
        if self.ranges is None and self.ports is None:
            msg = "ports need 'ports' or 'ranges'"
            raise ValueError(msg)
        return self


class Rate(_Model):
    """A rate with its unit."""

    value: Annotated[int, Field(ge=0, le=1024)]
    """Quantity."""
    unit: RateUnit
    """Unit of the quantity."""

    @property
    def bps(self) -> float:
        """The rate in bits per second."""
        return self.value * _BPS_PER_UNIT[self.unit]


class Duration(_Model):
    """A duration with its unit."""

    value: Annotated[int, Field(ge=1)]
    """Quantity."""
    unit: TimeUnit
    """Unit of the quantity."""

    @property
    def seconds(self) -> float:
        """The duration in seconds."""
        return self.value * _SECONDS_PER_UNIT[self.unit]


class QosProfile(_Model):
    """A QoS profile of the catalogue (QoS Profiles 1.1.0 and 1.2.0-rc.3; QoD 0.10's `GET /qos-profiles`)."""

    name: ProfileName
    """Unique name, e.g. QOS_L."""
    status: ProfileStatus
    """Whether new sessions may use it."""
    description: str | None = None
    """What the profile is for."""
    target_min_upstream_rate: Rate | None = None
    """Target minimum upload rate."""
    max_upstream_rate: Rate | None = None
    """Maximum best-effort upload rate."""
    max_upstream_burst_rate: Rate | None = None
    """Maximum upload burst rate."""
    target_min_downstream_rate: Rate | None = None
    """Target minimum download rate."""
    max_downstream_rate: Rate | None = None
    """Maximum best-effort download rate."""
    max_downstream_burst_rate: Rate | None = None
    """Maximum download burst rate."""
    min_duration: Duration | None = None
    """Shortest session."""
    max_duration: Duration | None = None
    """Longest session, extensions included."""
    priority: Annotated[int, Field(ge=1, le=100)] | None = None
    """Lower is more important."""
    packet_delay_budget: Duration | None = None
    """Maximum one-way latency inside the operator's network."""
    jitter: Duration | None = None
    """Maximum variation of round-trip delay (99th percentile)."""
    packet_error_loss_rate: Annotated[int, Field(ge=1, le=10)] | None = None
    """Exponent of 10 of the acceptable loss rate."""


class AccessTokenCredential(_Model):
    """A sink credential: the bearer token the provider sends with each notification."""

    credential_type: Literal["PLAIN", "ACCESSTOKEN", "REFRESHTOKEN"] = "ACCESSTOKEN"
    """Only ACCESSTOKEN is allowed (PLAIN and REFRESHTOKEN are refused by every release)."""
    access_token: SecretStr | None = None
    """The token; masked in reprs."""
    access_token_expires_utc: datetime = Field(default_factory=lambda: datetime.now(UTC) + TOKEN_VALIDITY)
    """When the token stops being valid; by default two days from now, after any session created now ends."""
    access_token_type: str | None = "bearer"
    """Only `bearer` is allowed."""

    @field_serializer("access_token", when_used="json")
    def _reveal(self, token: SecretStr | None) -> str | None:
        # The wire needs the token itself; reprs and logs keep seeing it masked.
        return token.get_secret_value() if token is not None else None


class PrivateKeyJwtCredential(_Model):
    """QoD 1.2: the provider fetches an access token from the consumer's `token_uri` with a JWT it signs."""

    credential_type: Literal["PRIVATE_KEY_JWT"] = "PRIVATE_KEY_JWT"
    """Always PRIVATE_KEY_JWT."""
    client_id: str | None = None
    """The client id the provider authenticates as (write-only; absent when pre-shared)."""
    token_uri: str | None = None
    """The consumer's token endpoint (write-only; absent when pre-shared)."""
    jwks_uri: str | None = None
    """The provider's public keys (read-only: in responses)."""


SinkCredential = Annotated[AccessTokenCredential | PrivateKeyJwtCredential, Field(discriminator="credential_type")]


class CreateSession(_Model):
    """The body of POST /sessions."""

    device: Device | None = None
    """The device to prioritise (required with a two-legged token)."""
    application_server: ApplicationServer
    """The server end of the flow."""
    device_ports: PortsSpec | None = None
    """Device ports the session applies to (all if absent)."""
    application_server_ports: PortsSpec | None = None
    """Server ports the session applies to (all if absent)."""
    qos_profile: ProfileName
    """Name of the QoS profile, e.g. QOS_L."""
    duration: Annotated[int, Field(ge=1)]
    """Requested duration in seconds."""
    sink: str | None = None
    """Where status notifications are POSTed."""
    sink_credential: SinkCredential | None = None
    """How notifications authenticate: a token sent with each, or (QoD 1.2) PRIVATE_KEY_JWT."""


class CreateAssignment(_Model):
    """The body of POST /qos-assignments (QoS Provisioning): a profile for a device until revoked."""

    device: Device | None = None
    """The device (required with a two-legged token)."""
    qos_profile: ProfileName
    """Name of the QoS profile."""
    sink: str | None = None
    """Where status notifications are POSTed."""
    sink_credential: SinkCredential | None = None
    """How notifications authenticate (0.4.0-rc.1 adds PRIVATE_KEY_JWT)."""


class AssignmentInfo(_Model):
    """A QoS profile assignment as the API returns it."""

    assignment_id: UUID
    """Assignment identifier."""
    status: QosStatus
    """REQUESTED, AVAILABLE or UNAVAILABLE."""
    status_info: StatusInfo | None = None
    """NETWORK_TERMINATED or DELETE_REQUESTED (also while a revocation is under way)."""
    qos_profile: str
    """The profile assigned."""
    device: Device | None = None
    """The one device identifier the provider used (when the request named the device)."""
    sink: str | None = None
    """Where notifications go."""
    started_at: datetime | None = None
    """When it became AVAILABLE."""

    @property
    def id(self) -> str:
        """`assignment_id` as a string, the name the official SDK's objects use."""
        return str(self.assignment_id)

    def __repr__(self) -> str:
        from .notebook.display import assignment_text

        return assignment_text(type(self).__name__, self)

    def _repr_html_(self) -> str:
        from .notebook.display import assignment_rows, card

        return card(type(self).__name__, assignment_rows(self), status=self.status.value)


class SessionInfo(_Model):
    """A QoS session as the API returns it."""

    session_id: UUID
    """Session identifier."""
    duration: int
    """Granted (or effective, once ended) duration in seconds."""
    qos_status: QosStatus
    """Current status."""
    status_info: StatusInfo | None = None
    """Why the session is UNAVAILABLE."""
    started_at: datetime | None = None
    """When it became AVAILABLE."""
    expires_at: datetime | None = None
    """When it ends, or ended."""
    device: Device | None = None
    """The one device identifier the provider used."""
    application_server: ApplicationServer | None = None
    """The server end of the flow."""
    device_ports: PortsSpec | None = None
    """Device ports."""
    application_server_ports: PortsSpec | None = None
    """Server ports."""
    qos_profile: str | None = None
    """Name of the QoS profile."""
    sink: str | None = None
    """Notification address."""

    @property
    def id(self) -> str:
        """`session_id` as a string, the name the official SDK's sessions use (`session.id`)."""
        return str(self.session_id)

    def __repr__(self) -> str:
        from .notebook.display import session_text

        return session_text(type(self).__name__, self, self._api_now())

    def _repr_html_(self) -> str:
        from .notebook.display import card, session_rows

        return card(type(self).__name__, session_rows(self, self._api_now()), status=self.qos_status.value)

    def _api_now(self) -> datetime | None:
        """The clock its time left is counted on: its client's API's (a sandbox's runs at its speed), else None."""
        now = getattr(getattr(self, "_client", None), "api_now", None)
        return now() if callable(now) else None


class ExtendSession(_Model):
    """The body of POST /sessions/{id}/extend."""

    requested_additional_duration: Annotated[int, Field(ge=1)]
    """Seconds to add; the total is capped at the profile's maxDuration."""


class RetrieveSessions(_Model):
    """The body of POST /retrieve-sessions."""

    device: Device | None = None
    """Whose sessions."""


class RetrieveProfiles(_Model):
    """The body of POST /retrieve-qos-profiles."""

    device: Device | None = None
    """Only profiles available to this device."""
    name: ProfileName | None = None
    """Only the profile with this name."""
    status: ProfileStatus | None = None
    """Only profiles in this status."""


class ErrorInfo(_Model):
    """The CAMARA error body."""

    status: int
    """HTTP status code."""
    code: str
    """Machine-readable error code, e.g. CONFLICT."""
    message: str = ""
    """Human-readable description."""
