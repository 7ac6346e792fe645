"""`qodlab demo`: a scripted QoD scenario on the embedded sandbox, headless."""

from __future__ import annotations

import queue
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from .client import QodClient
from .errors import ApiError
from .models import QosStatus, StatusInfo
from .sandbox import Sandbox, StatusChange
from .sandbox.clock import rfc3339

__all__ = ["run_demo"]


@dataclass
class _Step:
    """One session of the scenario and what happens to it."""

    label: str
    device: dict[str, object]
    profile: str
    duration: int
    action: str | None = None  # "delete", "terminate" or "extend", done `at` sandbox seconds after start
    at: float = 0.0
    expect: StatusInfo = StatusInfo.DURATION_EXPIRED
    session_id: str = ""
    done: bool = False
    seen: list[str] = field(default_factory=list)


def _scenario() -> list[_Step]:
    return [
        _Step("expires", {"phoneNumber": "+36721601234567"}, "QOS_L", 300),
        _Step(
            "deleted",
            {"networkAccessIdentifier": "device@testcsp.net"},
            "QOS_M",
            600,
            "delete",
            120,
            StatusInfo.DELETE_REQUESTED,
        ),
        _Step(
            "terminated",
            {"ipv4Address": {"publicAddress": "233.252.0.2", "privateAddress": "192.0.2.25"}},
            "QOS_S",
            600,
            "terminate",
            180,
            StatusInfo.NETWORK_TERMINATED,
        ),
        _Step("extended", {"ipv6Address": "2001:db8:1234:5678:9abc:def0:fedc:ba98"}, "QOS_E", 120, "extend", 60),
    ]


def run_demo(speed: float = 60.0, out: str = "qodlab-demo", stream: TextIO | None = None, timeout: float = 30.0) -> int:
    """Run the scenario; 0 when every expected status change was seen, 1 otherwise."""
    say = _printer(stream or sys.stdout)
    steps = _scenario()
    changes: queue.Queue[StatusChange] = queue.Queue()
    with Sandbox(speed=speed, provisioning_delay=2.0, reuse=False) as sandbox, sandbox.client() as client:
        sandbox.engine.subscribe(changes.put)
        say(f"sandbox {sandbox.url} at speed {speed:g} (one sandbox minute per {60 / speed:g} s)")
        start = sandbox.clock.now()
        for step in steps:
            session = client.create_session(
                device=step.device,
                application_server="233.252.0.2",
                qos_profile=step.profile,
                duration=step.duration,
            )
            step.session_id = str(session.session_id)
            say(f"created {step.label:<10} {step.session_id} {step.profile} {step.duration} s -> {session.qos_status}")
        _show_bad_request(client, say)
        _follow(sandbox, client, steps, changes, start, timeout, say)
    return _summary(steps, say)


def _show_bad_request(client: QodClient, say: _Say) -> None:
    try:
        client.create_session(
            device={"phoneNumber": "+36721609999999"},
            application_server="233.252.0.2",
            qos_profile="QOS_XL",
            duration=60,
        )
    except ApiError as exc:
        say(f"bad request refused as expected: {exc.status} {exc.code}: {exc.message}")


def _follow(
    sandbox: Sandbox,
    client: QodClient,
    steps: list[_Step],
    changes: queue.Queue[StatusChange],
    start: float,
    timeout: float,
    say: _Say,
) -> None:
    by_id = {s.session_id: s for s in steps}
    deadline = time.monotonic() + timeout
    while not all(s.done for s in steps) and time.monotonic() < deadline:
        try:
            change = changes.get(timeout=0.05)
        except queue.Empty:
            change = None
        if change is not None and str(change.session_id) in by_id:
            step = by_id[str(change.session_id)]
            info = f" / {change.status_info.value}" if change.status_info else ""
            step.seen.append(f"{change.qos_status.value}{info}")
            step.done = change.qos_status is QosStatus.UNAVAILABLE
            say(f"{rfc3339(change.time)}  {step.label:<10} {change.qos_status.value}{info}")
        _act(sandbox, client, steps, start, say)


def _act(sandbox: Sandbox, client: QodClient, steps: list[_Step], start: float, say: _Say) -> None:
    now = sandbox.clock.now() - start
    for step in steps:
        if step.action is None or now < step.at or "AVAILABLE" not in step.seen:
            continue
        action, step.action = step.action, None
        if action == "delete":
            client.delete_session(step.session_id)
        elif action == "terminate":
            sandbox.terminate(step.session_id)
        else:
            extended = client.extend_session(step.session_id, 120)
            say(f"extended   {step.label:<10} to {extended.duration} s, now expires {extended.expires_at}")
            continue
        say(f"{action:<10} {step.label}")


def _summary(steps: list[_Step], say: _Say) -> int:
    missing = 0
    say("")
    say(f"{'session':<10} {'expected':<35} seen")
    for step in steps:
        expected = ["AVAILABLE", f"UNAVAILABLE / {step.expect.value}"]
        ok = step.seen == expected
        missing += not ok
        say(
            f"{step.label:<10} {' -> '.join(expected):<35} {' -> '.join(step.seen) or '(nothing)'}"
            f"{'' if ok else '   MISSING'}"
        )
    say("demo complete" if not missing else f"demo FAILED: {missing} session(s) without the expected notifications")
    return 0 if not missing else 1


class _Say:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def _printer(stream: TextIO) -> _Say:
    return _Say(stream)
