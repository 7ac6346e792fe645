"""The devices real networks have, and CAMARA's three-legged rules, against `qodlab sandbox --auth oidc`.

One sandbox process for the module, as a user starts it: `--auth oidc` (every call needs a signed
token) and `--unsupported-identifier networkAccessIdentifier`. Two-legged calls use the client it
prints; three-legged ones get a CIBA token for a device, through qodlab's own auth flows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qodlab import QodClient, Sandbox
from qodlab.client.auth import PROVISIONING_SCOPES, QOD_SCOPES, Ciba, ClientCredentials
from qodlab.sandbox.devices import CATALOGUE, Behaviour

from ..conftest import end_process, qodlab_process, wait_until

PROFILES = "/qos-profiles/v1/retrieve-qos-profiles"
SESSIONS = "/quality-on-demand/v1/sessions"
APP = {"ipv4Address": "233.252.0.2"}
SCOPES = QOD_SCOPES + PROVISIONING_SCOPES


def _number(behaviour: Behaviour) -> str:
    return next(str(d.device["phoneNumber"]) for d in CATALOGUE if d.behaviour is behaviour)


@pytest.fixture(scope="module")
def oidc_sandbox() -> Iterator[tuple[str, str, str]]:
    """(root URL, client id, secret) of `qodlab sandbox --auth oidc --unsupported-identifier ...`."""
    process, first = qodlab_process(
        "sandbox", "--auth", "oidc", "--speed", "60", "--unsupported-identifier", "networkAccessIdentifier"
    )
    try:
        assert process.stdout is not None and "serving" in first, first
        root = first.split()[3]
        line = next(line for line in (process.stdout.readline() for _ in range(12)) if "an OAuth client" in line)
        words = line.split()
        yield root, words[words.index("id") + 1].rstrip(","), words[-1]
    finally:
        end_process(process)


def _http(oidc_sandbox: tuple[str, str, str], login_hint: str | None = None) -> httpx.Client:
    root, client_id, secret = oidc_sandbox
    flow: httpx.Auth
    if login_hint is None:
        flow = ClientCredentials(issuer=root, client_id=client_id, client_secret=secret, scopes=SCOPES)
    else:
        flow = Ciba(issuer=root, client_id=client_id, client_secret=secret, login_hint=login_hint, scopes=SCOPES)
    return httpx.Client(base_url=root, auth=flow, timeout=10)


def _create(http: httpx.Client, device: dict[str, Any] | None, profile: str = "QOS_L") -> httpx.Response:
    body: dict[str, Any] = {"applicationServer": APP, "qosProfile": profile, "duration": 600}  # 10 real s at 60x
    if device is not None:
        body["device"] = device
    return http.post(SESSIONS, json=body)


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_the_test_devices_are_listed_as_specified(oidc_sandbox: tuple[str, str, str]) -> None:
    listed = httpx.get(f"{oidc_sandbox[0]}/_sandbox/test-devices").json()
    behaviours = [entry["behaviour"] for entry in listed]
    assert behaviours[:4] == ["not_found", "not_applicable", "restricted", "no_profiles"]
    assert {"provisioning_fails", "slow_provisioning"} <= set(behaviours)
    for entry in listed:
        assert set(entry) == {"device", "behaviour", "description"} | ({"profiles"} if "profiles" in entry else set())
        assert entry["device"]["phoneNumber"].startswith("+999") and entry["description"]
    restricted = next(e for e in listed if e["behaviour"] == "restricted")
    assert restricted["profiles"] == ["QOS_CRITICAL"]  # the profiles restricted to it, in CAMARA's sense
    assert "only device that may use QOS_CRITICAL" in restricted["description"]
    assert "QOS_PROVISIONING.QOS_PROFILE_NOT_APPLICABLE" in restricted["description"]


def test_an_unknown_device_is_404_identifier_not_found(oidc_sandbox: tuple[str, str, str]) -> None:
    device = {"phoneNumber": _number(Behaviour.NOT_FOUND)}
    with _http(oidc_sandbox) as http:
        assert _code(_create(http, device)) == (404, "IDENTIFIER_NOT_FOUND")
        assert _code(http.post("/quality-on-demand/v1/retrieve-sessions", json={"device": device})) == (
            404,
            "IDENTIFIER_NOT_FOUND",
        )
        assert _code(http.post(PROFILES, json={"device": device})) == (404, "IDENTIFIER_NOT_FOUND")


def test_a_device_the_service_does_not_apply_to_is_422(oidc_sandbox: tuple[str, str, str]) -> None:
    device = {"phoneNumber": _number(Behaviour.NOT_APPLICABLE)}
    with _http(oidc_sandbox) as http:
        assert _code(_create(http, device)) == (422, "SERVICE_NOT_APPLICABLE")
        assert _code(http.post(PROFILES, json={"device": device})) == (422, "SERVICE_NOT_APPLICABLE")


def test_a_profile_restricted_to_certain_devices_is_listed_for_them_only(oidc_sandbox: tuple[str, str, str]) -> None:
    """retrieveQoSProfiles 04 (listed for a device suitable for it) and 05 (absent without a device), r3.2 and r4.1;
    another device may neither list it nor use it (createSession 422.1, createQosAssignment 422.1)."""
    device = {"phoneNumber": _number(Behaviour.RESTRICTED)}
    other = {"phoneNumber": "+36721601234010"}
    with _http(oidc_sandbox) as http:
        for profiles in (PROFILES, "/qos-profiles/v1rc3/retrieve-qos-profiles"):
            for_it = [p["name"] for p in http.post(profiles, json={"device": device}).json()]
            assert "QOS_CRITICAL" in for_it and {"QOS_E", "QOS_L"} <= set(for_it)  # 04; the rest as usual
            everyone = [p["name"] for p in http.post(profiles, json={}).json()]
            assert "QOS_CRITICAL" not in everyone and "QOS_L" in everyone  # 05
            assert "QOS_CRITICAL" not in [p["name"] for p in http.post(profiles, json={"device": other}).json()]
            assert http.post(profiles, json={"name": "QOS_CRITICAL"}).json() == []
        assert http.get("/qos-profiles/v1/qos-profiles/QOS_CRITICAL").json()["name"] == "QOS_CRITICAL"  # it exists
        for sessions in (SESSIONS, "/quality-on-demand/v1rc3/sessions"):
            body = {"device": other, "applicationServer": APP, "qosProfile": "QOS_CRITICAL", "duration": 60}
            refused = http.post(sessions, json=body)
            assert _code(refused) == (422, "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE")
            assert http.post(sessions.replace("/sessions", "/retrieve-sessions"), json={"device": other}).json() == []
        for provisioning in ("/qos-provisioning/v0.3", "/qos-provisioning/v0.4rc1"):
            refused = http.post(f"{provisioning}/qos-assignments", json={"device": other, "qosProfile": "QOS_CRITICAL"})
            assert _code(refused) == (422, "QOS_PROVISIONING.QOS_PROFILE_NOT_APPLICABLE")
            assert refused.json()["status"] == 422 and "QOS_CRITICAL" in refused.json()["message"]
            assert http.post(f"{provisioning}/retrieve-qos-assignment", json={"device": other}).status_code == 404
        created = _create(http, device, "QOS_CRITICAL")
        assert created.status_code == 201, created.text
        assert http.delete(f"{SESSIONS}/{created.json()['sessionId']}").status_code == 204
        provisioning = "/qos-provisioning/v0.4rc1/qos-assignments"
        assigned = http.post(provisioning, json={"device": device, "qosProfile": "QOS_CRITICAL"})
        assert assigned.status_code == 201, assigned.text
        assert http.delete(f"{provisioning}/{assigned.json()['assignmentId']}").status_code in (202, 204)


def test_a_device_with_no_profile_gets_an_empty_list(oidc_sandbox: tuple[str, str, str]) -> None:
    device = {"phoneNumber": _number(Behaviour.NO_PROFILES)}
    with _http(oidc_sandbox) as http:
        answer = http.post(PROFILES, json={"device": device})
        assert answer.status_code == 200 and answer.json() == []
        assert _code(_create(http, device, "QOS_E")) == (422, "QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE")


def test_an_unsupported_identifier_type_alone_is_422(oidc_sandbox: tuple[str, str, str]) -> None:
    nai = {"networkAccessIdentifier": "camera@example.net"}
    with _http(oidc_sandbox) as http:
        assert _code(_create(http, nai)) == (422, "UNSUPPORTED_IDENTIFIER")
        assert _code(http.post("/quality-on-demand/v1/retrieve-sessions", json={"device": nai})) == (
            422,
            "UNSUPPORTED_IDENTIFIER",
        )
        assert _code(http.post(PROFILES, json={"device": nai})) == (422, "UNSUPPORTED_IDENTIFIER")
        both = _create(http, {**nai, "phoneNumber": "+36721601234001"})  # a supported one beside it: fine
        assert both.status_code == 201, both.text
        http.delete(f"{SESSIONS}/{both.json()['sessionId']}")


def test_three_legged_profiles_and_sessions_follow_camara(oidc_sandbox: tuple[str, str, str]) -> None:
    restricted = _number(Behaviour.RESTRICTED)
    with _http(oidc_sandbox, login_hint=f"tel:{restricted}") as http:
        unnecessary = http.post(PROFILES, json={"device": {"phoneNumber": restricted}})
        assert _code(unnecessary) == (422, "UNNECESSARY_IDENTIFIER")
        listed = [p["name"] for p in http.post(PROFILES, json={}).json()]
        assert "QOS_CRITICAL" in listed  # the token's device: retrieveQoSProfiles 04, identified by the token
        created = _create(http, None, "QOS_CRITICAL")
        assert created.status_code == 201, created.text
        session_id = created.json()["sessionId"]
        assert "device" not in created.json()  # the request did not carry it
        assert "device" not in http.get(f"{SESSIONS}/{session_id}").json()
        wait_until(lambda: http.get(f"{SESSIONS}/{session_id}").json()["qosStatus"] == "AVAILABLE")
        extended = http.post(f"{SESSIONS}/{session_id}/extend", json={"requestedAdditionalDuration": 60})
        assert extended.status_code == 200 and "device" not in extended.json()
        listed = http.post("/quality-on-demand/v1/retrieve-sessions", json={}).json()
        assert [s["sessionId"] for s in listed] == [session_id] and "device" not in listed[0]
        assert http.delete(f"{SESSIONS}/{session_id}").status_code == 204


def test_a_two_legged_session_still_echoes_its_device(oidc_sandbox: tuple[str, str, str]) -> None:
    with _http(oidc_sandbox) as http:
        created = _create(http, {"phoneNumber": "+36721601234002"})
        assert created.json()["device"] == {"phoneNumber": "+36721601234002"}
        http.delete(f"{SESSIONS}/{created.json()['sessionId']}")


def test_provisioning_that_fails_and_provisioning_that_is_slow() -> None:
    with Sandbox(speed=1, provisioning_delay=1, reuse=False) as sandbox, sandbox.client() as client:
        failing = client.create_session(
            device={"phoneNumber": _number(Behaviour.PROVISIONING_FAILS)},
            application_server="233.252.0.2",
            qos_profile="QOS_L",
            duration=60,
        )
        slow = client.create_session(
            device={"phoneNumber": _number(Behaviour.SLOW_PROVISIONING)},
            application_server="233.252.0.2",
            qos_profile="QOS_L",
            duration=60,
        )
        sandbox.advance(1)
        assert (failing.refresh().qos_status, failing.status_info) == ("UNAVAILABLE", "NETWORK_TERMINATED")
        assert slow.refresh().qos_status == "REQUESTED"  # an ordinary device is AVAILABLE after 1 s
        sandbox.advance(29)
        assert slow.refresh().qos_status == "AVAILABLE"
        frame = sandbox.test_devices()
        assert list(frame.columns) == ["device", "behaviour", "profiles", "description"] and len(frame) == 6


def test_an_oidc_sandbox_client_needs_no_setup() -> None:
    with Sandbox(auth="oidc", reuse=False) as sandbox:
        with sandbox.client() as client:
            session = client.create_session(
                device={"phoneNumber": "+36721601234003"},
                application_server="233.252.0.2",
                qos_profile="QOS_L",
                duration=60,
            )
            assert "client credentials" in client.authentication
            session.delete()

        async def async_flow() -> int:
            async with sandbox.async_client() as aclient:
                return len(await aclient.list_profiles())

        import asyncio

        assert asyncio.run(async_flow()) > 0


def test_the_gateway_refuses_like_rapidapi() -> None:
    with Sandbox(reuse=False) as sandbox:
        url = f"{sandbox.url}/quality-on-demand/v1/retrieve-sessions"
        body = {"device": {"phoneNumber": "+36721601234567"}}
        wrong = httpx.post(url, json=body, headers={"X-RapidAPI-Key": "k", "X-RapidAPI-Host": "example.p.rapidapi.com"})
        assert wrong.status_code == 404 and wrong.json()["message"] == "API doesn't exists"
        gateway = {"X-RapidAPI-Host": "network-as-code.p-eu.rapidapi.com", "X-RapidAPI-Key": "k"}
        assert httpx.post(url, json=body, headers=gateway).status_code == 404  # the gateway's own host is no API's
        keyless = httpx.post(url, json=body, headers={"X-RapidAPI-Host": "network-as-code.nokia.rapidapi.com"})
        assert keyless.status_code == 401 and keyless.json()["message"].startswith("Missing RapidAPI application key")
        right = {"X-RapidAPI-Host": "network-as-code.nokia.rapidapi.com", "X-RapidAPI-Key": "k"}
        assert httpx.post(url, json=body, headers=right).json() == []
        itself = {"X-RapidAPI-Host": sandbox.url, "X-RapidAPI-Key": "k"}  # what SDK 3.x derives from its base URL
        assert httpx.post(url, json=body, headers=itself).json() == []
        with QodClient.network_as_code("k", base_url=sandbox.url) as client:
            assert client.retrieve_sessions({"phoneNumber": "+36721601234567"}) == []
