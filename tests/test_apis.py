"""One table of the APIs served and spoken (`qodlab.apis.RELEASES`): a release added as one row, in this test
alone, is served by the sandbox, spoken by the client and offered by the form."""

from __future__ import annotations

import uuid
from collections.abc import Generator
from dataclasses import replace

import httpx
import pytest

from qodlab import EventLog, InvalidRequest, Listener, QodClient, Sandbox, Workbench, apis

QOD, PROFILES, PROVISIONING = "/quality-on-demand/v1.2", "/qos-profiles/v1.2", "/qos-provisioning/v0.4"
# QoD 1.2.0 final as the rc.3 row's next: its own base paths, the r4.1 contracts, and an error code of its own
# (made up here, so that only this row can be what words it)
FINAL = replace(
    apis.release("1.2.0-rc.3"),
    name="1.2.0",
    camara="r4.2",
    qod_path=QOD,
    profiles_path=PROFILES,
    provisioning_path=PROVISIONING,
    provisioning="0.4.0",
    aliases=("1.2-final",),
    codes={"QUALITY_ON_DEMAND.DURATION_OUT_OF_RANGE": "OUT_OF_RANGE"},
)


class Seen(httpx.Auth):
    """Records every URL the client requests."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.urls.append(str(request.url))
        yield request


def _phone() -> str:
    return f"+3672{uuid.uuid4().int % 10**9:09d}"


def test_a_release_added_as_one_row_is_served_spoken_and_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    from qodlab.widgets.forms import SessionForm

    with Sandbox(speed=60, reuse=False) as before:  # without the row: neither served nor spoken
        assert httpx.post(f"{before.url}{PROFILES}/retrieve-qos-profiles", json={}).status_code == 404
        with pytest.raises(InvalidRequest, match=r"1\.2\.0-rc\.3"):
            QodClient(before.url, release="1.2.0")
    monkeypatch.setattr(apis, "RELEASES", (*apis.RELEASES, FINAL))
    seen = Seen()
    with (
        Sandbox(speed=60, reuse=False) as sandbox,
        Listener(EventLog()) as listener,
        QodClient(sandbox.url, release="1.2-final", auth=seen) as client,
    ):
        # spoken: the client's URLs are the row's, and every request it makes goes to them
        assert client.release is FINAL
        assert (client.qod_url, client.profiles_url, client.provisioning_url) == (
            f"{sandbox.url}{QOD}",
            f"{sandbox.url}{PROFILES}",
            f"{sandbox.url}{PROVISIONING}",
        )
        session = client.create_session(
            device={"phoneNumber": _phone()},
            qos_profile="QOS_L",
            duration=600,
            application_server=["233.252.0.2", "2001:db8::5"],
        )
        assert session.application_server is not None and session.application_server.ip_addresses == [
            "233.252.0.2",
            "2001:db8::5",
        ]  # served with the row's address list
        assert {p.name for p in client.list_profiles()} >= {"QOS_L"}
        assignment = client.assign_qos({"phoneNumber": _phone()}, "QOS_E")
        assert assignment.status == "REQUESTED"
        assert seen.urls == [
            f"{sandbox.url}{QOD}/sessions",
            f"{sandbox.url}{PROFILES}/retrieve-qos-profiles",
            f"{sandbox.url}{PROVISIONING}/qos-assignments",
        ]
        # served: its routes, its strictness and its error codes
        url = f"{sandbox.url}{QOD}/sessions"
        body = {
            "device": {"phoneNumber": _phone()},
            "applicationServer": {"ipAddresses": ["233.252.0.2"]},
            "qosProfile": "QOS_L",
            "duration": 600,
        }
        strict = httpx.post(url, json={**body, "unknown": 1})
        assert (strict.status_code, strict.json()["code"]) == (400, "INVALID_ARGUMENT")
        long = httpx.post(url, json={**body, "duration": 10**6})
        assert (long.status_code, long.json()["code"]) == (400, "OUT_OF_RANGE")
        assert f"{QOD}/sessions" in httpx.get(f"{sandbox.url}/openapi.json").json()["paths"]
        read = httpx.get(f"{url}/{session.session_id}").json()
        assert read["applicationServer"] == {"ipAddresses": ["233.252.0.2", "2001:db8::5"]}
        # offered by the form: what the row can say (an address list, ports from 1, PRIVATE_KEY_JWT)
        form = SessionForm(Workbench(client, listener.log, listener, sandbox))
        assert form.server_list.layout.display is None
        assert list(form.credential.options) == ["ACCESSTOKEN", "PRIVATE_KEY_JWT"]
        form.device_ports.value = "0"
        assert form.validate() is None and "start at 1 in QoD 1.2.0" in form.errors["device_ports"].value


def test_the_form_offers_only_what_the_release_can_say() -> None:
    from qodlab.widgets.forms import SessionForm

    with (
        Sandbox(speed=60, reuse=False) as sandbox,
        Listener(EventLog()) as listener,
        QodClient(sandbox.url, release="1.1.0") as client,
    ):
        form = SessionForm(Workbench(client, listener.log, listener, sandbox))
        assert form.server_list.layout.display == "none" and list(form.credential.options) == ["ACCESSTOKEN"]
        form.device_ports.value = "0"
        form.validate()
        assert form.errors["device_ports"].value == ""  # 1.1.0 takes port 0


def test_every_served_path_is_one_rows() -> None:
    """Each base path is one release's, so a path names its release (and its error codes) without doubt."""
    paths = [p for r in apis.RELEASES for p in r.prefixes]
    assert len(paths) == len(set(paths))
    assert apis.serving("/qos-provisioning/v0.4rc1/qos-assignments") is apis.release("1.2.0-rc.3")
    assert apis.serving("/qod/v0/sessions") is apis.release("0.10")
    assert apis.serving("/_sandbox/clock") is None
    assert [r.name for r in apis.RELEASES if r.spoken] == ["1.1.0", "1.2.0-rc.3", "0.10"]
