"""CAMARA authentication over real HTTP: the sandbox as an OpenID provider, and the client's flows."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qodlab import AsyncQodClient, AuthError, QodClient, QosStatus, Sandbox
from qodlab.client.auth import PROVISIONING_SCOPES, QOD_SCOPES, Ciba, ClientCredentials
from qodlab.sandbox.oidc import SCOPES, OAuthClient

PHONE = "+36721601234567"
OTHER = "+36721601234599"
ALL_SCOPES = QOD_SCOPES + PROVISIONING_SCOPES
BODY: dict[str, Any] = {"applicationServer": {"ipv4Address": "233.252.0.2"}, "qosProfile": "QOS_L", "duration": 600}


@pytest.fixture
def provider() -> Iterator[Sandbox]:
    with Sandbox(auth="oidc", speed=60, provisioning_delay=0, reuse=False) as sandbox:
        yield sandbox


@pytest.fixture
def app(provider: Sandbox) -> OAuthClient:
    return provider.oauth_client()


def _token(sandbox: Sandbox, **mint: Any) -> dict[str, str]:
    response = httpx.post(f"{sandbox.url}/_sandbox/tokens", json=mint)
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def _camara(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and response.json()["status"] == status


# -- the client's flows ----------------------------------------------------------------------------


def test_client_credentials_through_discovery(provider: Sandbox, app: OAuthClient) -> None:
    auth = ClientCredentials(issuer=provider.issuer, client_id=app.client_id, client_secret=app.secret)
    with QodClient(provider.url, auth=auth) as client:
        session = client.create_session(
            device={"phoneNumber": PHONE}, application_server="233.252.0.2", qos_profile="QOS_L", duration=600
        )
        assert session.qos_status is QosStatus.AVAILABLE and session.device is not None
        assert [s.session_id for s in client.retrieve_sessions({"phoneNumber": PHONE})] == [session.session_id]
    assert auth.describe().startswith("client credentials, token valid for")


def test_a_token_that_expires_during_a_sessions_life_is_renewed() -> None:
    with Sandbox(auth="oidc", speed=60, provisioning_delay=0, token_ttl=120, reuse=False) as short:
        app = short.oauth_client()
        auth = ClientCredentials(
            token_url=f"{short.url}/oauth2/token", client_id=app.client_id, client_secret=app.secret
        )
        with QodClient(short.url, auth=auth) as client:
            session = client.create_session(
                device={"phoneNumber": PHONE}, application_server="233.252.0.2", qos_profile="QOS_L", duration=6000
            )
            first, expiry = auth._token, auth.expires_at
            assert first is not None and expiry is not None
            deadline = time.monotonic() + 10
            while time.time() < expiry and time.monotonic() < deadline:  # 120 sandbox s: about 2 real s
                time.sleep(0.05)
            assert client.get_session(session.session_id).qos_status is QosStatus.AVAILABLE  # a new token, same session
            assert auth._token is not None and auth._token["access_token"] != first["access_token"]


def test_ciba_names_the_device_and_the_client_leaves_it_out(provider: Sandbox, app: OAuthClient) -> None:
    auth = Ciba(issuer=provider.issuer, client_id=app.client_id, client_secret=app.secret, login_hint=f"tel:{OTHER}")
    with QodClient(provider.url, auth=auth) as client:
        assert client.three_legged
        session = client.create_session(application_server="233.252.0.2", qos_profile="QOS_L", duration=600)
        assert session.device is None  # CAMARA: `device` only when the request carried it
        assert [s.session_id for s in client.retrieve_sessions()] == [session.session_id]
        with pytest.raises(ValueError, match="leave `device` out"):
            client.create_session(
                device={"phoneNumber": OTHER}, application_server="233.252.0.2", qos_profile="QOS_L", duration=600
            )
    assert auth.describe().startswith("CIBA for +3672…599")


def test_the_async_client_uses_the_same_flows(provider: Sandbox, app: OAuthClient) -> None:
    auth = ClientCredentials(issuer=provider.issuer, client_id=app.client_id, client_secret=app.secret)

    async def profiles() -> list[str]:
        async with AsyncQodClient(provider.url, auth=auth) as client:
            return [p.name for p in await client.list_profiles()]

    assert "QOS_L" in asyncio.run(profiles())


def test_a_wrong_secret_is_an_auth_error_that_names_no_secret(
    provider: Sandbox, app: OAuthClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = ClientCredentials(issuer=provider.issuer, client_id=app.client_id, client_secret="not-the-secret")
    with QodClient(provider.url, auth=auth) as client, pytest.raises(AuthError) as refused:
        client.list_profiles()
    assert refused.value.error == "invalid_client"
    right = ClientCredentials(issuer=provider.issuer, client_id=app.client_id, client_secret=app.secret)
    with QodClient(provider.url, auth=right) as client:
        client.list_profiles()
        shown = [repr(right), repr(client), str(refused.value), repr(app), caplog.text]
    for secret in (app.secret, "not-the-secret", right._token["access_token"]):  # type: ignore[index]
        assert all(secret not in text for text in shown)


# -- the sandbox's enforcement ---------------------------------------------------------------------


def test_every_enforcement_rule(provider: Sandbox) -> None:
    q = provider.qod_url
    two_legged = _token(provider, client="app-1")
    created = httpx.post(f"{q}/sessions", json={**BODY, "device": {"phoneNumber": PHONE}}, headers=two_legged)
    assert created.status_code == 201, created.text
    session = f"{q}/sessions/{created.json()['sessionId']}"
    with Sandbox(auth="oidc", reuse=False) as stranger:
        foreign = _token(stranger, client="app-1")  # well formed, but signed by another key
    _camara(httpx.get(session), 401, "UNAUTHENTICATED")
    _camara(httpx.get(session, headers={"authorization": "Bearer not.a.jwt"}), 401, "UNAUTHENTICATED")
    _camara(httpx.get(session, headers=foreign), 401, "UNAUTHENTICATED")
    _camara(httpx.get(session, headers=_token(provider, client="app-1", expires_in=-1)), 401, "UNAUTHENTICATED")
    _camara(httpx.get(session, headers=_token(provider, client="app-1", scopes=[])), 403, "PERMISSION_DENIED")
    reader = _token(provider, client="app-1", scopes=["quality-on-demand:sessions:read"])
    assert httpx.get(session, headers=reader).status_code == 200
    _camara(httpx.delete(session, headers=reader), 403, "PERMISSION_DENIED")  # no delete scope
    _camara(httpx.get(session, headers=_token(provider, client="app-2")), 403, "PERMISSION_DENIED")  # not its session
    _camara(httpx.post(f"{q}/sessions", json=BODY, headers=two_legged), 422, "MISSING_IDENTIFIER")
    three_legged = _token(provider, client="app-1", device={"phoneNumber": OTHER})
    _camara(
        httpx.post(f"{q}/sessions", json={**BODY, "device": {"phoneNumber": OTHER}}, headers=three_legged),
        422,
        "UNNECESSARY_IDENTIFIER",
    )
    _camara(httpx.get(session, headers=three_legged), 403, "PERMISSION_DENIED")  # device A's token, device B's session
    assert httpx.delete(session, headers=two_legged).status_code == 204


def test_the_provider_speaks_oauth(provider: Sandbox, app: OAuthClient) -> None:
    metadata = httpx.get(f"{provider.issuer}/.well-known/openid-configuration").json()
    assert metadata["token_endpoint"] == f"{provider.url}/oauth2/token"
    assert "urn:openid:params:grant-type:ciba" in metadata["grant_types_supported"]
    assert httpx.get(metadata["jwks_uri"]).json()["keys"][0]["kty"] == "RSA"
    token = metadata["token_endpoint"]
    wrong = httpx.post(token, data={"grant_type": "client_credentials"}, auth=(app.client_id, "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    odd = httpx.post(token, data={"grant_type": "password"}, auth=(app.client_id, app.secret))
    assert odd.status_code == 400 and odd.json()["error"] == "unsupported_grant_type"
    scoped = httpx.post(
        token, data={"grant_type": "client_credentials", "scope": "nope"}, auth=(app.client_id, app.secret)
    )
    assert scoped.json()["error"] == "invalid_scope"
    hint = httpx.post(
        metadata["backchannel_authentication_endpoint"],
        data={"login_hint": "someone"},
        auth=(app.client_id, app.secret),
    )
    assert hint.status_code == 400 and hint.json()["error"] == "invalid_request"
    assert app.secret not in repr(app)


# -- the dashboard -----------------------------------------------------------------------------------


def test_the_dashboard_says_how_it_authenticates_and_asks_no_device_of_a_three_legged_token(
    provider: Sandbox, app: OAuthClient
) -> None:
    from qodlab import EventLog, Listener, Workbench
    from qodlab.widgets import Dashboard

    auth = Ciba(issuer=provider.issuer, client_id=app.client_id, client_secret=app.secret, login_hint=f"tel:{OTHER}")
    with QodClient(provider.url, auth=auth) as client, Listener(EventLog()) as listener:
        board = Dashboard(Workbench(client, listener.log, listener, provider))
        try:
            header = board.header.value
            assert "auth: CIBA for +3672…599, token valid for" in header and app.secret not in header
            assert board.form.device.layout.display == "none"  # the token names the device
            board.form.create.click()
            [tracked] = board.workbench.sessions()
            assert tracked.info.device is None  # left out: the request did not carry it (CAMARA)
            assert provider.engine.get(tracked.info.session_id).device_keys == (("phoneNumber", OTHER),)
        finally:
            board.close()


def test_ciba_polls_while_the_user_has_not_answered_and_stops_when_refused(provider: Sandbox, app: OAuthClient) -> None:
    def flow() -> Ciba:
        return Ciba(
            issuer=provider.issuer, client_id=app.client_id, client_secret=app.secret, login_hint=f"tel:{OTHER}"
        )

    held = httpx.post(f"{provider.url}/_sandbox/faults/consent", json={"kind": "pending", "count": 2})
    assert held.status_code == 204
    with QodClient(provider.url, auth=flow()) as client:
        started = time.monotonic()
        client.list_profiles()
        waited = time.monotonic() - started
    assert waited >= 2 * 1.0  # two authorization_pending answers, each waited out (the interval is 1 s)
    provider.provider.hold_consent("deny")  # type: ignore[union-attr]
    with QodClient(provider.url, auth=flow()) as client, pytest.raises(AuthError) as refused:
        client.list_profiles()
    assert refused.value.error == "access_denied"


def test_ciba_keeps_a_kernels_widgets_redrawing_while_the_user_has_not_answered(
    provider: Sandbox, app: OAuthClient
) -> None:
    from qodlab.notebook import kernel

    class Pump:
        flushes = 0

        def flush_due(self) -> None:
            self.flushes += 1

    pump = Pump()
    held = httpx.post(f"{provider.url}/_sandbox/faults/consent", json={"kind": "pending", "count": 1})
    assert held.status_code == 204
    auth = Ciba(issuer=provider.issuer, client_id=app.client_id, client_secret=app.secret, login_hint=f"tel:{OTHER}")
    kernel.attach(pump)
    try:
        with QodClient(provider.url, auth=auth) as client:
            client.list_profiles()  # on this (the main) thread, as in a cell: one interval of 1 s waited out
    finally:
        kernel.detach(pump)
    assert pump.flushes >= 10  # the wait was sliced (0.05 s) and the pumps flushed between slices


def test_a_dashboard_on_an_oidc_sandbox_needs_no_setup() -> None:
    from qodlab.widgets import dashboard

    with Sandbox(auth="oidc", speed=60, reuse=False) as oidc:
        board = dashboard(sandbox=oidc)
        try:
            assert "client credentials" in board.header.value
            outcome = board.form.submit()
            assert outcome is not None and outcome.ok, outcome
        finally:
            board.close()
            if board.workbench.listener is not None:
                board.workbench.listener.stop()


# -- CAMARA's 403 scenarios, operation by operation ------------------------------------------------

RELEASES = {  # release: (QoD, QoS Profiles, QoS Provisioning) base paths
    "r3.2": ("/quality-on-demand/v1", "/qos-profiles/v1", "/qos-provisioning/v0.3"),
    "r4.1": ("/quality-on-demand/v1rc3", "/qos-profiles/v1rc3", "/qos-provisioning/v0.4rc1"),
}


@pytest.mark.parametrize("release", list(RELEASES))
def test_every_403_scenario_of_the_test_definitions(provider: Sandbox, release: str) -> None:
    """Each operation's 403.1 (a token without its scope) and, where there is one, 403.2 (a token of a
    client that did not create the resource), as code/Test_definitions/*.feature at tags r3.2 and r4.1
    have them: PERMISSION_DENIED, and the resource untouched (its client still reads it)."""
    qod, profiles, provisioning = RELEASES[release]
    owner = _token(provider, client="app-1")
    phone = {"phoneNumber": "+36721601234" + ("301" if release == "r3.2" else "401")}
    assign = {"device": phone, "qosProfile": "QOS_E"}
    created = httpx.post(f"{provider.url}{qod}/sessions", json={**BODY, "device": phone}, headers=owner)
    assigned = httpx.post(f"{provider.url}{provisioning}/qos-assignments", json=assign, headers=owner)
    assert created.status_code == assigned.status_code == 201, (created.text, assigned.text)
    session = f"{qod}/sessions/{created.json()['sessionId']}"
    assignment = f"{provisioning}/qos-assignments/{assigned.json()['assignmentId']}"
    by_device = f"{provisioning}/retrieve-qos-assignment"
    extend, of_phone = {"requestedAdditionalDuration": 60}, {"device": phone}
    operations: dict[str, tuple[str, str, Any, str, bool]] = {  # id: method, path, body, scope, has 403.2
        "quality_on_demand_createSession": ("POST", f"{qod}/sessions", {**BODY, "device": phone}, "create", False),
        "quality_on_demand_getSession": ("GET", session, None, "read", True),
        "quality_on_demand_extendQosSessionDuration": ("POST", f"{session}/extend", extend, "update", True),
        "quality_on_demand_deleteSession": ("DELETE", session, None, "delete", True),
        "quality_on_demand_retrieveSessionsByDevice": ("POST", f"{qod}/retrieve-sessions", of_phone, "retrieve", False),
        "qos_profiles_getQosProfile": ("GET", f"{profiles}/qos-profiles/QOS_E", None, "profiles", False),
        "qos_profiles_retrieveQoSProfiles": ("POST", f"{profiles}/retrieve-qos-profiles", {}, "profiles", False),
        "qos_provisioning_createQosAssignment": ("POST", f"{provisioning}/qos-assignments", assign, "assign", False),
        "qos_provisioning_getQosAssignmentById": ("GET", assignment, None, "assignment", True),
        "qos_provisioning_revokeQosAssignment": ("DELETE", assignment, None, "revoke", True),
        "qos_provisioning_getQosAssignmentByDevice": ("POST", by_device, of_phone, "assignment-by-device", True),
    }
    stranger = _token(provider, client="app-2")  # every scope, another client
    for operation, (method, path, body, scope, owned) in operations.items():
        without = _token(provider, client="app-1", scopes=[s for k, s in SCOPES.items() if k != scope])
        for scenario, headers in (("403.1", without), *((("403.2", stranger),) if owned else ())):
            headers = {**headers, "x-correlator": "c-1"}
            answer = httpx.request(method, f"{provider.url}{path}", json=body, headers=headers)
            where = f"{operation}_{scenario} ({release})"
            assert answer.status_code == 403, f"{where}: {answer.status_code} {answer.text}"
            assert answer.json()["code"] == "PERMISSION_DENIED" and answer.json()["status"] == 403, where
            assert answer.json()["message"] and answer.headers["x-correlator"] == "c-1", where
            assert answer.headers["content-type"] == "application/json", where
    for path in (session, assignment):  # nothing a refused call asked for happened
        assert httpx.get(f"{provider.url}{path}", headers=owner).json().get("statusInfo") is None, path


def test_a_device_whose_assignment_another_client_made_is_403_and_one_with_none_404(provider: Sandbox) -> None:
    """getQosAssignmentByDevice 403.2 and 404.1, both releases, with the client's own error classes."""
    from qodlab import NotFound, PermissionDenied

    phone = {"phoneNumber": "+36721601234501"}
    mine, theirs = _token(provider, client="app-1"), _token(provider, client="app-2")
    for _, _, provisioning in RELEASES.values():
        url = f"{provider.url}{provisioning}"
        made = httpx.post(f"{url}/qos-assignments", json={"device": phone, "qosProfile": "QOS_E"}, headers=mine)
        assert made.status_code == 201, made.text
        refused = httpx.post(f"{url}/retrieve-qos-assignment", json={"device": phone}, headers=theirs)
        _camara(refused, 403, "PERMISSION_DENIED")
        assert "another API client" in refused.json()["message"]
        own = httpx.post(f"{url}/retrieve-qos-assignment", json={"device": phone}, headers=mine)
        assert own.status_code == 200 and own.json()["assignmentId"] == made.json()["assignmentId"]
        httpx.delete(f"{url}/qos-assignments/{made.json()['assignmentId']}", headers=mine)
        provider.advance(5)  # the revocation is done: the next one is the device's (the ended one stays readable)
    app = provider.oauth_client()
    flow = ClientCredentials(
        issuer=provider.issuer, client_id=app.client_id, client_secret=app.secret, scopes=ALL_SCOPES
    )
    with QodClient(provider.url, auth=flow) as client:
        with pytest.raises(NotFound):  # 404.1: a device without an assignment
            client.assignment_for({"phoneNumber": "+36721601234502"})
        other = {"device": {"phoneNumber": "+36721601234503"}, "qosProfile": "QOS_E"}
        httpx.post(f"{url}/qos-assignments", json=other, headers=_token(provider, client="app-3"))
        with pytest.raises(PermissionDenied, match="another API client"):
            client.assignment_for(other["device"])
