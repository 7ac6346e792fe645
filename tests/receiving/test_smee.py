"""Against smee.io's own server (../shared/relays/, unmodified): the relay people use.

It is started once per worker with `run-smee.sh` on a free port, its npm install under a file
lock in the repo's git-ignored `.cache/relays/smee.io` (shared by worktrees and xdist workers).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qodlab import EventLog, InvalidRequest, Listener, Relay, RelayRefuses, Sandbox, Watcher, Workbench, create_request
from qodlab.notebook.workbench import SAFETY_NET_GRACE
from qodlab.notifications import build_notification
from qodlab.widgets.dashboard import Dashboard, dashboard

from ..conftest import cache_lock, session_fields, wait_until

ROOT = Path(__file__).resolve().parents[2]
RELAYS = ROOT.parent / "shared" / "relays"
WORKDIR = ROOT / ".cache" / "relays" / "smee.io"
SMEE_CLIENT = "5.0.0"  # the official client, pinned
CLIENT_DIR = ROOT / ".cache" / "relays" / f"smee-client-{SMEE_CLIENT}"
TOKEN = "smee-test-token"

pytestmark = pytest.mark.skipif(
    not (RELAYS / "run-smee.sh").is_file(),
    reason="needs ../shared/relays/ (smee.io's server) beside the checkout: "
    "see docs/testing.md, 'Tests that need ../shared'",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def smee() -> Iterator[str]:
    """The base URL of a running smee.io server; stopped by its PID at the end."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"smee.io's server needs {' and '.join(missing)}, not found on PATH")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with cache_lock(WORKDIR):  # the npm install (first run only) and the start, one process at a time
        process = subprocess.Popen(
            ["bash", str(RELAYS / "run-smee.sh"), str(WORKDIR), str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 300  # a first npm ci on a loaded machine
            while True:
                if process.poll() is not None:
                    err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                    pytest.fail(f"run-smee.sh exited with {process.returncode}: {err[-2000:]}")
                try:
                    if httpx.get(f"{url}/new", timeout=2.0).is_redirect:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("smee.io's server did not answer GET /new within 300 s")
                time.sleep(0.1)
        except BaseException:
            _stop(process)
            raise
    try:
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # its own session: bash exec'd node, nothing else
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def smee_client() -> Path:
    """The `smee` command of smee-client 5.0.0, npm-installed once under a file lock in `.cache/relays`."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("smee-client needs node and npm, not found on PATH")
    command = CLIENT_DIR / "node_modules" / ".bin" / "smee"
    with cache_lock(CLIENT_DIR):
        if not (CLIENT_DIR / ".installed").exists():
            shutil.rmtree(CLIENT_DIR, ignore_errors=True)
            CLIENT_DIR.mkdir(parents=True)
            (CLIENT_DIR / "package.json").write_text('{"private": true}\n')
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--save-exact",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    f"smee-client@{SMEE_CLIENT}",
                ],
                cwd=CLIENT_DIR,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"npm install smee-client@{SMEE_CLIENT} failed: {done.stderr[-2000:]}")
            (CLIENT_DIR / ".installed").touch()
    return command


def _channel(smee: str) -> str:
    response = httpx.get(f"{smee}/new", timeout=10.0)
    assert response.is_redirect, response.status_code
    return str(response.url.join(response.headers["location"]))


def _notification(session: str) -> bytes:
    body = build_notification(
        "cloudevent-v1",
        event_id=str(uuid.uuid4()),
        session_id=session,
        qos_status="AVAILABLE",
        time="2026-12-02T09:00:00Z",
    )
    return json.dumps(body).encode()


def _post(channel: str, body: bytes, kind: str) -> httpx.Response:
    return httpx.post(channel, content=body, headers={"content-type": kind, "authorization": f"Bearer {TOKEN}"})


def test_a_cloudevent_sent_as_application_json_reaches_the_log_exactly_once(smee: str) -> None:
    with pytest.warns(RelayRefuses), Listener(EventLog(), relay=_channel(smee), token=TOKEN) as listener:
        session = str(uuid.uuid4())
        response = _post(listener.url, _notification(session), "application/json")
        assert response.status_code == 200, response.text
        listener.log.wait_for(session, "AVAILABLE", timeout=15)
        other = str(uuid.uuid4())  # a later message through the same stream: nothing came twice before it
        assert _post(listener.url, _notification(other), "application/json").status_code == 200
        listener.log.wait_for(other, "AVAILABLE", timeout=15)
        assert list(listener.log.df["session_id"]) == [session, other]
        assert listener.duplicates == 0 and len(listener.rejections) == 0


def test_smee_refuses_application_cloudevents_json_with_415_and_relays_nothing(smee: str) -> None:
    with pytest.warns(RelayRefuses), Listener(EventLog(), relay=_channel(smee), token=TOKEN) as listener:
        refused = str(uuid.uuid4())
        response = _post(listener.url, _notification(refused), "application/cloudevents+json")
        assert response.status_code == 415
        assert "FST_ERR_CTP_INVALID_MEDIA_TYPE" in response.text
        passed = str(uuid.uuid4())  # the stream works: what follows as application/json arrives, alone
        assert _post(listener.url, _notification(passed), "application/json").status_code == 200
        listener.log.wait_for(passed, "AVAILABLE", timeout=15)
        wait_until(lambda: len(listener.log) == 1, message="the one relayed notification")
        assert refused not in set(listener.log.df["session_id"])


REFUSES = "127.0.0.1 refuses application/cloudevents+json (HTTP 415)"


def test_a_listener_learns_that_smee_refuses_cloudevents_and_says_so(smee: str) -> None:
    with pytest.warns(RelayRefuses, match=r"127\.0\.0\.1 refuses application/cloudevents\+json \(HTTP 415\)") as said:
        listener = Listener(EventLog(), relay=_channel(smee), token=TOKEN)
    with listener:
        assert "`qodlab relay`" in str(said[0].message) and "$QODLAB_RELAY" in str(said[0].message)
        assert said[0].filename == __file__  # the warning points at the caller's line, not qodlab's
        assert REFUSES in listener.how
        refusal = listener.relay_refusal()
        assert refusal is not None and refusal.status == 415
        assert listener.relay_refusal("application/json") is None  # its probe came through, and was dropped
        assert len(listener.log) == 0 and len(listener.rejections) == 0 and listener.accepted == 0


def test_a_workbench_on_auto_polls_past_smee_and_says_why(smee: str) -> None:
    with (
        Sandbox(speed=60, reuse=False) as sandbox,
        sandbox.client() as client,
        pytest.warns(RelayRefuses),
        Listener(EventLog(), relay=_channel(smee), token=TOKEN) as listener,
    ):
        with pytest.warns(RelayRefuses) as said:
            bench = Workbench(client, listener.log, listener, sandbox, poll_interval=5)
        try:
            words = f"{REFUSES}: notifications come by polling every 5 s"
            assert bench.how == words and str(said[0].message).startswith(words)
            assert words in Dashboard(bench).header.value
            assert bench.notifications == "poll" and bench.sink is None  # no sink for a relay that refuses it
            created = bench.create(create_request(**session_fields(duration=3600)))
            assert created.session is not None and created.session.sink is None
            bench.log.wait_for(str(created.session.session_id), "AVAILABLE", timeout=30)
            assert set(bench.log.df["shape"]) <= {"client", "poll"} and len(listener.rejections) == 0
        finally:
            bench.close()


def test_notifications_relay_through_smee_is_a_clear_error(smee: str) -> None:
    with (
        Sandbox(reuse=False) as sandbox,
        sandbox.client() as client,
        pytest.warns(RelayRefuses),
        Listener(EventLog(), relay=_channel(smee), token=TOKEN) as listener,
        pytest.raises(InvalidRequest) as refused,
    ):
        Workbench(client, listener.log, listener, sandbox, notifications="relay")
    message = str(refused.value)
    assert refused.value.field == "notifications" and REFUSES in message
    assert "`qodlab relay`" in message and "$QODLAB_RELAY" in message and "'poll'" in message


def test_network_as_code_root_release_notifies_through_smee_and_camara_1x_is_refused(smee: str) -> None:
    with (
        Sandbox(speed=60, provisioning_delay=0, reuse=False) as sandbox,
        pytest.warns(RelayRefuses),
        Listener(EventLog(), relay=_channel(smee), token=TOKEN) as listener,
    ):
        assert listener.relay_refusal("application/json") is None  # what the root release sends
        body = {
            "qosProfile": "QOS_L",
            "device": {"phoneNumber": "+36721601234567"},
            "applicationServer": {"ipv4Address": "233.252.0.2"},
            "notificationUrl": listener.url,
            "notificationAuthToken": f"Bearer {TOKEN}",
        }
        created = httpx.post(f"{sandbox.url}/sessions", json=body)  # as network-as-code SDK 1.x-3.x sends it
        assert created.status_code == 201, created.text
        session = created.json()["sessionId"]
        assert httpx.delete(f"{sandbox.url}/sessions/{session}").status_code == 204
        listener.log.wait_for(session, "UNAVAILABLE", timeout=15, status_info="DELETE_REQUESTED")
        assert list(listener.log.df["shape"]) == ["nac-hybrid", "nac-hybrid"] and listener.duplicates == 0
        with sandbox.client() as client:  # CAMARA 1.1.0: application/cloudevents+json, refused at the relay
            refused = client.create_session(**session_fields(listener.url, TOKEN, duration=600))
        outcome = wait_until(
            lambda: [d for d in sandbox.deliveries() if d.session_id == str(refused.session_id)],
            timeout=15,
            message="the 1.1.0 session's delivery",
        )
        assert (outcome[0].status_code, str(outcome[0].outcome)) == (415, "rejected")  # not retried into a refusal
        assert len(listener.log) == 2


def test_a_listener_down_loses_to_smee_what_polling_then_fills_exactly_once(smee: str) -> None:
    with (
        Sandbox(speed=60, provisioning_delay=0, retention=3600, reuse=False) as sandbox,  # readable a real minute
        sandbox.client() as client,
        pytest.warns(RelayRefuses),
        Listener(EventLog(), relay=_channel(smee), token=TOKEN) as listener,
    ):
        watcher = Watcher(client, listener.log, 0.5, clock=sandbox.clock, only_missing=SAFETY_NET_GRACE)
        try:
            body = {
                "qosProfile": "QOS_L",
                "device": {"phoneNumber": "+36721601234567"},
                "applicationServer": {"ipv4Address": "233.252.0.2"},
                "notificationUrl": listener.url,
                "notificationAuthToken": f"Bearer {TOKEN}",
            }
            session = httpx.post(f"{sandbox.url}/sessions", json=body).json()["sessionId"]  # the root release
            watcher.watch(session)
            listener.log.wait_for(session, "AVAILABLE", timeout=15)  # notified through smee.io
            listener.stop()  # the stream closes: smee.io keeps nothing for it
            sandbox.terminate(session)
            taken = lambda: any(d.qos_status == "UNAVAILABLE" and d.status_code == 200 for d in sandbox.deliveries())  # noqa: E731
            wait_until(
                taken, timeout=15, message="smee.io to take the UNAVAILABLE notification (and relay it to nobody)"
            )
            listener.start()  # nothing comes back: smee.io ignores Last-Event-ID
            listener.log.wait_for(session, "UNAVAILABLE", timeout=15, status_info="NETWORK_TERMINATED")  # polled
            wait_until(lambda: not watcher.followed, timeout=15, message="the watcher to let the ended session go")
        finally:
            watcher.stop()
        rows = list(zip(listener.log.df["qos_status"].astype(str), listener.log.df["shape"].astype(str), strict=True))
        assert rows == [("AVAILABLE", "nac-hybrid"), ("UNAVAILABLE", "poll")]  # complete, each event once
        assert listener.duplicates == 0 and len(listener.rejections) == 0


def test_smee_client_forwards_a_notification_from_qodlab_relay_to_a_listener(smee_client: Path) -> None:
    with Relay(reuse=False) as relay, Listener(EventLog(), token=TOKEN) as listener:
        channel = relay.new_channel()
        process = subprocess.Popen(
            [str(smee_client), "-u", channel, "-t", listener.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
        )
        said: list[str] = []  # its output, read in a thread so that waits stay bounded
        reader = threading.Thread(target=lambda: said.extend(process.stdout or ()), daemon=True)
        reader.start()
        try:
            name = channel.rsplit("/", 1)[1]
            wait_until(
                lambda: name in relay.app.channels and relay.app.channels[name].subscribers,
                timeout=30,
                message="smee-client to subscribe",
            )
            session = str(uuid.uuid4())  # sent as a CAMARA 1.x provider sends it: qodlab relay takes that type
            assert _post(channel, _notification(session), "application/cloudevents+json").status_code == 200
            event = listener.log.wait_for(session, "AVAILABLE", timeout=15)
            assert event.shape == "cloudevent-v1" and listener.duplicates == 0 and len(listener.rejections) == 0
            forwarded = f"POST {listener.url} - 204"  # smee-client's own word: the listener took it
            wait_until(lambda: any(forwarded in line for line in said), timeout=15, message=repr(forwarded))
        finally:
            _stop(process)
            reader.join(10)


def test_a_new_user_with_qodlab_relay_pointing_at_smee_gets_polling_and_one_warning(
    smee: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QODLAB_RELAY", smee)  # dashboard() on a real API opens a relay channel there
    with Sandbox(reuse=False) as network, network.client() as client:
        with pytest.warns(RelayRefuses) as said:
            board = dashboard(client, poll_interval=5)
        try:
            assert [str(w.message).split(". ")[0] for w in said] == [
                f"{REFUSES}: notifications come by polling every 5 s"
            ]
            assert board.workbench.notifications == "poll" and board.workbench.sink is None
            assert f"{REFUSES}: notifications come by polling every 5 s" in board.header.value
        finally:
            board.close()
        made: list[Listener] = []  # a spy on the listeners dashboard() starts (they are not in the registry)
        monkeypatch.setattr(
            importlib.import_module("qodlab.widgets.dashboard"),
            "Listener",
            lambda *a, **k: made.append(Listener(*a, **k)) or made[-1],
        )
        with pytest.raises(InvalidRequest, match="qodlab relay"):
            dashboard(client, notifications="relay")
        assert len(made) == 1 and not made[0].running  # the listener it started for it is stopped again
