"""DNS rebinding and cross-site requests against every qodlab server (issue #32): a page's own host name and a
foreign Origin are refused 403, as Jupyter Server refuses them; programs (no Origin) and loopback names pass."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qodlab import Classroom, EventLog, Listener, Relay, Sandbox
from qodlab._net.hosts import HostPolicy
from qodlab.classroom import INSTRUCTOR

REBOUND = "attacker.example"  # a page's host name, rebound to 127.0.0.1
BODY = {
    "device": {"phoneNumber": "+36700000088"},
    "applicationServer": {"ipv4Address": "233.252.0.2"},
    "qosProfile": "QOS_L",
    "duration": 600,
}


def _rebound(url: str) -> dict[str, str]:
    return {"host": f"{REBOUND}:{url.rsplit(':', 1)[1]}"}


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "PERMISSION_DENIED"


@pytest.fixture
def laptop() -> Iterator[Sandbox]:
    with Sandbox(auth="oidc", reuse=False, speed=60) as sandbox:
        yield sandbox


def test_a_rebinding_page_cannot_read_or_drive_a_laptop_sandbox(laptop: Sandbox) -> None:
    url = laptop.url
    token = httpx.post(f"{url}/_sandbox/tokens", json={"client": "me"}).json()["access_token"]
    bearer = {"authorization": f"Bearer {token}"}
    created = httpx.post(f"{url}/quality-on-demand/v1/sessions", json=BODY, headers=bearer)
    assert created.status_code == 201
    for path in ("/_sandbox/sessions", "/_sandbox/deliveries"):
        _refused(httpx.get(f"{url}{path}", headers=_rebound(url)))
    _refused(httpx.post(f"{url}/_sandbox/tokens", json={"client": "victim"}, headers=_rebound(url)))
    _refused(httpx.post(f"{url}/relay/new", headers=_rebound(url)))
    # loopback names and addresses still answer
    for host in ("localhost", "127.0.0.1", "app.localhost"):
        port = url.rsplit(":", 1)[1]
        assert httpx.get(f"{url}/_sandbox/sessions", headers={"host": f"{host}:{port}"}).status_code == 200


def test_a_cross_site_post_cannot_terminate_a_session(laptop: Sandbox) -> None:
    url = laptop.url
    token = httpx.post(f"{url}/_sandbox/tokens", json={"client": "me"}).json()["access_token"]
    session = httpx.post(
        f"{url}/quality-on-demand/v1/sessions", json=BODY, headers={"authorization": f"Bearer {token}"}
    ).json()["sessionId"]
    terminate = f"{url}/_sandbox/sessions/{session}/terminate"
    _refused(httpx.post(terminate, headers={"origin": "https://attacker.example"}))
    _refused(httpx.post(terminate, headers={"origin": "null"}))
    _refused(httpx.post(terminate, headers={"sec-fetch-site": "cross-site"}))
    assert httpx.get(f"{url}/_sandbox/sessions").json()[0]["qosStatus"] != "UNAVAILABLE"  # nothing changed
    assert httpx.post(terminate, headers={"origin": url}).status_code == 200  # its own page (/docs) may


def test_a_listener_and_its_token_endpoint_refuse_a_rebound_host_and_a_foreign_origin() -> None:
    with Listener(EventLog(), token="t" * 24, reuse=False) as listener:
        notify = {"authorization": "Bearer " + "t" * 24, "content-type": "application/json"}
        event = {"sessionId": str(uuid.uuid4()), "qosStatus": "AVAILABLE"}
        _refused(httpx.post(listener.url, json=event, headers={**notify, **_rebound(listener.url)}))
        _refused(httpx.post(listener.url, json=event, headers={**notify, "origin": "https://attacker.example"}))
        _refused(
            httpx.post(
                listener.token_url,
                data={"grant_type": "client_credentials"},
                headers={"origin": "https://attacker.example"},
            )
        )
        assert listener.accepted == 0


def test_a_relay_refuses_a_rebound_host_and_a_foreign_origin_but_serves_its_allowed_name() -> None:
    with Relay(reuse=False) as relay:
        _refused(httpx.get(f"{relay.url}/new", headers=_rebound(relay.url)))
        channel = relay.new_channel()
        _refused(httpx.post(channel, json={"x": 1}, headers={"origin": "https://attacker.example"}))
        assert httpx.post(channel, json={"x": 1}).status_code == 200  # a provider's webhook: no Origin
    with Relay(reuse=False, allowed_hosts=["relay.example.org"]) as named:
        port = named.url.rsplit(":", 1)[1]
        answer = httpx.get(f"{named.url}/new", headers={"host": f"relay.example.org:{port}"})
        assert answer.status_code == 307


def test_a_classroom_refuses_a_rebound_host_even_with_the_instructors_key(tmp_path: Path) -> None:
    with Classroom(students=1, roster=tmp_path / "roster.csv") as room:
        instructor = {"authorization": f"Bearer {room.roster.key(INSTRUCTOR)}"}
        _refused(httpx.get(f"{room.url}/_classroom/overview", headers={**instructor, **_rebound(room.url)}))
        assert httpx.get(f"{room.url}/_classroom/overview", headers=instructor).status_code == 200


def test_a_students_page_cannot_stage_an_event_with_the_instructors_key(tmp_path: Path) -> None:
    """A cross-site POST from a page open in the instructor's browser: refused whatever credential it carries."""
    with Classroom(students=1, roster=tmp_path / "roster.csv") as room:
        instructor = {"authorization": f"Bearer {room.roster.key(INSTRUCTOR)}"}
        stage = f"{room.url}/_classroom/events"
        event = {"kind": "terminate", "profile": "QOS_L"}
        student = {"authorization": f"Bearer {room.roster.key('student-01')}"}
        session = httpx.post(f"{room.url}/quality-on-demand/v1/sessions", json=BODY, headers=student)
        assert session.status_code == 201, session.text
        for foreign in ({"origin": "https://attacker.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"}):
            _refused(httpx.post(stage, json=event, headers={**instructor, **foreign}))
        staged = httpx.post(stage, json=event, headers={**instructor, "origin": room.url})  # its own page may
        assert staged.json()["terminated"] == [session.json()["sessionId"]]  # the refused ones terminated nothing


def test_a_listener_s_token_endpoint_refuses_a_rebound_host() -> None:
    with Listener(EventLog(), token="t" * 24, reuse=False) as listener:
        grant = {"grant_type": "client_credentials"}
        port = listener.token_url.split("/")[2].rsplit(":", 1)[1]
        _refused(httpx.post(listener.token_url, data=grant, headers={"host": f"{REBOUND}:{port}"}))
        answer = httpx.post(listener.token_url, data=grant, headers={"host": f"localhost:{port}"})
        assert answer.status_code != 403, answer.text  # a loopback name reaches it (its credentials decide)


def test_the_policy_follows_jupyter_server() -> None:
    loopback, anywhere = HostPolicy("127.0.0.1"), HostPolicy("0.0.0.0")
    assert not loopback.host_allowed("attacker.example:80") and loopback.host_allowed("[::1]:80")
    assert anywhere.host_allowed("instructor.local:8000")  # bound to the room: allow_remote_access
    room = HostPolicy("0.0.0.0", ["instructor.local", ".example.org"])
    assert room.host_allowed("instructor.local:8000") and room.host_allowed("relay.example.org")
    assert not room.host_allowed("attacker.example") and room.host_allowed("192.0.2.7:8000")
    assert room.refusal("POST", {b"host": b"instructor.local:8000", b"origin": b"http://instructor.local:8000"}) is None


def test_a_credential_header_given_twice_is_400_on_every_server(tmp_path: Path) -> None:
    """Two Authorization (or X-RapidAPI-Key) headers: which would count was each server's guess (the
    listener read the last, the sandbox the first), so none is read; right or wrong, it is 400."""
    key = "k" * 24
    with (
        Sandbox(api_key=key, reuse=False) as sandbox,
        Listener(EventLog(), token=key, reuse=False) as listener,
        Relay(reuse=False) as relay,
        Classroom(students=1, roster=tmp_path / "roster.csv") as room,
    ):
        right, wrong = ("authorization", f"Bearer {key}"), ("authorization", "Bearer " + "w" * 24)
        calls = [
            ("POST", listener.url, [("content-type", "application/json")]),
            ("POST", f"{sandbox.url}/qos-profiles/v1/retrieve-qos-profiles", []),
            ("GET", f"{room.url}/_classroom/overview", []),
            ("GET", f"{relay.url}/new", []),
        ]
        for method, url, extra in calls:
            for pair in ([wrong, right], [right, wrong], [right, right]):
                answer = httpx.request(method, url, json={}, headers=[*pair, *extra])
                assert answer.status_code == 400, (url, answer.text)
                assert answer.json()["code"] == "INVALID_ARGUMENT" and key not in answer.text
        profiles = f"{sandbox.url}/qos-profiles/v1/retrieve-qos-profiles"
        twice = [("x-rapidapi-key", key), ("x-rapidapi-key", key)]
        assert httpx.post(profiles, json={}, headers=twice).status_code == 400
        assert httpx.post(profiles, json={}, headers=[right]).status_code == 200  # once: as before
        assert listener.accepted == 0
