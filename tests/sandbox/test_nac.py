"""Network as Code compatibility: the older API releases, and the official SDK run unchanged.

The SDK tests install `network-as-code` into virtual environments they create (cached in the
git-ignored `.cache/nac-venvs`, from the package index only) and run the documentation's sample
there against a sandbox and a listener running here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qodlab import EventLog, Listener, QodClient, QosStatus, Sandbox, StatusInfo
from qodlab.client.clients import NAC_HOST
from qodlab.client.providers import NAC_API_HOST
from qodlab.sandbox.nac_sdk import qos_base_url

from ..conftest import cache_lock

HERE = Path(__file__).parent
CACHE = HERE.parent / ".cache" / "nac-venvs"
DEVICE = {"networkAccessIdentifier": "device@testcsp.net", "phoneNumber": "36721601234567"}


@pytest.fixture
def nac_sandbox() -> Iterator[Sandbox]:
    with Sandbox(speed=60, provisioning_delay=0, reuse=False) as sandbox:
        yield sandbox


@pytest.fixture
def nac_listener() -> Iterator[Listener]:
    with Listener(EventLog(), path="/nac") as listener:
        yield listener


def _statuses(log: EventLog, session_id: str) -> list[tuple[str, str | None]]:
    frame = log.df[log.df["session_id"] == session_id]
    return [
        (str(s), None if isinstance(i, float) else str(i))
        for s, i in zip(frame["qos_status"], frame["status_info"].astype(object), strict=True)
    ]


# -- the releases over plain HTTP --------------------------------------------------------------


def test_root_release(nac_sandbox: Sandbox, nac_listener: Listener) -> None:
    root = nac_sandbox.url
    headers = {"X-RAPIDAPI-KEY": "anything", "content-type": "application/json"}
    empty = httpx.get(f"{root}/sessions", params={"phoneNumber": "36721601234567"}, headers=headers)
    assert empty.status_code == 200 and empty.json() == []
    created = httpx.post(
        f"{root}/sessions",
        headers=headers,
        json={
            "qosProfile": "QOS_L",
            "device": DEVICE,
            "applicationServer": {"ipv4Address": "233.252.0.2"},
            "notificationUrl": nac_listener.url,
            "notificationAuthToken": f"Bearer {nac_listener.token}",
        },
    )
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["duration"] == 3600 and session["qosStatus"] == "AVAILABLE"
    assert session["device"] == {"phoneNumber": "+36721601234567"}
    listed = httpx.get(f"{root}/sessions", params={"networkAccessIdentifier": "device@testcsp.net"}, headers=headers)
    assert [s["sessionId"] for s in listed.json()] == [session["sessionId"]]
    assert httpx.delete(f"{root}/sessions/{session['sessionId']}", headers=headers).status_code == 204
    nac_listener.log.wait_for(session["sessionId"], "UNAVAILABLE", timeout=10)
    assert _statuses(nac_listener.log, session["sessionId"]) == [
        ("AVAILABLE", None),
        ("UNAVAILABLE", "DELETE_REQUESTED"),
    ]
    assert set(nac_listener.log.df["shape"]) == {"nac-hybrid"}
    assert nac_listener.rejections.empty  # "Bearer <token>" sent as given: never "Bearer Bearer"


def test_qod_v0_release(nac_sandbox: Sandbox, nac_listener: Listener) -> None:
    base = f"{nac_sandbox.url}/qod/v0"
    created = httpx.post(
        f"{base}/sessions",
        json={
            "qosProfile": "QOS_M",
            "device": DEVICE,
            "applicationServer": {"ipv4Address": "233.252.0.2"},
            "duration": 600,
            "webhook": {"notificationUrl": nac_listener.url, "notificationAuthToken": f"Bearer {nac_listener.token}"},
        },
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["sessionId"]
    assert created.json()["webhook"] == {"notificationUrl": nac_listener.url}
    assert httpx.get(f"{base}/sessions/{session_id}").json()["qosStatus"] == "AVAILABLE"
    extended = httpx.post(f"{base}/sessions/{session_id}/extend", json={"requestedAdditionalDuration": 60})
    assert extended.json()["duration"] == 660
    found = httpx.post(f"{base}/retrieve-sessions", json={"device": {"phoneNumber": "+36721601234567"}})
    assert [s["sessionId"] for s in found.json()] == [session_id]
    assert httpx.post(f"{base}/retrieve-sessions", json={"device": {"phoneNumber": "+3611111111"}}).json() == []
    missing = httpx.post(
        f"{base}/sessions",
        json={"qosProfile": "QOS_M", "device": DEVICE, "applicationServer": {"ipv4Address": "233.252.0.2"}},
    )
    assert missing.status_code == 400 and missing.json()["code"] == "INVALID_ARGUMENT"
    nac_sandbox.terminate(session_id)
    event = nac_listener.log.wait_for(session_id, "UNAVAILABLE", timeout=10)
    assert event.status_info is StatusInfo.NETWORK_TERMINATED and event.shape == "nac-hybrid"
    assert event.raw["event"]["eventDetail"]["sessionId"] == session_id


def test_api_key_in_any_case(nac_listener: Listener) -> None:
    with Sandbox(api_key="k-1", reuse=False) as sandbox:
        url = f"{sandbox.url}/sessions"
        assert httpx.get(url, params={"phoneNumber": "+3612345678"}, headers={"x-rapidapi-key": "k-1"}).json() == []
        assert httpx.get(url, params={"phoneNumber": "+3612345678"}, headers={"X-RapidAPI-Key": "k-1"}).json() == []
        assert httpx.get(url, params={"phoneNumber": "+3612345678"}).status_code == 401


def test_base_url_per_sdk_version() -> None:
    assert qos_base_url("http://h:1", "3.1.0") == "http://h:1"
    assert qos_base_url("http://h:1", "4.0.0") == "http://h:1/qod/v0"
    assert qos_base_url("http://h:1", "7.2.1") == "http://h:1/qod/v0"
    assert qos_base_url("http://h:1", "8.0.0") == "http://h:1/quality-on-demand/v1"
    assert qos_base_url("http://h:1", "10.0.0") == "http://h:1"  # the generated client adds each API's path


# -- the official SDK, in its own virtual environments ----------------------------------------------


def sdk_python(version: str) -> Path:
    """A virtual environment with network-as-code==version, and qodlab as this environment has it.

    The SDK's own packages come first; this environment's site-packages (where the suite installed
    qodlab and its dependencies) are added after them by a .pth file, written on every call so that
    a cached environment always follows the interpreter running the tests. (`--system-site-packages`
    would add the *base* interpreter's site-packages instead, without qodlab when this is a venv.)
    """
    venv = CACHE / version
    python = venv / "bin" / "python"
    ready = venv / ".ready"
    with cache_lock(venv):  # another worker (or worktree) may be building the same environment
        if not ready.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, f"network-as-code=={version}"], check=True, timeout=900)
            ready.touch()
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
        lines = [f"import site; site.addsitedir({path!r})" for path in ours]
        (Path(site) / "qodlab-suite.pth").write_text("\n".join(lines) + "\n")
    return python


def _run(python: Path, script: str, *args: str) -> list[dict[str, object]]:
    out = subprocess.run([str(python), str(HERE / "nac" / script), *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", ["patch", "base_url"])
def test_sdk_3_sample_runs_verbatim(nac_sandbox: Sandbox, nac_listener: Listener, mode: str) -> None:
    python = sdk_python("3.1.0")
    target = nac_sandbox.url if mode == "patch" else qos_base_url(nac_sandbox.url, "3.1.0")
    report, after = _run(python, "sample_3.py", mode, target, nac_listener.url, nac_listener.token)
    session_id = str(report["session"])
    assert report["listed"] == [session_id] and after["after_delete"] == []
    nac_listener.log.wait_for(session_id, QosStatus.UNAVAILABLE, timeout=10)
    assert _statuses(nac_listener.log, session_id) == [("AVAILABLE", None), ("UNAVAILABLE", "DELETE_REQUESTED")]
    assert nac_listener.rejections.empty


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", ["patch", "base_url"])
def test_sdk_8_flow_runs(nac_sandbox: Sandbox, nac_listener: Listener, mode: str) -> None:
    python = sdk_python("8.0.0")
    target = nac_sandbox.url if mode == "patch" else qos_base_url(nac_sandbox.url, "8.0.0")
    report, cleared = _run(python, "sample_8.py", mode, target, nac_listener.url, nac_listener.token)
    session_id = str(report["session"])
    assert report["fetched"] == session_id and report["listed"] == [session_id]
    assert report["extended_duration"] == 4200
    assert cleared["after_clear"] == []
    nac_listener.log.wait_for(session_id, QosStatus.UNAVAILABLE, timeout=10)
    assert _statuses(nac_listener.log, session_id) == [("AVAILABLE", None), ("UNAVAILABLE", "DELETE_REQUESTED")]
    second = str(cleared["second"])
    nac_listener.log.wait_for(second, QosStatus.UNAVAILABLE, timeout=10, status_info="DELETE_REQUESTED")
    assert set(nac_listener.log.df["shape"]) == {"cloudevent-v1"}
    assert nac_listener.rejections.empty


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", ["patch", "base_url"])
def test_sdk_10_generated_client_runs_both_families(nac_sandbox: Sandbox, nac_listener: Listener, mode: str) -> None:
    python = sdk_python("10.0.0")
    [report] = _run(python, "sample_10.py", mode, nac_sandbox.url, nac_listener.url, nac_listener.token)
    v1, v0 = str(report["v1"]), str(report["v0"])
    assert str(report["v1_status"]).endswith("AVAILABLE") and report["v1_duration"] == 4200
    assert report["v1_listed"] == [v1] and report["nobody"] == []
    assert str(report["v0_status"]).endswith("AVAILABLE") and report["v0_duration"] == 660
    assert report["v0_listed"] == [v0] and report["v0_span"] == 600  # epoch seconds, read by its v0 models
    for session_id, shape in ((v1, "cloudevent-v1"), (v0, "nac-hybrid")):
        nac_listener.log.wait_for(session_id, QosStatus.UNAVAILABLE, timeout=10)
        assert _statuses(nac_listener.log, session_id) == [("AVAILABLE", None), ("UNAVAILABLE", "DELETE_REQUESTED")]
        assert set(nac_listener.log.df[nac_listener.log.df["session_id"] == session_id]["shape"]) == {shape}
    assert nac_listener.rejections.empty


def test_qod_v0_answers_the_generated_client_in_epoch_seconds() -> None:
    with Sandbox(speed=1, provisioning_delay=5, reuse=False) as sandbox:
        base = f"{sandbox.url}/qod/v0"
        body = {
            "qosProfile": "QOS_M",
            "device": DEVICE,
            "applicationServer": {"ipv4Address": "233.252.0.2"},
            "duration": 600,
        }
        generated = httpx.post(f"{base}/sessions", json=body, headers={"X-Fern-Language": "Python"}).json()
        assert generated["qosStatus"] == "REQUESTED"  # v0 models want both times, even before AVAILABLE
        assert isinstance(generated["startedAt"], int) and generated["expiresAt"] - generated["startedAt"] == 600
        classic = httpx.get(f"{base}/sessions/{generated['sessionId']}").json()
        assert "startedAt" not in classic  # ISO strings for the classic SDKs, once AVAILABLE
        sandbox.advance(5)
        classic = httpx.get(f"{base}/sessions/{generated['sessionId']}").json()
        assert classic["qosStatus"] == "AVAILABLE" and classic["startedAt"].endswith("Z")
        v1 = httpx.get(
            f"{sandbox.url}/quality-on-demand/v1/sessions/{generated['sessionId']}",
            headers={"X-Fern-Language": "Python"},
        ).json()
        assert v1["startedAt"].endswith("Z")  # CAMARA v1 is RFC 3339 for every client


# -- the production preset, wire-identical to the official SDK -------------------------------------


def _recorder() -> Any:
    spec = importlib.util.spec_from_file_location("nac_recorder", HERE / "nac" / "recorder.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Recorder()


def _qodlab_flow(recorder: Any, **preset: Any) -> list[dict[str, Any]]:
    """What `QodClient.network_as_code()` sends for the flow tests/sandbox/nac/record.py runs with the SDK."""
    with QodClient.network_as_code("nac-key", transport=recorder, **preset) as client:
        session = client.create_session(
            device={"phoneNumber": "+36721601234567"},
            application_server="233.252.0.2",
            qos_profile="QOS_L",
            duration=3600,
            sink="https://example.com/hook",
            sink_token="hook-token",
            sink_token_expires="2099-01-01T00:00:00Z",
        )
        client.get_session(session.session_id)
        client.retrieve_sessions({"phoneNumber": "+36721601234567"})
        session.extend(600)
        session.delete()
    return list(recorder.requests)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("version", ["8.0.0", "10.0.0"])
def test_the_preset_sends_what_the_official_sdk_sends(version: str) -> None:
    out = subprocess.run(
        [
            str(sdk_python(version)),
            str(HERE / "nac" / "record.py"),
            "nac-key",
            "https://example.com/hook",
            "hook-token",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    official = json.loads(out.stdout.splitlines()[-1])
    ours = _qodlab_flow(_recorder())
    assert [(r["method"], r["url"]) for r in ours] == [(r["method"], r["url"]) for r in official]
    for mine, theirs in zip(ours, official, strict=True):
        assert mine["headers"] == theirs["headers"], mine["url"]  # x-rapidapi-key, x-rapidapi-host
        assert mine["body"] == theirs["body"], mine["url"]
    assert official[0]["headers"]["x-rapidapi-host"] == NAC_API_HOST


def test_the_preset_lets_the_user_name_another_rapidapi_host() -> None:
    [create, *_] = _qodlab_flow(_recorder(), api_host="network-as-code.nokia-stage.rapidapi.com")
    assert create["headers"]["x-rapidapi-host"] == "network-as-code.nokia-stage.rapidapi.com"
    assert create["url"].startswith(f"https://{NAC_HOST}/quality-on-demand/v1/")


def test_network_as_code_profiles_are_its_documented_names_with_no_call() -> None:
    recorder = _recorder()
    with QodClient.network_as_code("nac-key", transport=recorder) as client:
        names = [p.name for p in client.list_profiles()]
        assert client.list_profiles(name="DOWNLINK_M_UPLINK_L")[0].name == "DOWNLINK_M_UPLINK_L"
        assert "documented" in client.profiles_source
    assert names[:4] == ["QOS_E", "QOS_S", "QOS_M", "QOS_L"] and len(names) == 13
    assert recorder.requests == []  # Network as Code has no QoS Profiles API
