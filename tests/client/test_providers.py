"""Other operators: the CAMARA 0.10 release against the sandbox's /qod/v0, and the documented presets."""

from __future__ import annotations

import pytest

from qodlab import EventLog, Listener, QodClient, Sandbox
from qodlab.client.auth import Ciba, ClientCredentials
from qodlab.client.providers import PRESETS, release


def test_a_0_10_client_speaks_qod_v0_end_to_end() -> None:
    with (
        Sandbox(speed=60, reuse=False) as sandbox,
        Listener(EventLog()) as listener,
        QodClient(sandbox.url, release="v0.10") as client,
    ):
        assert client.qod_url == f"{sandbox.url}/qod/v0"
        assert "QOS_L" in [p.name for p in client.list_profiles()]
        assert client.get_profile("QOS_M").name == "QOS_M"
        session = client.create_session(
            device={"phoneNumber": "+36721601234567"},
            application_server="233.252.0.2",
            qos_profile="QOS_L",
            duration=600,
            sink=listener.url,
            sink_token=listener.token,
        )
        assert session.sink == listener.url  # the sandbox echoes the webhook's URL as the sink
        listener.log.wait_for(str(session.session_id), "AVAILABLE", timeout=10)
        assert session.extend(60).duration == 660
        assert [s.session_id for s in client.retrieve_sessions({"phoneNumber": "+36721601234567"})] == [
            session.session_id
        ]
        session.delete()
        listener.log.wait_for(str(session.session_id), "UNAVAILABLE", timeout=10)
        assert listener.rejections.empty  # a bare notificationAuthToken arrives as "Bearer <token>"
        with pytest.raises(ValueError, match="cannot filter profiles by device"):
            client.list_profiles(device={"phoneNumber": "+36721601234567"})


def test_releases_have_one_spelling_each() -> None:
    assert release("v1") is release("1.1.0") and release("v0.10") is release("0.10")
    with pytest.raises(ValueError, match=r"unknown release '2\.0'") as refused:
        release("2.0")
    assert refused.value.field == "release"


def test_presets_build_what_their_documentation_says_and_name_what_is_missing() -> None:
    orange = QodClient.for_provider("orange", client_id="id", client_secret="s3cret")
    assert orange.qod_url == "https://api.orange.com/camara/quality-on-demand/orange-lab/v0"
    assert orange.release.name == "0.10" and isinstance(orange.auth, ClientCredentials)
    assert orange.auth.endpoint("token_endpoint") == PRESETS["orange"].token_url
    assert "s3cret" not in repr(orange) and "s3cret" not in repr(orange.auth)
    telefonica = QodClient.for_provider(
        "telefonica-sandbox",
        client_id="id",
        client_secret="s",
        login_hint="tel:+34666666666",
        purpose="dpv:RequestedServiceProvision#qod",
    )
    assert telefonica.qod_url == "https://sandbox.opengateway.telefonica.com/apigateway/qod/v0"
    assert isinstance(telefonica.auth, Ciba) and telefonica.three_legged
    assert telefonica.auth.endpoint("backchannel_authentication_endpoint").endswith("/apigateway/bc-authorize")
    with pytest.raises(ValueError, match=r"needs login_hint=\.\.\., purpose=\.\.\."):
        QodClient.for_provider("telefonica-sandbox", client_id="id", client_secret="s")
    with pytest.raises(ValueError, match="unknown provider"):
        QodClient.for_provider("nobody")
    for client in (orange, telefonica):
        client.close()
    for preset in PRESETS.values():
        assert preset.source.startswith(("https://", "network-as-code"))


def test_network_as_code_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAC_TOKEN", raising=False)
    with pytest.raises(ValueError, match=r"needs key=\.\.\. \(or set NAC_TOKEN\)"):
        QodClient.network_as_code()


def test_the_old_names_of_a_release_still_work_and_warn_at_the_callers_line() -> None:
    from qodlab.apis import Release
    from qodlab.client import providers

    with pytest.warns(DeprecationWarning, match=r"QodClient\(\)'s api= is deprecated, use release=") as caught:
        client = QodClient("https://operator.example", api="0.10")
    assert client.release.name == "0.10" and caught[0].filename == __file__
    with pytest.warns(DeprecationWarning, match=r"QodClient.api is deprecated"):
        assert client.api is client.release
    with pytest.warns(DeprecationWarning, match=r"generation\(\) is deprecated, use release\(\)") as caught:
        assert providers.generation("v0.10") is release("0.10")
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning, match="Generation is deprecated, use Release"):
        assert providers.Generation is Release
    with pytest.warns(DeprecationWarning, match="Preset.api is deprecated"):
        assert PRESETS["orange"].api == PRESETS["orange"].release == "0.10"
    with pytest.warns(DeprecationWarning, match="api= is deprecated"):
        orange = QodClient.for_provider("orange", client_id="id", client_secret="s", api="1.1.0")
    assert orange.release.name == "1.1.0"  # the old keyword overrides the preset's release as release= does
    with pytest.raises(ValueError, match="got release= and api="):
        QodClient("https://operator.example", api="0.10", release="1.1.0")


def test_a_sandbox_client_takes_the_old_keyword_too() -> None:
    with Sandbox(reuse=False) as sandbox, pytest.warns(DeprecationWarning, match="api= is deprecated") as caught:
        client = sandbox.client(api="0.10")
    assert client.qod_url == f"{sandbox.url}/qod/v0" and caught[0].filename == __file__
    client.close()
