"""Other operators: the CAMARA 0.10 generation against the sandbox's /qod/v0, and the documented presets."""

from __future__ import annotations

import pytest

from qodlab import EventLog, Listener, QodClient, Sandbox
from qodlab.auth import Ciba, ClientCredentials
from qodlab.providers import PRESETS, generation


def test_a_0_10_client_speaks_qod_v0_end_to_end() -> None:
    with (
        Sandbox(speed=60, reuse=False) as sandbox,
        Listener(EventLog()) as listener,
        QodClient(sandbox.url, api="v0.10") as client,
    ):
        assert client.qod_url == f"{sandbox.url}/qod/v0"
        assert "QOS_L" in [p.name for p in client.list_profiles()]
        assert client.get_profile("QOS_M").name == "QOS_M"
        session = client.create_session(
            device={"phoneNumber": "+36721601234567"}, application_server="233.252.0.2", qos_profile="QOS_L",
            duration=600, sink=listener.url, sink_token=listener.token,
        )  # fmt: skip
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


def test_generations_have_one_spelling_each() -> None:
    assert generation("v1") is generation("1.1.0") and generation("v0.10") is generation("0.10")
    with pytest.raises(ValueError, match="unknown API generation"):
        generation("2.0")


def test_presets_build_what_their_documentation_says_and_name_what_is_missing() -> None:
    orange = QodClient.for_provider("orange", client_id="id", client_secret="s3cret")
    assert orange.qod_url == "https://api.orange.com/camara/quality-on-demand/orange-lab/v0"
    assert orange.api.name == "0.10" and isinstance(orange.auth, ClientCredentials)
    assert orange.auth.endpoint("token_endpoint") == PRESETS["orange"].token_url
    assert "s3cret" not in repr(orange) and "s3cret" not in repr(orange.auth)
    telefonica = QodClient.for_provider(
        "telefonica-sandbox", client_id="id", client_secret="s", login_hint="tel:+34666666666",
        purpose="dpv:RequestedServiceProvision#qod",
    )  # fmt: skip
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
