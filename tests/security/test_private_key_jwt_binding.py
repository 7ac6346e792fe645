"""PRIVATE_KEY_JWT bound to its consumer (issue #32): a second API client that names the victim listener's client id
and token endpoint is refused as a bad credential, so it never receives the victim's access token and cannot
forge a notification the victim's listener would store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qodlab import EventLog, Listener, Sandbox

from ..conftest import Receiver, wait_until

V12 = "/quality-on-demand/v1rc3/sessions"


@pytest.fixture
def provider() -> Iterator[Sandbox]:
    with Sandbox(auth="oidc", speed=60, provisioning_delay=0, retry_backoff=0.05, reuse=False) as sandbox:
        yield sandbox


def _bearer(sandbox: Sandbox, client: str) -> dict[str, str]:
    token = httpx.post(f"{sandbox.url}/_sandbox/tokens", json={"client": client}).json()["access_token"]
    return {"authorization": f"Bearer {token}"}


def _create(sandbox: Sandbox, who: str, phone: str, sink: str, credential: dict[str, Any]) -> httpx.Response:
    body = {
        "device": {"phoneNumber": phone},
        "applicationServer": {"ipv4Address": "233.252.0.2"},
        "qosProfile": "QOS_L",
        "duration": 600,
        "sink": sink,
        "sinkCredential": credential,
    }
    return httpx.post(f"{sandbox.url}{V12}", json=body, headers=_bearer(sandbox, who))


def test_another_client_cannot_borrow_the_victims_private_key_jwt_identity(
    provider: Sandbox, receiver: Receiver
) -> None:
    with Listener(EventLog(), jwks_uri=provider.jwks_uri, reuse=False) as victim:
        assert victim.tokens is not None
        credential = {
            "credentialType": "PRIVATE_KEY_JWT",
            "clientId": victim.tokens.client_id,
            "tokenUri": victim.token_url,
        }
        own = _create(provider, "victim-app", "+36700000201", victim.url, credential)
        assert own.status_code == 201, own.text
        victim.log.wait_for(own.json()["sessionId"], "AVAILABLE", timeout=15)

        stolen = _create(provider, "attacker-app", "+36700000202", receiver.url, credential)
        assert stolen.status_code == 400, stolen.text
        assert stolen.json()["code"] in ("INVALID_CREDENTIAL", "INVALID_ARGUMENT")  # r4.1 words it INVALID_ARGUMENT
        assert "victim-app" not in stolen.text
        for half in ({**credential, "tokenUri": victim.token_url + "/"}, {**credential, "clientId": "other-id"}):
            assert _create(provider, "attacker-app", "+36700000203", receiver.url, half).status_code == 400
        wait_until(lambda: all(d.outcome != "retry" for d in provider.deliveries()), message="deliveries settled")
        assert receiver.received == []  # no token of the victim's reached the attacker's sink
        assert victim.log.sessions() == [own.json()["sessionId"]]  # nothing forged stored


def test_an_onboarded_configuration_is_its_clients_alone(provider: Sandbox) -> None:
    provider.share_private_key_jwt("onboarded-id", "https://consumer.example/token", "app-a")
    credential = {
        "credentialType": "PRIVATE_KEY_JWT",
        "clientId": "onboarded-id",
        "tokenUri": "https://consumer.example/token",
    }
    refused = _create(provider, "app-b", "+36700000204", "https://sink.example/b", credential)
    assert refused.status_code == 400
    allowed = _create(provider, "app-a", "+36700000205", "https://sink.example/a", credential)
    assert allowed.status_code == 201, allowed.text
