"""Fixtures: real servers on 127.0.0.1, waited on by readiness, never by fixed sleeps."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qodlab import QodClient, Sandbox
from qodlab._net.server import ServerThread
from qodlab.sandbox.tls import LocalCertificates, local_certificates

from . import run_count


def pytest_configure(config: pytest.Config) -> None:
    run_count.register(config)  # every collected test runs, or the suite fails


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    run_count.unique_ids(items)  # before xdist schedules by id and --deselect matches ids


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, message: str = "condition") -> Any:
    """Poll `predicate` until it is truthy; bounded in time. Returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(0.005)


@contextlib.contextmanager
def cache_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the cached environment `folder` while it is built or updated.

    The suite runs in several pytest-xdist workers, and worktrees may share one `.cache/`: two
    processes building the same virtual environment at once would break it. The lock is a file
    beside the folder (`<folder>.lock`); the kernel releases it if its holder dies.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f"{folder.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() on arrival


@dataclass
class Receiver:
    """A small notification sink: records every POST; answers with scripted statuses."""

    server: ServerThread
    received: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # statuses for the next POSTs, then 204
    cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"{self.server.url}/sink"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until `count` requests have arrived; returns them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver got {len(self.received)} of {count} requests")
                self.cond.wait(left)
            return list(self.received)

    def bodies(self) -> list[Any]:
        with self.cond:
            return [r.body for r in self.received]


def _receiver_app(receiver: Receiver) -> Starlette:
    async def sink(request: Request) -> Response:
        raw = await request.body()
        with receiver.cond:
            status = receiver.script.pop(0) if receiver.script else 204
            if status < 300:
                receiver.received.append(Received(dict(request.headers), json.loads(raw), time.monotonic()))
                receiver.cond.notify_all()
        return Response(status_code=status)

    return Starlette(routes=[Route("/sink", sink, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real notification sink on 127.0.0.1."""
    holder: dict[str, Receiver] = {}
    server = ServerThread(None, name="test-receiver")
    holder["r"] = receiver = Receiver(server)
    server.app = _receiver_app(receiver)
    server.start()
    yield receiver
    server.stop()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fast sandbox: 600 sandbox seconds per real second, quick retries; an ended session stays
    readable for a real minute (36,000 sandbox seconds), not the 0.6 s that CAMARA's 360 would be here,
    so that a test reading it back does not race a busy machine (`test_network_termination_...` and
    `test_the_readme_s_retention_...` check the 360 s on their own sandboxes)."""
    with Sandbox(speed=600, retry_backoff=0.05, retention=36_000, reuse=False) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[QodClient]:
    with sandbox.client() as c:
        yield c


PHONE = "+36721601234567"


def session_fields(sink: str | None = None, token: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Friendly create_session fields for a test session."""
    fields: dict[str, Any] = {
        "device": {"phoneNumber": PHONE},
        "application_server": "233.252.0.2",
        "qos_profile": "QOS_L",
        "duration": 60,
    }
    if sink:
        fields["sink"] = sink
    if token:
        fields["sink_token"] = token
    fields.update(overrides)
    return fields


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LocalCertificates:
    """A private CA and a certificate for 127.0.0.1 and localhost (trustme), as PEM files."""
    return local_certificates(tmp_path_factory.mktemp("tls"))


def qodlab_process(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Run a `qodlab` command; returns it and its first line (printed once it serves)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qodlab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


def end_process(process: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
    """Send `sig` and wait for the process to exit; one that does not within `timeout` fails the test with
    every thread's stack (faulthandler's, on SIGABRT: PYTHONFAULTHANDLER is set where tests start one)."""
    process.send_signal(sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        try:
            _, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        pytest.fail(f"{process.args} did not exit within {timeout:g} s of signal {sig}; its stacks:\n{err[-6000:]}")
