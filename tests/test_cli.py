"""The `qodlab` command, run for real."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd

import qodlab
from qodlab import EventLog, QosStatus, Sandbox
from qodlab.demo import run_demo
from qodlab.plots import describe
from qodlab.sandbox.engine import StatusChange

from .conftest import Receiver, end_process, qodlab_process


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sandbox_command_serves_and_notifies(receiver: Receiver) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "qodlab", "sandbox", "--port", str(port), "--speed", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # printed once it serves: the readiness signal
        assert f"http://127.0.0.1:{port}" in first, first
        body = {
            "device": {"phoneNumber": "+36721601234567"},
            "applicationServer": {"ipv4Address": "233.252.0.2"},
            "qosProfile": "QOS_E",
            "duration": 60,
            "sink": receiver.url,
            "sinkCredential": {
                "credentialType": "ACCESSTOKEN",
                "accessToken": "t0k",
                "accessTokenExpiresUtc": "2099-01-01T00:00:00Z",
                "accessTokenType": "bearer",
            },
        }
        created = httpx.post(f"http://127.0.0.1:{port}/quality-on-demand/v1/sessions", json=body)
        assert created.status_code == 201, created.text
        got = receiver.wait_for(2, timeout=15)
        assert [(r.body["data"]["qosStatus"], r.body["data"].get("statusInfo")) for r in got] == [
            ("AVAILABLE", None),
            ("UNAVAILABLE", "DURATION_EXPIRED"),
        ]
        assert got[0].headers["authorization"] == "Bearer t0k"
    finally:
        returncode = end_process(process, signal.SIGINT)  # Ctrl-C
    assert returncode == 0


def test_ctrl_c_stops_a_server_command_whose_parent_ignored_it() -> None:
    """A job started with `&` from a script inherits SIGINT ignored, and Python leaves it so: `qodlab sandbox`
    handles it itself, as uvicorn does, or Ctrl-C and `kill -INT` would do nothing (the suite, run that way,
    waited on it for a minute)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qodlab", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert process.stdout is not None and "serving" in process.stdout.readline()
    assert end_process(process, signal.SIGINT, timeout=30) == 0
    assert process.stderr is not None and process.stderr.read().strip().endswith("stopped")


def test_demo_sees_every_expected_notification(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(out=tmp_path, stream=out) == 0, out.getvalue()  # speed 60: the extend has 4 real seconds
    text = out.getvalue()
    assert "demo complete" in text
    assert "UNAVAILABLE / NETWORK_TERMINATED" in text and "UNAVAILABLE / DELETE_REQUESTED" in text
    assert "422 QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE" in text
    events = pd.read_csv(tmp_path / "events.csv")
    assert len(events) == 8 and sorted(events["qos_status"]) == ["AVAILABLE"] * 4 + ["UNAVAILABLE"] * 4
    assert len(EventLog(tmp_path / "events.sqlite")) == 8
    picture = describe((tmp_path / "timeline.png").read_bytes())  # what it shows, not that it exists
    assert picture["rows"] == [
        "+3672…567 · QOS_L",
        "device@testcsp.net · QOS_M",
        "233.252.0.2 · QOS_S",
        "2001:db8:1234:5678:9abc… · QOS_E",
    ]
    down, late = picture["panels"][1:]
    assert len([line for line in down["lines"] if "profile" not in line]) == 4  # all four devices' links
    assert len(set(picture["xticks"])) == len(picture["xticks"]) >= 2 and late["points"] > 0


def test_demo_fails_when_a_notification_is_missing(tmp_path: Path) -> None:
    out = io.StringIO()
    status = run_demo(out=tmp_path, stream=out, timeout=20, prepare=lambda sandbox: sandbox.drop_notifications(1))
    text = out.getvalue()
    assert status == 1 and "MISSING" in text and "demo FAILED: 1 session" in text, text


def test_demo_on_a_machine_slower_than_its_clock_says_so_rather_than_crash(tmp_path: Path) -> None:
    """An action that comes after its session moved on is one line and a failed summary, not a traceback:
    once the session to extend is AVAILABLE, the clock runs at 10,000,000x (its 240 s pass in 24 us), so
    the demo, however quick, extends it too late."""
    out = io.StringIO()

    def outrun_the_demo(sandbox: Sandbox) -> None:
        def on_change(change: StatusChange) -> None:
            if change.profile == "QOS_E" and change.qos_status is QosStatus.AVAILABLE:
                sandbox.speed = 10_000_000

        sandbox.engine.subscribe(on_change)

    status = run_demo(speed=120, out=tmp_path, stream=out, timeout=10, prepare=outrun_the_demo)
    text = out.getvalue()
    assert status == 1 and "Traceback" not in text
    assert re.search(r"refused    extended: 40[49] \S+; this machine is slower than speed 1e\+07", text), text
    assert re.search(r"<- EXTEND REFUSED: 40[49]", text) and "demo FAILED" in text


def test_sandbox_command_as_an_openid_provider() -> None:
    port = _free_port()
    process, first = qodlab_process("sandbox", "--port", str(port), "--auth", "oidc", "--token-ttl", "600")
    try:
        assert process.stdout is not None
        lines = [first] + [process.stdout.readline() for _ in range(6)]  # the 7 lines it prints
        client = next(line for line in lines if "an OAuth client" in line).split()
        client_id, secret = client[client.index("id") + 1].rstrip(","), client[-1]
        root = f"http://127.0.0.1:{port}"
        token = httpx.post(f"{root}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        assert token.status_code == 200 and token.json()["expires_in"] == 600  # speed 1: real seconds too
        headers = {"authorization": f"Bearer {token.json()['access_token']}"}
        assert httpx.post(f"{root}/qos-profiles/v1/retrieve-qos-profiles", json={}, headers=headers).status_code == 200
        assert httpx.post(f"{root}/qos-profiles/v1/retrieve-qos-profiles", json={}).status_code == 401
    finally:
        end_process(process)


def test_version_and_help_answer_without_the_servers() -> None:
    code = (
        "import sys, contextlib, io\nfrom qodlab.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    main(['--version'])\n"
        "print(out.getvalue().strip(), [m for m in ('uvicorn', 'fastapi', 'pandas') if m in sys.modules])"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert shown == f"qodlab {qodlab.__version__} []"


def test_every_command_s_help_says_what_it_does_and_its_defaults() -> None:
    """Issue 34 §9: `qodlab sandbox --help` had no description, and most options no default."""
    import argparse
    import re

    from qodlab.cli import _parser

    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) == {"demo", "sandbox", "listen", "classroom", "relay"}
    for name in commands:
        shown = subprocess.run(
            [sys.executable, "-m", "qodlab", name, "--help"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PORT": ""},
        ).stdout
        flat = " ".join(shown.split())
        assert re.search(rf"^qodlab {name}: \w", shown, re.M), shown  # what it does, under the usage
        for action in commands[name]._actions:
            assert "(default True)" not in flat and "(default False)" not in flat  # a flag's default reads backwards
            if (
                not action.option_strings
                or action.default in (None, argparse.SUPPRESS)
                or isinstance(action.default, bool)
            ):
                continue
            said = flat.split(action.option_strings[-1], 2)[-1].split(" --")[0]  # its line in the help
            assert "default" in said, f"qodlab {name} {action.option_strings[-1]}: {said!r}"
