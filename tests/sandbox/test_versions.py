"""QoD and QoS Profiles 1.2.0-rc.3 beside 1.1.0 on one engine: CAMARA r4.1's test definitions, over HTTP.

The scenarios follow `code/Test_definitions/quality-on-demand-*.feature` and
`qos-profiles-*.feature` at tag r4.1 of camaraproject/QualityOnDemand (their tags in comments).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qodlab import InvalidRequest, QodClient, Sandbox
from qodlab.client.auth import Ciba

QOD = "/quality-on-demand/v1rc3"
PROFILES = "/qos-profiles/v1rc3"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(speed=60, reuse=False) as running:
        yield running


def _body(phone: str, **changes: Any) -> dict[str, Any]:
    body = {
        "device": {"phoneNumber": phone},
        "applicationServer": {"ipAddresses": ["233.252.0.2"]},
        "qosProfile": "QOS_L",
        "duration": 600,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _phone() -> str:
    return f"+3672{uuid.uuid4().int % 10**9:09d}"


def _code(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"].startswith("application/json")
    return response.status_code, response.json()["code"]


@pytest.mark.parametrize(
    ("why", "server"),
    [
        ("a subnet in the list (400.12)", {"ipAddresses": ["233.252.0.0/24"]}),
        ("an empty list (400.13)", {"ipAddresses": []}),
        ("a list too large (400.14)", {"ipAddresses": [f"233.252.0.{i}" for i in range(17)]}),
        ("duplicates (400.15)", {"ipAddresses": ["233.252.0.2", "233.252.0.2"]}),
        ("an invalid value (400.16)", {"ipAddresses": ["not-an-address"]}),
        ("both shapes (400.11)", {"ipAddresses": ["233.252.0.2"], "ipv4Address": "233.252.0.2"}),
    ],
)
def test_application_server_shapes_are_exclusive_and_checked(sandbox: Sandbox, why: str, server: Any) -> None:
    refused = httpx.post(f"{sandbox.url}{QOD}/sessions", json=_body(_phone(), applicationServer=server))
    assert _code(refused) == (400, "INVALID_ARGUMENT"), why


def test_a_list_or_a_subnet_creates_and_reads_through_either_version(sandbox: Sandbox) -> None:
    listed = httpx.post(
        f"{sandbox.url}{QOD}/sessions",
        json=_body(_phone(), applicationServer={"ipAddresses": ["233.252.0.2", "2001:db8::1", "233.252.0.9"]}),
    )
    assert listed.status_code == 201, listed.text
    session_id = listed.json()["sessionId"]
    assert listed.json()["applicationServer"] == {"ipAddresses": ["233.252.0.2", "2001:db8::1", "233.252.0.9"]}
    as_v1 = httpx.get(f"{sandbox.url}/quality-on-demand/v1/sessions/{session_id}").json()
    assert as_v1["applicationServer"] == {"ipv4Address": "233.252.0.2", "ipv6Address": "2001:db8::1"}
    subnet = httpx.post(
        f"{sandbox.url}/quality-on-demand/v1/sessions",
        json=_body(_phone(), applicationServer={"ipv4Address": "198.51.100.0/24"}),
    )
    as_rc3 = httpx.get(f"{sandbox.url}{QOD}/sessions/{subnet.json()['sessionId']}").json()
    assert as_rc3["applicationServer"] == {"ipv4Address": "198.51.100.0/24"}  # 201 (createSession 200.3)


def test_request_bodies_are_strict_at_any_level(sandbox: Sandbox) -> None:
    for body in (
        _body(_phone(), unknown=1),
        _body(_phone(), device={"phoneNumber": _phone(), "imsi": "1"}),
        _body(_phone(), devicePorts={"ports": [80], "protocol": "tcp"}),
    ):
        assert _code(httpx.post(f"{sandbox.url}{QOD}/sessions", json=body)) == (400, "INVALID_ARGUMENT")
    assert (
        httpx.post(
            f"{sandbox.url}/quality-on-demand/v1/sessions",
            json=_body(_phone(), applicationServer={"ipv4Address": "233.252.0.2"}, unknown=1),
        ).status_code
        == 201
    )  # 1.1: lenient
    extend = httpx.post(
        f"{sandbox.url}{QOD}/sessions/{uuid.uuid4()}/extend", json={"requestedAdditionalDuration": 60, "extra": True}
    )
    assert _code(extend) == (400, "INVALID_ARGUMENT")
    profiles = httpx.post(f"{sandbox.url}{PROFILES}/retrieve-qos-profiles", json={"name": "QOS_L", "x": 1})
    assert _code(profiles) == (400, "INVALID_ARGUMENT")


def test_the_new_limits_and_codes(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}{QOD}/sessions"
    assert _code(httpx.post(url, json=_body(_phone(), devicePorts={"ports": [0]}))) == (400, "INVALID_ARGUMENT")
    assert _code(httpx.post(url, json=_body(_phone(), duration=10**6))) == (400, "INVALID_ARGUMENT")  # 400.9
    for kind in ("PLAIN", "REFRESHTOKEN"):  # 400.6
        credential = {"credentialType": kind, "accessToken": "t"}
        body = _body(_phone(), sink="https://sink.example/q", sinkCredential=credential)
        assert _code(httpx.post(url, json=body)) == (400, "INVALID_ARGUMENT")
    assert _code(httpx.post(url, json=_body(_phone(), qosProfile="QOS_NOPE"))) == (400, "INVALID_ARGUMENT")  # 400.8
    assert _code(httpx.post(url, json={})) == (400, "INVALID_ARGUMENT")  # 400.3
    assert _code(httpx.post(url, content=b"", headers={"content-type": "application/json"})) == (
        400,
        "INVALID_ARGUMENT",
    )
    assert _code(httpx.get(f"{url}/not-a-uuid")) == (400, "INVALID_ARGUMENT")
    assert _code(httpx.delete(f"{url}/not-a-uuid")) == (400, "INVALID_ARGUMENT")
    assert _code(httpx.get(f"{url}/{uuid.uuid4()}")) == (404, "NOT_FOUND")


def test_the_x_correlator(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}{QOD}/sessions"
    refused = httpx.post(url, json=_body(_phone()), headers={"x-correlator": "no spaces allowed"})
    assert _code(refused) == (400, "INVALID_ARGUMENT")
    echoed = httpx.post(url, json=_body(_phone()), headers={"x-correlator": "b4333c46-49c0:4f62"})
    assert echoed.status_code == 201 and echoed.headers["x-correlator"] == "b4333c46-49c0:4f62"


def test_create_answers_unavailable_at_once_when_the_network_knows(sandbox: Sandbox) -> None:
    sandbox.fail_at_creation(2)
    for base in (QOD, "/quality-on-demand/v1"):
        body = _body(_phone()) if base == QOD else _body(_phone(), applicationServer={"ipv4Address": "233.252.0.2"})
        created = httpx.post(f"{sandbox.url}{base}/sessions", json=body)
        assert created.status_code == 201
        assert (created.json()["qosStatus"], created.json()["statusInfo"]) == ("UNAVAILABLE", "NETWORK_TERMINATED")


UNKNOWN = "3fa85f64-5717-4562-b3fc-2c963f66afa6"  # a fixed id: parallel workers must collect the same tests


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{QOD}/sessions", "create"),
        ("GET", f"{QOD}/sessions/{UNKNOWN}", None),
        ("DELETE", f"{QOD}/sessions/{UNKNOWN}", None),
        ("POST", f"{QOD}/sessions/{UNKNOWN}/extend", {"requestedAdditionalDuration": 60}),
        ("POST", f"{QOD}/retrieve-sessions", {"device": {"phoneNumber": "+36721601234567"}}),
        ("POST", f"{PROFILES}/retrieve-qos-profiles", {}),
        ("GET", f"{PROFILES}/qos-profiles/QOS_L", None),
    ],
)
def test_every_operation_answers_429_with_the_1_2_body(sandbox: Sandbox, method: str, path: str, body: Any) -> None:
    sandbox.fail_api_calls(1, 429, retry_after=1)
    payload = _body(_phone()) if body == "create" else body
    answer = httpx.request(method, f"{sandbox.url}{path}", json=payload)
    assert _code(answer) == (429, "TOO_MANY_REQUESTS") and answer.headers["retry-after"] == "1"


def test_profiles_1_2(sandbox: Sandbox) -> None:
    found = httpx.post(f"{sandbox.url}{PROFILES}/retrieve-qos-profiles", json={"status": "ACTIVE"})
    assert found.status_code == 200 and {p["name"] for p in found.json()} >= {"QOS_E", "QOS_L"}
    assert httpx.get(f"{sandbox.url}{PROFILES}/qos-profiles/QOS_M").json()["name"] == "QOS_M"
    assert _code(httpx.get(f"{sandbox.url}{PROFILES}/qos-profiles/QOS_NOPE")) == (404, "NOT_FOUND")
    assert _code(httpx.get(f"{sandbox.url}{PROFILES}/qos-profiles/bad~name")) == (400, "INVALID_ARGUMENT")


def test_the_client_speaks_1_2_with_an_address_list(sandbox: Sandbox) -> None:
    with QodClient(sandbox.url, release="1.2.0-rc.3") as client:
        assert client.qod_url == f"{sandbox.url}{QOD}" and client.profiles_url == f"{sandbox.url}{PROFILES}"
        session = client.create_session(
            device={"phoneNumber": _phone()},
            application_server=["233.252.0.2", "2001:db8::5"],
            qos_profile="QOS_M",
            duration=600,
        )
        assert session.application_server is not None
        assert session.application_server.ip_addresses == ["233.252.0.2", "2001:db8::5"]
        assert [s.session_id for s in client.retrieve_sessions(session.device)] == [session.session_id]  # type: ignore[arg-type]
        assert {p.name for p in client.list_profiles()} >= {"QOS_M"}
        session.delete()


def test_a_1_1_client_given_an_address_list_says_which_release_takes_one(sandbox: Sandbox) -> None:
    phone = _phone()
    with QodClient(sandbox.url) as client, pytest.raises(InvalidRequest, match=r"QoD 1\.2's") as refused:
        client.create_session(
            device={"phoneNumber": phone}, application_server=["233.252.0.2"], qos_profile="QOS_M", duration=60
        )
    assert refused.value.field == "application_server" and 'release="1.2.0-rc.3"' in str(refused.value)
    assert client.release.name == "1.1.0" and "speaks 1.1.0" in str(refused.value)
    assert not [s for s in sandbox.engine.sessions() if ("phoneNumber", phone) in s.device_keys]  # nothing sent


def test_1_1_refuses_an_address_list_it_does_not_know(sandbox: Sandbox) -> None:
    """1.1.0's ApplicationServer has ipv4Address and ipv6Address only: a list is no address it reads."""
    phone = _phone()
    body = {**_body(phone), "applicationServer": {"ipAddresses": ["233.252.0.2", "2001:db8::5"]}}
    refused = httpx.post(f"{sandbox.url}/quality-on-demand/v1/sessions", json=body)
    assert _code(refused) == (400, "INVALID_ARGUMENT") and "ipAddresses is QoD 1.2's" in refused.json()["message"]
    assert not [s for s in sandbox.engine.sessions() if ("phoneNumber", phone) in s.device_keys]
    assert httpx.post(f"{sandbox.url}{QOD}/sessions", json=body).status_code == 201  # 1.2.0-rc.3 takes it


def test_with_access_tokens_the_1_2_routes_follow_camara() -> None:
    with Sandbox(auth="oidc", speed=60, reuse=False) as oidc:
        url = f"{oidc.url}{QOD}/sessions"
        assert _code(httpx.post(url, json=_body(_phone()))) == (401, "UNAUTHENTICATED")  # 401.1
        scopeless = oidc.provider.mint("someone", [])  # type: ignore[union-attr]
        refused = httpx.post(url, json=_body(_phone()), headers={"authorization": f"Bearer {scopeless}"})
        assert _code(refused) == (403, "PERMISSION_DENIED")  # 403.1
        app = oidc.oauth_client()
        auth = Ciba(
            issuer=oidc.issuer, client_id=app.client_id, client_secret=app.secret, login_hint="tel:+36721601239999"
        )
        with httpx.Client(auth=auth) as http:
            body = _body("+36721601239999")
            assert _code(http.post(url, json=body)) == (422, "UNNECESSARY_IDENTIFIER")  # 422.2
            created = http.post(url, json={k: v for k, v in body.items() if k != "device"})
            assert created.status_code == 201 and "device" not in created.json()  # 201.3
