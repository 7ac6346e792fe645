"""The container recipe for `qodlab relay` (deploy/relay.Dockerfile), run as its CMD says, without Docker.

No Docker daemon is needed: the test reads the recipe's ENV and CMD and runs that command with that
environment (the port a free one instead of 8080, as a platform's $PORT would be), then uses it as
a notebook would through a TLS-terminating proxy: /new redirects to the forwarded origin, and a
listener that follows a channel there is told nothing is refused and gets a CAMARA notification.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import httpx

from qodlab import EventLog, Listener, RelayRefuses
from qodlab.notifications import build_notification

from ..conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "deploy" / "relay.Dockerfile"


def _instructions() -> dict[str, str]:
    """The recipe's instructions by name (the last of each; it has no continuation lines)."""
    found: dict[str, str] = {}
    for line in RECIPE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, rest = line.strip().partition(" ")
            found[name.upper()] = rest.strip()
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_recipe_installs_the_package_and_runs_qodlab_relay_on_all_interfaces_at_port() -> None:
    steps = _instructions()
    assert json.loads(steps["CMD"]) == ["qodlab", "relay", "--host", "0.0.0.0"]  # --port: $PORT
    env = dict(part.split("=", 1) for part in shlex.split(steps["ENV"]))
    assert env == {"PORT": "8080", "FORWARDED_ALLOW_IPS": "*"} and steps["EXPOSE"] == "8080"
    assert steps["USER"] == "nobody"
    ignored = (ROOT / "deploy" / "relay.Dockerfile.dockerignore").read_text().split()
    assert {"*", "!pyproject.toml", "!README.md", "!qodlab"} <= set(ignored)  # the context: the package alone


def test_the_recipes_command_serves_a_relay_that_carries_camara_behind_a_proxy() -> None:
    steps = _instructions()
    env = dict(part.split("=", 1) for part in shlex.split(steps["ENV"]))
    port = _free_port()
    command = json.loads(steps["CMD"])
    process = subprocess.Popen(
        [sys.executable, "-m", "qodlab", *command[1:]],
        env={**os.environ, **env, "PORT": str(port), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert f"qodlab relay serving http://0.0.0.0:{port}" in first, first + (
            process.stderr.read() if process.poll() else ""
        )
        proxy = {"x-forwarded-proto": "https", "x-forwarded-host": "relay.example.org"}
        new = httpx.get(f"http://127.0.0.1:{port}/new", headers=proxy)
        assert new.status_code == 307 and new.headers["location"].startswith("https://relay.example.org/")
        channel = f"http://127.0.0.1:{port}/{new.headers['location'].rsplit('/', 1)[1]}"
        with warnings.catch_warnings():
            warnings.simplefilter("error", RelayRefuses)
            listener = Listener(EventLog(), relay=channel, token="deploy-token")
        with listener:
            assert listener.relay_refusal() is None and "refuses" not in listener.how
            session = str(uuid.uuid4())
            body = build_notification(
                "cloudevent-v1",
                event_id=str(uuid.uuid4()),
                session_id=session,
                qos_status="AVAILABLE",
                time="2026-12-02T09:00:00Z",
            )
            headers = {"content-type": "application/cloudevents+json", "authorization": "Bearer deploy-token"}
            assert httpx.post(channel, content=json.dumps(body), headers=headers).status_code == 200
            listener.log.wait_for(session, "AVAILABLE", timeout=15)
            wait_until(lambda: listener.accepted == 1, message="one accepted")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
