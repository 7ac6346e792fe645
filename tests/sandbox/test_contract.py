"""The sandbox against the CAMARA contract, property-based (schemathesis over the OpenAPI files).

Every operation of QoD v1.1.0 and QoS Profiles v1.1.0 gets schema-violating requests, answered
with a 4xx and the CAMARA error body (never a 2xx, never a 5xx), and schema-valid ones, answered
with no 5xx and a response the contract allows. The sandbox runs as CAMARA requires (strict:
https sinks only), on a real port.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from qodlab import Sandbox
from qodlab.sandbox.contract import nac_gateway

CONTRACT = Path(__file__).parents[2] / "qodlab" / "sandbox" / "contract"
SHARED = Path(__file__).parents[3] / "shared" / "contract"
CREDENTIAL = {"credentialType": "ACCESSTOKEN", "accessToken": "t", "accessTokenType": "bearer"}
EXAMPLES = 60  # per operation and mode; the coverage phase adds its boundary cases on top

qod = schemathesis.openapi.from_path(CONTRACT / "quality-on-demand.yaml")
profiles = schemathesis.openapi.from_path(CONTRACT / "qos-profiles.yaml")
qod_rc3 = schemathesis.openapi.from_path(CONTRACT / "r4.1" / "quality-on-demand.yaml")  # 1.2.0-rc.3
profiles_rc3 = schemathesis.openapi.from_path(CONTRACT / "r4.1" / "qos-profiles.yaml")
provisioning_0_3 = schemathesis.openapi.from_path(CONTRACT / "qos-provisioning-0.3.yaml")
provisioning_0_4 = schemathesis.openapi.from_path(CONTRACT / "r4.1" / "qos-provisioning.yaml")
for schema in (qod, profiles, qod_rc3, profiles_rc3, provisioning_0_3, provisioning_0_4):
    schema.config.generation.update(modes=list(GenerationMode), max_examples=EXAMPLES)


@pytest.fixture(scope="module")
def strict_sandbox() -> Iterator[Sandbox]:
    # One attempt per notification: valid requests carry made-up https sinks nobody answers.
    with Sandbox(speed=60, strict=True, max_attempts=1, reuse=False) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def stand_in() -> Iterator[Sandbox]:
    """Strict and over HTTPS, as a real network: 1.2's read-only `jwksUri` must be https too."""
    with Sandbox.stand_in(max_attempts=1) as sandbox:
        yield sandbox


def _check(case: Any, base_url: str, **call: Any) -> None:
    response = case.call(base_url=base_url, **call)
    if case.meta.generation.mode is GenerationMode.NEGATIVE:
        case.validate_response(response, checks=[not_a_server_error, negative_data_rejection])
        assert 400 <= response.status_code < 500, (response.status_code, response.text)
    else:
        checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
        case.validate_response(response, checks=checks)
    if response.status_code >= 400:
        body = response.json()
        assert body["status"] == response.status_code and body["code"] and body["message"], body


@qod.parametrize()
def test_quality_on_demand_conforms(case: Any, strict_sandbox: Sandbox) -> None:
    _check(case, strict_sandbox.qod_url)


@profiles.parametrize()
def test_qos_profiles_conform(case: Any, strict_sandbox: Sandbox) -> None:
    _check(case, f"{strict_sandbox.url}/qos-profiles/v1")


@qod_rc3.parametrize()
def test_quality_on_demand_1_2_conforms(case: Any, stand_in: Sandbox) -> None:
    _check(case, f"{stand_in.url}/quality-on-demand/v1rc3", verify=stand_in.cafile)


@profiles_rc3.parametrize()
def test_qos_profiles_1_2_conform(case: Any, stand_in: Sandbox) -> None:
    _check(case, f"{stand_in.url}/qos-profiles/v1rc3", verify=stand_in.cafile)


@provisioning_0_3.parametrize()
def test_qos_provisioning_0_3_conforms(case: Any, strict_sandbox: Sandbox) -> None:
    _check(case, f"{strict_sandbox.url}/qos-provisioning/v0.3")


@provisioning_0_4.parametrize()
def test_qos_provisioning_0_4_conforms(case: Any, stand_in: Sandbox) -> None:
    _check(case, f"{stand_in.url}/qos-provisioning/v0.4rc1", verify=stand_in.cafile)


# -- the cases an outside run found, by hand ---------------------------------------------------


@pytest.mark.parametrize("name", ["invalid~name", "QS", "x" * 257])
def test_a_malformed_profile_name_is_400_and_an_unknown_one_404(strict_sandbox: Sandbox, name: str) -> None:
    base = f"{strict_sandbox.url}/qos-profiles/v1/qos-profiles"
    malformed = httpx.get(f"{base}/{name}")
    assert malformed.status_code == 400 and malformed.json()["code"] == "INVALID_ARGUMENT", malformed.text
    unknown = httpx.get(f"{base}/QOS_NOPE")
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("path", ["/quality-on-demand/v1", "/qod/v0"])
@pytest.mark.parametrize(
    "device",
    [
        {"ipv6Address": None},
        {"phoneNumber": None, "ipv6Address": "2001:db8::1"},
        {"ipv4Address": {"publicAddress": "203.0.113.1", "privateAddress": None, "publicPort": 5}},
    ],
)
def test_null_is_a_schema_violation_in_every_generation(
    strict_sandbox: Sandbox, path: str, device: dict[str, Any]
) -> None:
    response = httpx.post(f"{strict_sandbox.url}{path}/retrieve-sessions", json={"device": device})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_ARGUMENT" and "must not be null" in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration": "60"}, "duration"),
        ({"duration": True}, "duration"),
        ({"duration": 60.5}, "duration"),
        ({"sink": None}, "sink"),
        ({"sinkCredential": {"credentialType": "ACCESSTOKEN", "accessTokenType": "bearer"}}, "accessToken"),
        ({"sinkCredential": {**CREDENTIAL, "accessTokenExpiresUtc": 5}}, "accessTokenExpiresUtc"),
        ({"device": {"phoneNumber": "36721601234567"}}, "phoneNumber"),  # a '+' is required outside the NaC gateway
    ],
)
def test_what_pydantic_would_coerce_is_refused(strict_sandbox: Sandbox, change: dict[str, Any], field: str) -> None:
    body = {
        "device": {"phoneNumber": "+36721601234567"},
        "applicationServer": {"ipv4Address": "233.252.0.2"},
        "qosProfile": "QOS_L",
        "duration": 60,
        **change,
    }
    response = httpx.post(f"{strict_sandbox.qod_url}/sessions", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]


def test_the_network_as_code_gateway_may_leave_out_the_plus(strict_sandbox: Sandbox) -> None:
    headers = {"X-RapidAPI-Key": "k", "X-RapidAPI-Host": "network-as-code.nokia.rapidapi.com"}
    assert nac_gateway(headers={k.lower(): v for k, v in headers.items()})
    body = {"device": {"phoneNumber": "36721601234599"}}
    response = httpx.post(f"{strict_sandbox.qod_url}/retrieve-sessions", json=body, headers=headers)
    assert response.status_code == 200 and response.json() == []


def test_the_packaged_contract_is_camaras_unmodified() -> None:
    if not SHARED.exists():
        pytest.skip("needs ../shared/contract/ beside the checkout: see docs/testing.md, 'Tests that need ../shared'")
    for name in (
        "quality-on-demand.yaml",
        "qos-profiles.yaml",
        "r4.1/quality-on-demand.yaml",
        "r4.1/qos-profiles.yaml",
        "r4.1/qos-provisioning.yaml",
    ):
        assert (CONTRACT / name).read_bytes() == (SHARED / name).read_bytes(), name
    assert (CONTRACT / "qos-provisioning-0.3.yaml").read_bytes() == (
        SHARED / "r3.2" / "qos-provisioning.yaml"
    ).read_bytes()


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 100_000)
    | st.sampled_from(
        [
            "",
            "x",
            "QOS_L",
            "ACCESSTOKEN",
            "bearer",
            "PLAIN",
            "REFRESHTOKEN",
            "+36700000001",
            "233.252.0.2",
            "2099-01-01T00:00:00Z",
            "2099-01-01T00:00:00",
            "2099-02-30T00:00:00Z",
            "https://a.example/n",
            "https://a b",
            "::1",
            "01.2.3.4",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["credentialType", "accessToken", "identifier", "secret", "phoneNumber", "ipv4Address", "publicAddress"]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=6,
)
_VALID = {
    "device": {"phoneNumber": "+36700000001"},
    "applicationServer": {"ipv4Address": "233.252.0.2"},
    "qosProfile": "QOS_L",
    "duration": 3600,
    "sink": "https://a.example/n",
    "sinkCredential": {**CREDENTIAL, "accessTokenExpiresUtc": "2099-01-01T00:00:00Z"},
}


def _mutate(body: Any, path: list[Any], value: Any, delete: bool) -> Any:
    """`body` with the node at `path` (as far as it exists) replaced by `value`, or removed."""
    if not path or not isinstance(body, dict):
        return value
    key = path[0] if path[0] in body else sorted(body)[hash(str(path[0])) % len(body)] if body else path[0]
    copy = dict(body)
    if delete and len(path) == 1:
        copy.pop(key, None)
    else:
        copy[key] = _mutate(body.get(key), path[1:], value, delete)
    return copy


@settings(max_examples=400, deadline=None)
@given(
    path=st.lists(
        st.sampled_from([*_VALID, *CREDENTIAL, "accessTokenExpiresUtc", "phoneNumber", "ipv4Address"]),
        min_size=1,
        max_size=3,
    ),
    value=_JSON,
    delete=st.booleans(),
)
def test_the_fast_validator_agrees_with_the_reference(path: list[str], value: Any, delete: bool) -> None:
    from qodlab.sandbox.contract import _fast
    from qodlab.sandbox.contract.wording import _validator

    body = _mutate(_VALID, path, value, delete)
    assert _fast("quality-on-demand.yaml", "CreateSession").is_valid(body) == (
        not list(_validator("quality-on-demand.yaml", "CreateSession").iter_errors(body))
    )


@pytest.mark.parametrize(
    "credential",
    [
        {"credentialType": "ACCESSTOKEN"},
        {"credentialType": "PLAIN", "identifier": "a"},
        {"credentialType": "REFRESHTOKEN", **CREDENTIAL},
    ],
)
def test_the_fast_validator_knows_the_discriminator(credential: dict[str, Any]) -> None:
    from qodlab.sandbox.contract import _fast

    assert _fast("quality-on-demand.yaml", "CreateSession").is_valid(_VALID)
    assert not _fast("quality-on-demand.yaml", "CreateSession").is_valid({**_VALID, "sinkCredential": credential})


def test_a_snake_case_sink_credential_is_refused_with_the_reason(strict_sandbox: Sandbox) -> None:
    body = {
        "device": {"phoneNumber": "+36721601234567"},
        "applicationServer": {"ipv4Address": "233.252.0.2"},
        "qosProfile": "QOS_L",
        "duration": 60,
        "sink": "https://example.com/hook",
        "sinkCredential": {
            "access_token": "t",
            "access_token_expires_utc": "2099-01-01T00:00:00Z",
            "access_token_type": "bearer",
        },
    }
    refused = httpx.post(f"{strict_sandbox.qod_url}/sessions", json=body)
    assert refused.status_code == 400 and refused.json()["code"] == "INVALID_ARGUMENT"
    assert "camelCase" in refused.json()["message"] and "access_token," in refused.json()["message"]
