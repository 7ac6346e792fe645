"""PRIVATE_KEY_JWT notifications (QoD 1.2.0-rc.3, Commonalities r4.3), both sides, over real HTTP.

The provider's side: the sandbox signs a client assertion, asks a token endpoint it does not
control (this test's own, on loopback) for an access token, and notifies with it; a refusing
token endpoint leaves a failed, retried delivery. The consumer's side: a qodlab listener as the
authorization server receives the notifications and refuses forged, expired and replayed
assertions and tokens it did not issue.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from qodlab import EventLog, Listener, QodClient, Sandbox
from qodlab._net.server import ServerThread
from qodlab.sandbox.signing import ASSERTION_TYPE

from ..conftest import Receiver, wait_until

APP = ["233.252.0.2", "2001:db8::7"]


class TokenEndpoint:
    """A consumer's token endpoint of the test's own: checks the sandbox's assertion, grants a token."""

    def __init__(self, jwks_uri: str, refuse: bool = False) -> None:
        self.jwks_uri, self.refuse = jwks_uri, refuse
        self.requests: list[dict[str, str]] = []
        self.claims: list[dict[str, Any]] = []
        self.granted = "granted-" + secrets.token_hex(8)
        self.server = ServerThread(Starlette(routes=[Route("/token", self.token, methods=["POST"])]), name="token")
        self.server.start()

    @property
    def url(self) -> str:
        return f"{self.server.url}/token"

    async def token(self, request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        self.requests.append(form)
        if self.refuse:
            return JSONResponse({"error": "invalid_client"}, 401)
        async with httpx.AsyncClient() as http:
            keys = KeySet.import_key_set((await http.get(self.jwks_uri)).json())
        self.claims.append(dict(jwt.decode(form["client_assertion"], keys, algorithms=["RS256"]).claims))
        return JSONResponse({"access_token": self.granted, "token_type": "Bearer", "expires_in": 300})


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(speed=60, retry_backoff=0.05, max_attempts=3, reuse=False) as running:
        yield running


def _create(sandbox: Sandbox, sink: str, credential: dict[str, Any], phone: str = "+36721601230001") -> httpx.Response:
    body = {
        "device": {"phoneNumber": phone},
        "applicationServer": {"ipAddresses": APP},
        "qosProfile": "QOS_L",
        "duration": 600,
        "sink": sink,
        "sinkCredential": credential,
    }
    return httpx.post(f"{sandbox.url}/quality-on-demand/v1rc3/sessions", json=body)


def test_the_sandbox_notifies_with_the_token_of_an_endpoint_it_does_not_control(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    endpoint = TokenEndpoint(sandbox.jwks_uri)
    try:
        created = _create(
            sandbox,
            receiver.url,
            {"credentialType": "PRIVATE_KEY_JWT", "clientId": "consumer-7", "tokenUri": endpoint.url},
        )
        assert created.status_code == 201, created.text
        assert created.json()["sinkCredential"] == {"credentialType": "PRIVATE_KEY_JWT", "jwksUri": sandbox.jwks_uri}
        [notified] = receiver.wait_for(1)
        assert notified.headers["authorization"] == f"Bearer {endpoint.granted}"
        [form] = endpoint.requests
        assert form["grant_type"] == "client_credentials" and form["client_assertion_type"] == ASSERTION_TYPE
        [claims] = endpoint.claims  # it verified against the published JWK set
        assert claims["iss"] == claims["sub"] == "consumer-7" and claims["aud"] == endpoint.url
        assert 0 < claims["exp"] - time.time() <= 300 and claims["jti"]
        kid = jwt.decode(form["client_assertion"], RSAKey.import_key(sandbox.notifier.signer.jwks()["keys"][0]))
        assert kid.header["kid"] == sandbox.notifier.signer.jwks()["keys"][0]["kid"]
        httpx.delete(f"{sandbox.url}/quality-on-demand/v1rc3/sessions/{created.json()['sessionId']}")
        receiver.wait_for(2)
        assert len(endpoint.requests) == 1  # the token is kept until shortly before it expires
    finally:
        endpoint.server.stop()


def test_a_refusing_token_endpoint_is_a_failed_retried_delivery(sandbox: Sandbox, receiver: Receiver) -> None:
    endpoint = TokenEndpoint(sandbox.jwks_uri, refuse=True)
    try:
        created = _create(
            sandbox,
            receiver.url,
            {"credentialType": "PRIVATE_KEY_JWT", "clientId": "consumer-8", "tokenUri": endpoint.url},
        )
        session_id = created.json()["sessionId"]
        mine = lambda: [d for d in sandbox.deliveries() if d.session_id == session_id]  # noqa: E731
        wait_until(lambda: any(d.outcome == "failed" for d in mine()), message="the last attempt to fail")
        outcomes = [d.outcome for d in mine()]
        assert outcomes == ["retry", "retry", "failed"] and len(endpoint.requests) == 3
        assert all("token endpoint" in (d.error or "") and "HTTP 401" in (d.error or "") for d in mine())
        assert receiver.received == []
    finally:
        endpoint.server.stop()


def test_pre_shared_configuration_and_the_422_without_one(sandbox: Sandbox, receiver: Receiver) -> None:
    bare = {"credentialType": "PRIVATE_KEY_JWT"}
    refused = _create(sandbox, receiver.url, bare)
    assert refused.status_code == 422 and refused.json()["code"] == "PRIVATE_KEY_JWT_NOT_CONFIGURED"
    endpoint = TokenEndpoint(sandbox.jwks_uri)
    try:
        sandbox.share_private_key_jwt("onboarded", endpoint.url)
        assert _create(sandbox, receiver.url, bare, phone="+36721601230002").status_code == 201
        [notified] = receiver.wait_for(1)
        assert notified.headers["authorization"] == f"Bearer {endpoint.granted}"
        assert endpoint.claims[0]["iss"] == "onboarded"
    finally:
        endpoint.server.stop()


def test_strict_mode_wants_an_https_token_endpoint() -> None:
    with Sandbox(strict=True, reuse=False) as strict:
        refused = _create(
            strict,
            "https://sink.example/q",
            {"credentialType": "PRIVATE_KEY_JWT", "clientId": "c", "tokenUri": "http://127.0.0.1:9/token"},
        )
        assert refused.status_code == 400 and refused.json()["code"] == "INVALID_ARGUMENT"


# -- the consumer's side: the listener as the authorization server ------------------------------


@pytest.fixture
def consumer(sandbox: Sandbox) -> Iterator[Listener]:
    with Listener(EventLog()) as listener:
        listener.accept_private_key_jwt(sandbox.jwks_uri)
        yield listener


def _assertion(listener: Listener, key: RSAKey, **changes: Any) -> str:
    assert listener.tokens is not None
    now = int(time.time())
    claims = {
        "iss": listener.tokens.client_id,
        "sub": listener.tokens.client_id,
        "aud": listener.token_url,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_hex(8),
        **changes,
    }
    return jwt.encode({"alg": "RS256", "kid": changes.pop("kid", key.kid)}, claims, key)


def _token_request(listener: Listener, assertion: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    return httpx.post(listener.token_url, data=form)


def test_the_listener_receives_private_key_jwt_notifications_into_the_log(sandbox: Sandbox, consumer: Listener) -> None:
    with QodClient(sandbox.url, release="1.2.0-rc.3") as client:
        session = client.create_session(
            device={"phoneNumber": "+36721601230003"},
            application_server=APP,
            qos_profile="QOS_L",
            duration=600,
            sink=consumer.url,
            sink_credential=consumer.sink_credential("private_key_jwt"),
        )
        assert session.application_server is not None and session.application_server.ip_addresses == APP
        consumer.log.wait_for(str(session.session_id), "AVAILABLE", timeout=10)
        session.delete()
        consumer.log.wait_for(str(session.session_id), "UNAVAILABLE", timeout=10)
    assert consumer.tokens is not None and consumer.tokens.issued == 1
    assert consumer.rejections.empty
    assert consumer.tokens.client_id not in repr(consumer.log.df["raw"].tolist())


def test_the_listener_refuses_forged_expired_and_replayed_assertions_and_foreign_tokens(
    sandbox: Sandbox, consumer: Listener
) -> None:
    provider = sandbox.notifier.signer.key
    forger = RSAKey.generate_key(2048, parameters={"kid": sandbox.notifier.signer.kid})
    good = _assertion(consumer, provider)
    granted = _token_request(consumer, good)
    assert granted.status_code == 200 and granted.json()["token_type"] == "Bearer"
    refusals = {
        "forged": _token_request(consumer, _assertion(consumer, forger)),
        "expired": _token_request(consumer, _assertion(consumer, provider, exp=int(time.time()) - 120)),
        "replayed": _token_request(consumer, good),
        "unknown key": _token_request(consumer, _assertion(consumer, forger, kid="someone-else")),
        "another audience": _token_request(consumer, _assertion(consumer, provider, aud="https://elsewhere/token")),
    }
    assert {why: (r.status_code, r.json()["error"]) for why, r in refusals.items()} == dict.fromkeys(
        refusals, (401, "invalid_client")
    )
    notification = {
        "id": "e-1",
        "source": "s",
        "type": "org.camaraproject.quality-on-demand.v1.qos-status-changed",
        "specversion": "1.0",
        "time": "2026-12-01T10:00:00Z",
        "data": {"sessionId": "s-1", "qosStatus": "AVAILABLE"},
    }
    for foreign in (consumer.token, "made-up", "x" * 43):
        answer = httpx.post(consumer.url, json=notification, headers={"authorization": f"Bearer {foreign}"})
        assert answer.status_code == 401
    token = granted.json()["access_token"]
    assert httpx.post(consumer.url, json=notification, headers={"authorization": f"Bearer {token}"}).status_code == 204
    reasons = " ".join(consumer.rejections["reason"])
    assert "replayed" in reasons and "expired" in reasons and "lacks" in reasons
    assert token not in reasons and good not in reasons  # no secret in what is recorded


def test_an_issued_token_expires() -> None:
    from qodlab.receiving.tokenserver import TokenServer

    now = [1000.0]
    server = TokenServer("c", "https://x/token", ttl=60, clock=lambda: now[0])
    server._tokens[__import__("hashlib").sha256(b"t").digest()] = now[0] + 60
    assert server.valid(b"t")
    now[0] += 61
    assert not server.valid(b"t")


def test_a_relay_cannot_carry_a_token_request() -> None:
    with (
        Sandbox(reuse=False) as sandbox,
        Listener(EventLog(), relay=sandbox.new_channel()) as relayed,
        pytest.raises(ValueError, match="relay is one-way"),
    ):
        relayed.accept_private_key_jwt(sandbox.jwks_uri)


def test_threads_do_not_share_a_jti() -> None:
    """Assertions made at once by several threads are all distinct."""
    from qodlab.sandbox.signing import Signer

    signer, made = Signer(), []
    threads = [threading.Thread(target=lambda: made.append(signer.assertion("c", "https://x/t"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    public = RSAKey.import_key(signer.jwks()["keys"][0])
    assert len({jwt.decode(a, public).claims["jti"] for a in made}) == 8
