"""The clients: every endpoint over real HTTP, errors, retries, timeouts, secrets."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import qodlab.client
from qodlab import (
    ApiError,
    AsyncQodClient,
    AsyncSession,
    Conflict,
    CreateSession,
    InvalidArgument,
    InvalidRequest,
    NotFound,
    QodClient,
    QodError,
    QodTimeout,
    QosStatus,
    RateLimited,
    Sandbox,
    ServiceUnavailable,
    Session,
    TransportError,
    Unauthenticated,
)
from qodlab.client.clients import NAC_HOST
from qodlab.client.providers import NAC_API_HOST

from ..conftest import PHONE, session_fields


def test_every_endpoint_sync(sandbox: Sandbox, client: QodClient) -> None:
    sandbox.speed = 1
    session = client.create_session(**session_fields(duration=600))
    assert isinstance(session, Session) and session.qos_status is QosStatus.REQUESTED
    sandbox.advance(1)
    fetched = client.get_session(str(session.session_id))
    assert fetched.qos_status is QosStatus.AVAILABLE
    assert client.extend_session(session.session_id, 60).duration == 660
    assert [s.session_id for s in client.retrieve_sessions({"phoneNumber": PHONE})] == [session.session_id]
    assert client.get_profile("QOS_S").name == "QOS_S"
    assert len(client.list_profiles(status="ACTIVE")) == 4
    client.delete_session(session.session_id)
    with pytest.raises(NotFound):
        client.get_session(session.session_id)


def test_session_objects_act_like_the_sdk(sandbox: Sandbox, client: QodClient) -> None:
    sandbox.speed = 1
    session = client.create_session(
        CreateSession.model_validate(
            {
                "device": {"phoneNumber": PHONE},
                "applicationServer": {"ipv4Address": "233.252.0.2"},
                "qosProfile": "QOS_M",
                "duration": 100,
            }
        )
    )
    sandbox.advance(1)
    assert session.refresh() is session and session.qos_status is QosStatus.AVAILABLE
    assert session.extend(50) is session and session.duration == 150
    session.delete()
    with pytest.raises(NotFound):
        session.refresh()


def test_every_endpoint_async(sandbox: Sandbox) -> None:
    async def scenario() -> None:
        async with sandbox.async_client() as client:
            sandbox.speed = 1
            session = await client.create_session(**session_fields(duration=600))
            assert isinstance(session, AsyncSession)
            sandbox.advance(1)
            assert (await session.refresh()).qos_status is QosStatus.AVAILABLE
            assert (await session.extend(30)).duration == 630
            assert (await client.extend_session(session.session_id, 30)).duration == 660
            found = await client.retrieve_sessions({"phoneNumber": PHONE})
            assert [s.session_id for s in found] == [session.session_id]
            assert (await client.get_profile("QOS_E")).name == "QOS_E"
            assert len(await client.list_profiles(name="QOS_E")) == 1
            await session.delete()
            with pytest.raises(NotFound):
                await client.get_session(session.session_id)
            with pytest.raises(Conflict):
                await client.create_session(**session_fields(duration=600))
                await client.create_session(**session_fields(duration=600))

    asyncio.run(scenario())


def test_api_errors_carry_status_code_message_response(client: QodClient) -> None:
    with pytest.raises(InvalidArgument) as exc:
        client.create_session(**session_fields(duration=10**6))
    error = exc.value
    assert isinstance(error, ApiError) and isinstance(error, QodError)
    assert error.status == 400 and error.code == "QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE"
    assert "duration" in error.message
    assert error.response is not None and error.response.status_code == 400
    assert str(error).startswith("400 QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE")


def test_bad_fields_fail_before_sending(client: QodClient) -> None:
    with pytest.raises(InvalidRequest, match="ipv4Address") as refused:
        client.create_session(**session_fields(device={"ipv4Address": {"publicAddress": "1.2.3.4"}}))
    assert refused.value.field == "device" and isinstance(refused.value, QodError | ValueError)


def test_retries_honour_retry_after(sandbox: Sandbox, client: QodClient) -> None:
    sandbox.fail_api_calls(2, status=503, retry_after=0.2)
    started = time.monotonic()
    assert client.get_profile("QOS_E").name == "QOS_E"
    assert time.monotonic() - started >= 0.4  # waited as told, twice
    sandbox.fail_api_calls(1, status=429, retry_after=0)
    assert client.list_profiles(name="QOS_L")[0].name == "QOS_L"


def test_retries_are_bounded(sandbox: Sandbox) -> None:
    with sandbox.client(max_retries=2) as client:
        sandbox.fail_api_calls(3, status=429, retry_after=0)
        with pytest.raises(RateLimited) as exc:
            client.get_profile("QOS_E")
        assert exc.value.code == "TOO_MANY_REQUESTS"
        assert client.get_profile("QOS_E").name == "QOS_E"  # the third call got through


def test_retry_after_beyond_the_cap_is_not_waited(sandbox: Sandbox) -> None:
    with sandbox.client(max_retry_wait=1) as client:
        sandbox.fail_api_calls(1, status=503, retry_after=3600)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            client.get_profile("QOS_E")
        assert time.monotonic() - started < 5


def test_async_retries(sandbox: Sandbox) -> None:
    async def scenario() -> str:
        async with sandbox.async_client() as client:
            sandbox.fail_api_calls(2, status=503, retry_after=0)
            return (await client.get_profile("QOS_M")).name

    assert asyncio.run(scenario()) == "QOS_M"


def test_auth_errors(sandbox: Sandbox) -> None:
    with Sandbox(api_key="right", reuse=False) as locked:
        with QodClient(locked.url, token="wrong") as client, pytest.raises(Unauthenticated):
            client.get_profile("QOS_E")
        with QodClient.for_sandbox(locked) as client:
            assert client.get_profile("QOS_E").name == "QOS_E"


def test_connection_refused_is_a_transport_error() -> None:
    sandbox = Sandbox(reuse=False)
    url = sandbox.url
    sandbox.stop()
    with QodClient(url, max_retries=0) as client, pytest.raises(TransportError) as exc:
        client.get_profile("QOS_E")
    assert "GET" in str(exc.value)


def test_timeouts_raise_qod_timeout() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with QodClient("https://api.example.test", transport=httpx.MockTransport(slow), timeout=0.1) as client:
        with pytest.raises(QodTimeout):
            client.get_profile("QOS_E")
        assert client._http.timeout.read == 0.1


def test_accepts_the_qod_base_url_itself(sandbox: Sandbox) -> None:
    with QodClient(f"{sandbox.url}/quality-on-demand/v1/") as client:
        assert client.base_url == sandbox.url
        assert client.get_profile("QOS_E").name == "QOS_E"


# -- recorded requests (the real Network as Code service is out of reach) --------------------


class Recorder:
    def __init__(self, answers: list[httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = answers or []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answers:
            return self.answers.pop(0)
        return httpx.Response(200, json={"name": "QOS_E", "status": "ACTIVE"})


def test_network_as_code_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAC_TOKEN", "nac-secret-key")
    recorder = Recorder(
        [
            httpx.Response(
                201,
                json={
                    "sessionId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                    "duration": 600,
                    "qosStatus": "REQUESTED",
                },
            )
        ]
    )
    with QodClient.network_as_code(transport=httpx.MockTransport(recorder)) as client:
        assert "nac-secret-key" not in repr(client)
        client.create_session(**session_fields("https://example.com/hook", "hook-token", duration=600))
    request = recorder.requests[0]
    assert str(request.url) == f"https://{NAC_HOST}/quality-on-demand/v1/sessions"
    assert request.headers["x-rapidapi-key"] == "nac-secret-key"
    assert request.headers["x-rapidapi-host"] == NAC_API_HOST  # the API's host on RapidAPI, not the gateway's
    assert "authorization" not in request.headers
    sent = json.loads(request.content)
    expires = datetime.fromisoformat(sent["sinkCredential"].pop("accessTokenExpiresUtc"))
    assert expires - datetime.now(UTC) > timedelta(days=1)  # after any session created now ends
    assert sent == {
        "device": {"phoneNumber": PHONE},
        "applicationServer": {"ipv4Address": "233.252.0.2"},
        "qosProfile": "QOS_L",
        "duration": 600,
        "sink": "https://example.com/hook",
        "sinkCredential": {"credentialType": "ACCESSTOKEN", "accessToken": "hook-token", "accessTokenType": "bearer"},
    }


def test_network_as_code_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAC_TOKEN", raising=False)
    with pytest.raises(ValueError, match="NAC_TOKEN"):
        QodClient.network_as_code()


def test_camara_endpoint_sends_a_bearer_token() -> None:
    recorder = Recorder()
    with QodClient("https://api.operator.test/", token="op-token", transport=httpx.MockTransport(recorder)) as client:
        client.get_profile("QOS_E")
        assert "op-token" not in repr(client) and "bearer ***" in repr(client)
    request = recorder.requests[0]
    assert str(request.url) == "https://api.operator.test/qos-profiles/v1/qos-profiles/QOS_E"
    assert request.headers["authorization"] == "Bearer op-token"
    assert request.headers["x-correlator"]


def test_keys_never_reach_an_error() -> None:
    recorder = Recorder([httpx.Response(401, json={"status": 401, "code": "UNAUTHENTICATED", "message": "no"})])
    client = QodClient.network_as_code("k-very-secret", transport=httpx.MockTransport(recorder))
    with client, pytest.raises(Unauthenticated) as exc:
        client.get_profile("QOS_E")
    assert "k-very-secret" not in str(exc.value) and "k-very-secret" not in repr(exc.value)


def test_non_camara_error_body_still_gives_an_error() -> None:
    recorder = Recorder([httpx.Response(502, text="<html>bad gateway</html>")])
    client = QodClient("https://api.operator.test", transport=httpx.MockTransport(recorder), max_retries=0)
    with client, pytest.raises(ServiceUnavailable) as exc:
        client.get_profile("QOS_E")
    assert exc.value.status == 502 and exc.value.code == "BAD_GATEWAY" and "bad gateway" in exc.value.message


def test_async_transport_argument() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=[{"name": "QOS_E", "status": "ACTIVE"}])

    async def scenario() -> int:
        async with AsyncQodClient("https://x.test", transport=httpx.MockTransport(handler)) as client:
            return len(await client.list_profiles())

    assert asyncio.run(scenario()) == 1
    assert seen == ["https://x.test/qos-profiles/v1/retrieve-qos-profiles"]


def _built(client: QodClient | AsyncQodClient) -> tuple[object, ...]:
    """What a factory decided: URLs, release, headers (the key's presence), auth flow, catalogue, clock."""
    auth = client.auth
    return (
        client.qod_url,
        client.profiles_url,
        client.release,
        client._headers,
        type(auth),
        getattr(auth, "client_id", None),
        client.profile_catalogue,
        client.api_now,
    )


@pytest.mark.parametrize(
    ("factory", "args", "kwargs"),
    [
        ("for_sandbox", ("http://127.0.0.1:1",), {"release": "0.10"}),
        ("network_as_code", ("k3y",), {"api_host": "other.example", "timeout": 3.0}),
        ("network_as_code", ("k3y",), {"base_url": "http://127.0.0.1:1"}),
        ("for_provider", ("orange",), {"client_id": "id", "client_secret": "s", "release": "1.1.0"}),
        (
            "for_provider",
            ("telefonica-sandbox",),
            {
                "client_id": "id",
                "client_secret": "s",
                "login_hint": "tel:+34",
                "purpose": "dpv:x#qod",
                "base_url": "http://127.0.0.1:1",
            },
        ),
    ],
)
def test_both_clients_build_the_same_client_from_each_factory(
    factory: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    sync = getattr(QodClient, factory)(*args, **kwargs)
    built = getattr(AsyncQodClient, factory)(*args, **kwargs)
    assert isinstance(sync, QodClient) and isinstance(built, AsyncQodClient)
    assert _built(sync) == _built(built)
    if "release" in kwargs:
        assert sync.release.name == kwargs["release"]
    if "base_url" in kwargs:
        assert sync.base_url == kwargs["base_url"]


def test_a_sandboxs_async_client_runs_on_its_clock(sandbox: Sandbox) -> None:
    client = AsyncQodClient.for_sandbox(sandbox)
    assert client.api_now == sandbox.now  # the sandbox's clock, which runs at its speed
    assert client.base_url == sandbox.url


CLIENT_SIDE = (
    "qodlab.client",
    *(f"qodlab.client.{m.stem}" for m in sorted(Path(qodlab.client.__file__).parent.glob("[!_]*.py"))),
    "qodlab._net.http",
    "qodlab.models",
    "qodlab.apis",
)


@pytest.mark.parametrize("name", CLIENT_SIDE)
def test_the_client_side_never_names_the_sandbox(name: str) -> None:
    """The sandbox hands a client its settings (`ProvidesClient.client_settings()`): no import of it, no `Sandbox`."""
    import ast
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(name))
    imported = [
        node.module or "" if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [module for module in imported if "sandbox" in module.lower()], name
    names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    assert "Sandbox" not in names and "Sandbox" not in {
        a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) for a in n.names
    }
    if name == "qodlab.client.clients":
        assert "Sandbox" not in source


def test_for_sandbox_takes_anything_that_hands_over_client_settings() -> None:
    from qodlab.client.providers import ClientSettings, ProvidesClient

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"name": "QOS_E", "status": "ACTIVE"}])

    moment = datetime(2030, 1, 1, tzinfo=UTC)

    class Server:
        def client_settings(self) -> ClientSettings:
            return ClientSettings(base_url="https://stand-in.test/", token=" t0k\n", now=lambda: moment)

    server: ProvidesClient = Server()
    with QodClient.for_sandbox(server, release="0.10", transport=httpx.MockTransport(handler)) as client:
        assert [p.name for p in client.list_profiles()] == ["QOS_E"]
        assert client.api_now is not None and client.api_now() == moment
    assert str(seen[0].url) == "https://stand-in.test/qod/v0/qos-profiles"
    assert seen[0].headers["Authorization"] == "Bearer t0k"
    flow = httpx.BasicAuth("id", "secret")
    settings = ClientSettings(base_url="https://stand-in.test", auth=flow)
    assert settings.client_args()["auth"] is flow and "auth" not in ClientSettings("https://x.test").client_args()
    assert QodClient.for_sandbox("https://plain.test").api_now is None
