"""The models enforce the contract's rules with messages that name the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from qodlab import (
    AccessTokenCredential,
    CreateSession,
    Device,
    Duration,
    PortsSpec,
    QosProfile,
    QosStatus,
    Rate,
    SessionInfo,
    StatusInfo,
)
from qodlab.models import to_wire


def _error(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value)


def test_device_needs_an_identifier() -> None:
    with pytest.raises(ValidationError) as exc:
        Device()
    assert "at least one identifier" in _error(exc)


def test_phone_number_without_plus_is_normalised() -> None:
    assert Device(phone_number="36721601234567").phone_number == "+36721601234567"
    assert Device.model_validate({"phoneNumber": "+36 72 160 1234"}).phone_number == "+36721601234"


@pytest.mark.parametrize("bad", ["+0123456", "+1234", "12ab45678", "+1234567890123456"])
def test_phone_number_must_be_e164(bad: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Device(phone_number=bad)
    assert "phone_number" in _error(exc) and "E.164" in _error(exc)


def test_ipv4_needs_private_address_or_port() -> None:
    with pytest.raises(ValidationError) as exc:
        Device.model_validate({"ipv4Address": {"publicAddress": "233.252.0.2"}})
    assert "ipv4Address" in _error(exc) and "privateAddress or publicPort" in _error(exc)
    assert Device.model_validate({"ipv4Address": {"publicAddress": "233.252.0.2", "publicPort": 80}})
    assert Device.model_validate({"ipv4Address": {"publicAddress": "233.252.0.2", "privateAddress": "10.0.0.1"}})


def test_addresses_are_checked() -> None:
    with pytest.raises(ValidationError, match="not an IPv4 address"):
        Device.model_validate({"ipv4Address": {"publicAddress": "300.1.1.1", "publicPort": 1}})
    with pytest.raises(ValidationError, match="not an IPv6 address"):
        Device(ipv6_address="2001:db8::zz")


@pytest.mark.parametrize("port", [-1, 65536])
def test_ports_are_0_to_65535(port: int) -> None:
    with pytest.raises(ValidationError, match="ports"):
        PortsSpec(ports=[port])
    with pytest.raises(ValidationError, match=r"public_port|publicPort"):
        Device.model_validate({"ipv4Address": {"publicAddress": "1.2.3.4", "publicPort": port}})


def test_port_range_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="above 'to'"):
        PortsSpec.model_validate({"ranges": [{"from": 6000, "to": 5000}]})
    spec = PortsSpec.model_validate({"ranges": [{"from": 5000, "to": 6000}], "ports": [80]})
    assert to_wire(spec) == {"ranges": [{"from": 5000, "to": 6000}], "ports": [80]}


def test_wire_is_camel_case_and_python_is_snake_case() -> None:
    request = CreateSession(
        device=Device(phone_number="+36721601234567"),
        application_server={"ipv4Address": "233.252.0.0/24"},  # type: ignore[arg-type]
        qos_profile="QOS_L",
        duration=60,
        sink="https://example.com/sink",
        sink_credential=AccessTokenCredential(access_token="s3cret"),  # type: ignore[arg-type]
    )
    wire = to_wire(request)
    assert wire["applicationServer"] == {"ipv4Address": "233.252.0.0/24"}
    assert wire["qosProfile"] == "QOS_L"
    assert wire["sinkCredential"].pop("accessTokenExpiresUtc").endswith("Z")  # the contract requires it
    assert wire["sinkCredential"] == {
        "credentialType": "ACCESSTOKEN",
        "accessToken": "s3cret",
        "accessTokenType": "bearer",
    }
    assert CreateSession.model_validate(wire).device == request.device


def test_token_is_masked_in_repr() -> None:
    credential = AccessTokenCredential(access_token="s3cret")  # type: ignore[arg-type]
    assert "s3cret" not in repr(credential)
    assert "s3cret" not in repr(
        CreateSession(
            application_server={"ipv4Address": "1.2.3.4"},  # type: ignore[arg-type]
            qos_profile="QOS_L",
            duration=1,
            sink_credential=credential,
        )
    )


def test_duration_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="duration"):
        CreateSession(application_server={"ipv4Address": "1.2.3.4"}, qos_profile="QOS_L", duration=0)  # type: ignore[arg-type]


def test_profile_units_convert() -> None:
    assert Duration.model_validate({"value": 2, "unit": "Hours"}).seconds == 7200
    assert Duration.model_validate({"value": 20, "unit": "Milliseconds"}).seconds == pytest.approx(0.02)
    assert Rate.model_validate({"value": 20, "unit": "Mbps"}).bps == 20e6
    profile = QosProfile.model_validate(
        {"name": "QOS_L", "status": "ACTIVE", "maxDuration": {"value": 1, "unit": "Days"}}
    )
    assert profile.max_duration is not None and profile.max_duration.seconds == 86400


def test_session_info_parses_the_wire() -> None:
    info = SessionInfo.model_validate(
        {
            "sessionId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "duration": 60,
            "qosStatus": "UNAVAILABLE",
            "statusInfo": "DELETE_REQUESTED",
            "startedAt": "2024-06-01T12:00:00Z",
            "expiresAt": "2024-06-01T12:01:00Z",
        }
    )
    assert info.qos_status is QosStatus.UNAVAILABLE and info.status_info is StatusInfo.DELETE_REQUESTED
    assert info.expires_at is not None and info.started_at is not None
    assert (info.expires_at - info.started_at).total_seconds() == 60


def test_single_identifier_prefers_phone_number() -> None:
    device = Device.model_validate({"networkAccessIdentifier": "a@b", "phoneNumber": "+36721601234567"})
    assert to_wire(device.single()) == {"phoneNumber": "+36721601234567"}
