"""`qodlab demo`: a scripted QoD scenario on the embedded sandbox, headless.

Four sessions on four devices and profiles: one expires, one is deleted, one is terminated by
the network, one is extended; one bad request shows its API error. Notifications travel for real
from the sandbox to a listener on loopback and into an event log, which is printed and written
to the output folder.
"""

from __future__ import annotations

import queue
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pandas as pd

from .client.clients import QodClient
from .client.sessions import Session
from .errors import ApiError
from .eventlog import EventLog
from .models import QosStatus, StatusInfo
from .notifications import StatusEvent
from .plots import timeline_png
from .receiving.listener import Listener
from .sandbox import Sandbox

__all__ = ["run_demo"]


@dataclass
class _Step:
    """One session of the scenario and what happens to it."""

    label: str
    device: dict[str, object]
    profile: str
    duration: int
    action: str | None = None  # "delete", "terminate" or "extend", done `at` sandbox seconds after start
    at: float = 0.0  # (and once the session is AVAILABLE)
    expect: StatusInfo = StatusInfo.DURATION_EXPIRED
    session_id: str = ""
    seen: list[str] = field(default_factory=list)
    refused: str = ""  # what the API answered an action that came too late

    @property
    def done(self) -> bool:
        return any(s.startswith("UNAVAILABLE") for s in self.seen)


def _scenario() -> list[_Step]:
    ipv4 = {"publicAddress": "233.252.0.2", "privateAddress": "192.0.2.25"}
    nai = "device@testcsp.net"
    return [
        _Step("expires", {"phoneNumber": "+36721601234567"}, "QOS_L", 300),
        _Step("deleted", {"networkAccessIdentifier": nai}, "QOS_M", 600, "delete", 120, StatusInfo.DELETE_REQUESTED),
        _Step("terminated", {"ipv4Address": ipv4}, "QOS_S", 600, "terminate", 180, StatusInfo.NETWORK_TERMINATED),
        _Step("extended", {"ipv6Address": "2001:db8:1234:5678:9abc:def0:fedc:ba98"}, "QOS_E", 240, "extend"),
    ]


class _Say:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def run_demo(
    speed: float = 60.0,
    out: str | Path = "qodlab-demo",
    stream: TextIO | None = None,
    timeout: float = 30.0,
    prepare: Callable[[Sandbox], object] | None = None,
) -> int:
    """Run the scenario; 0 when every expected notification arrived, 1 otherwise.

    `prepare(sandbox)` runs before the first session is created: a teacher (or a test) can inject
    faults there and watch the demo notice.
    """
    say = _Say(stream or sys.stdout)
    steps = _scenario()
    folder = Path(out)
    log = _fresh_log(folder)
    arrivals: queue.Queue[StatusEvent] = queue.Queue()
    log.on_event(arrivals.put)
    with (
        Sandbox(speed=speed, provisioning_delay=2.0, reuse=False) as sandbox,
        Listener(log, path="/demo") as listener,
        sandbox.client() as client,
    ):
        say(f"sandbox  {sandbox.url}, speed {speed:g}: one sandbox minute per {60 / speed:g} s")
        say(f"listener {listener.url} (its bearer token is generated and never printed)")
        if prepare is not None:
            prepare(sandbox)
        start = sandbox.clock.now()
        sandbox.congest(factor=2.0, seconds=7200)  # a busy cell: the link rows show what each session lifts
        say("the cell is congested (twice its usual load) for the whole demo")
        created = _create(client, listener, steps, say)
        _show_bad_request(client, say)
        _follow(sandbox, client, steps, arrivals, start, timeout, say)
        rejected = len(listener.rejections)
        png = folder / "timeline.png"
        timeline = timeline_png(
            log, now=sandbox.now(), axis_title="sandbox clock (UTC)", sessions=created, metrics=sandbox
        )
        png.write_bytes(timeline)
    status = _summary(steps, say)
    _report(log, folder, rejected, say)
    say(f"wrote {png} (status by device and profile, how each ended, and the link under it)")
    log.close()
    return status


def _fresh_log(folder: Path) -> EventLog:
    """The demo's event log in `folder` (made if missing), without the events of an earlier run."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("events.sqlite*"):
        stale.unlink()
    return EventLog(folder / "events.sqlite")


def _create(client: QodClient, listener: Listener, steps: list[_Step], say: _Say) -> dict[str, Session]:
    """Create each step's session, notifying `listener`; the sessions by id."""
    created = {}
    for step in steps:
        session = client.create_session(
            device=step.device,
            application_server="233.252.0.2",
            qos_profile=step.profile,
            duration=step.duration,
            sink=listener.url,
            sink_token=listener.token,
        )
        step.session_id = str(session.session_id)
        created[step.session_id] = session
        say(f"created    {step.label:<10} {step.profile} {step.duration:>4} s  {session.qos_status.value}")
    return created


def _show_bad_request(client: QodClient, say: _Say) -> None:
    try:
        client.create_session(
            device={"phoneNumber": "+36721609999999"},
            application_server="233.252.0.2",
            qos_profile="QOS_XL",
            duration=60,
        )
    except ApiError as exc:
        say(f"refused    bad request: {exc.status} {exc.code}: {exc.message}")


def _follow(
    sandbox: Sandbox,
    client: QodClient,
    steps: list[_Step],
    arrivals: queue.Queue[StatusEvent],
    start: float,
    timeout: float,
    say: _Say,
) -> None:
    by_id = {s.session_id: s for s in steps}
    deadline = time.monotonic() + timeout
    next_progress = time.monotonic() + 1.0
    while not all(s.done for s in steps) and time.monotonic() < deadline:
        try:
            event = arrivals.get(timeout=0.05)
        except queue.Empty:
            event = None
        if event is not None and event.session_id in by_id:
            step = by_id[event.session_id]
            info = f" / {event.status_info.value}" if event.status_info else ""
            step.seen.append(f"{event.qos_status.value}{info}")
            when = event.event_time.strftime("%H:%M:%S") if event.event_time else "--:--:--"
            say(f"notified   {step.label:<10} {event.qos_status.value}{info}  (sandbox time {when})")
        _act(sandbox, client, steps, start, say)
        if time.monotonic() >= next_progress and not all(s.done for s in steps):
            waiting = [s.label for s in steps if not s.done]
            elapsed = (sandbox.clock.now() - start) / 60
            say(f"...        {elapsed:4.1f} sandbox minutes in; waiting for {', '.join(waiting)}")
            next_progress += 1.0


def _act(sandbox: Sandbox, client: QodClient, steps: list[_Step], start: float, say: _Say) -> None:
    now = sandbox.clock.now() - start
    for step in steps:
        if step.action is None or now < step.at or "AVAILABLE" not in step.seen:
            continue
        action, step.action = step.action, None
        try:
            if action == "delete":
                client.delete_session(step.session_id)
                say(f"deleted    {step.label}")
            elif action == "terminate":
                sandbox.terminate(step.session_id)
                say(f"network    terminated {step.label}")
            else:
                extended = client.extend_session(step.session_id, 120)
                say(f"extended   {step.label:<10} to {extended.duration} s")
        except ApiError as exc:  # the machine fell behind the sandbox's clock: the session had moved on
            step.refused = f"{action} refused: {exc.status} {exc.code}"
            late = f"this machine is slower than speed {sandbox.speed:g}"
            say(f"refused    {step.label}: {exc.status} {exc.code}; {late}")


def _summary(steps: list[_Step], say: _Say) -> int:
    missing = 0
    say("")
    say(f"{'session':<11}{'expected':<46}seen")
    for step in steps:
        expected = ["AVAILABLE", f"UNAVAILABLE / {step.expect.value}"]
        ok = step.seen == expected and not step.refused
        missing += not ok
        seen = " -> ".join(step.seen) or "(nothing)"
        flag = f"   <- {step.refused.upper()}" if step.refused else "" if ok else "   <- MISSING"
        say(f"{step.label:<11}{' -> '.join(expected):<46}{seen}{flag}")
    say("")
    say(
        "demo complete: every expected notification arrived"
        if not missing
        else f"demo FAILED: {missing} session(s) without the expected notifications or actions"
    )
    return 0 if not missing else 1


def _report(log: EventLog, folder: Path, rejected: int, say: _Say) -> None:
    frame = log.df
    say("")
    say(f"event log: {len(frame)} events, {rejected} rejected notifications")
    table = frame[["session_id", "qos_status", "status_info", "event_time", "shape"]].copy()
    table["session_id"] = table["session_id"].str.slice(0, 8)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        say(table.to_string(index=False))
    csv = log.to_csv(folder / "events.csv")
    say(f"wrote {csv} and {log.path}")
    if QosStatus.REQUESTED.value in set(frame["qos_status"].astype(str)):  # pragma: no cover - never notified
        say("note: a REQUESTED notification arrived, which providers do not send")
