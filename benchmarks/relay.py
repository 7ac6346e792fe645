"""Notifications through a relay, and by polling, against direct delivery in the same run.

1. Relay: N notifications POSTed (by a sender in its own process, 32 connections) either straight
   to a listener with a durable log (the baseline), or to a channel of `qodlab relay` (its own
   process, as a relay is another host) that the same kind of listener follows. Measured: events
   per second from the first POST until the last event is on disk, the ratio to direct, and
   events lost or doubled. A second relay run restarts the listener in the middle of the stream.
2. Polling: sessions on a sandbox, followed only by a `Watcher` at its default interval (5 s):
   how late each transition is seen (real seconds, p50 and p99: AVAILABLE, expiries, and network
   terminations at random times), and API calls per followed session per minute, both over the
   first minute (every session alive: the steady state) and over whole lives (a life's last,
   partial interval still costs a call, so short lives cost a little more per minute).

    python benchmarks/relay.py [--count 20000] [--sessions 40] [--skip-relay] [--skip-polling]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from qodlab import EventLog, Listener, QodClient, Sandbox, Watcher
from qodlab.relay import new_channel

sys.path.insert(0, str(Path(__file__).parent))
from listener import TOKEN, percentile, send

# -- 1. the relay ----------------------------------------------------------------------------------


def until_stored(log: EventLog, count: int, timeout: float = 300.0) -> float:
    """Wait until `count` events are in the log; returns when (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while len(log) < count and time.perf_counter() < deadline:
        time.sleep(0.002)
    return time.perf_counter()


def delivered(listener_url: str, log: EventLog, count: int, restart: Listener | None = None) -> tuple[float, int]:
    """POST `count` notifications to `listener_url`; (events per second into the log, events lost)."""
    result: dict[str, object] = {}
    start = time.perf_counter()
    sender = threading.Thread(target=lambda: result.update(send(listener_url, count, concurrency=32)))
    sender.start()
    if restart is not None:  # stop the listener mid-stream, then bring it back
        while len(log) < count // 2:
            time.sleep(0.001)
        restart.stop()
        time.sleep(0.5)  # the sender keeps posting into the relay meanwhile
        restart.start()
    sender.join()
    end = until_stored(log, count)
    acknowledged = {event_id for event_id, _ in result["sent"]}  # type: ignore[attr-defined]
    lost = len(acknowledged - set(log.df["event_id"]))
    return count / (end - start), lost


def relay_figures(count: int) -> None:
    relay = subprocess.Popen(
        [sys.executable, "-m", "qodlab", "relay", "--buffer", str(count)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert relay.stdout is not None
        server = relay.stdout.readline().split()[-1]
        with tempfile.TemporaryDirectory() as folder:
            rows = []
            with Listener(EventLog(Path(folder) / "direct.sqlite"), token=TOKEN) as direct:
                rows.append(("direct to the listener (baseline)", *delivered(direct.url, direct.log, count), 0))
            for restart in (False, True):
                log = EventLog(Path(folder) / f"relay-{restart}.sqlite")
                with Listener(log, relay=new_channel(server), token=TOKEN) as relayed:
                    rate, lost = delivered(relayed.url, log, count, relayed if restart else None)
                    label = "through qodlab relay" + (", listener restarted" if restart else "")
                    rows.append((label, rate, lost, relayed.duplicates))
                log.close()
    finally:
        relay.terminate()
        relay.wait(10)
    base = rows[0][1]
    print(f"relay: {count} notifications, 32 connections, durable log (SQLite), sender and relay in own processes")
    for label, rate, lost, doubled in rows:
        print(
            f"  {label:45} {rate:8.0f} events/s  {rate / base:5.2f}x direct   lost {lost}   repeats dropped {doubled}"
        )


# -- 2. polling ------------------------------------------------------------------------------------


class _Counted(httpx.HTTPTransport):
    """Counts the watcher's GETs, with their times."""

    def __init__(self) -> None:
        super().__init__()
        self.gets: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.gets.append(time.time())
        return super().handle_request(request)


def polling_figures(sessions: int, speed: float = 10.0) -> None:
    """Sessions of 800 to 2,000 sandbox s (80 to 200 real s); a third are terminated after the first minute."""
    rng = random.Random(7)
    changes: dict[tuple[str, str], float] = {}  # (session, status) -> wall time it happened
    log = EventLog()
    counted = _Counted()
    with Sandbox(speed=speed, reuse=False) as sandbox, QodClient.for_sandbox(sandbox, transport=counted) as client:
        sandbox.engine.subscribe(lambda c: changes.__setitem__((str(c.session_id), c.qos_status.value), time.time()))
        watcher = Watcher(client, log, clock=sandbox.clock)  # the default interval
        started: dict[str, float] = {}
        timers = []
        for i in range(sessions):
            session = client.create_session(
                device={"phoneNumber": f"+3670{i:07d}"},
                application_server="233.252.0.2",
                qos_profile="QOS_M",
                duration=(duration := rng.randint(800, 2000)),
            )
            session_id = str(session.session_id)
            watcher.watch(session_id, known=session)  # the create's answer counts as the first look
            started[session_id] = time.time()
            if i % 3 == 0:
                at = rng.uniform(61.0, duration / speed - 5)  # after the first minute, before it expires
                timer = threading.Timer(at, sandbox.terminate, [session_id])
                timer.start()
                timers.append(timer)
        first_minute = (time.time(), time.time() + 60.0)
        deadline = time.monotonic() + 2000 / speed + 30
        while watcher.followed and time.monotonic() < deadline:
            time.sleep(0.1)
        watcher.stop()
        for timer in timers:
            timer.cancel()
    frame = log.df
    late = {"AVAILABLE": [], "UNAVAILABLE": []}  # type: dict[str, list[float]]
    followed_minutes = 0.0
    for session_id, first in started.items():
        rows = frame[frame["session_id"] == session_id]
        for status in late:
            seen = rows[rows["qos_status"] == status]["received_at"]
            if len(seen) and (session_id, status) in changes:
                late[status].append(seen.iloc[0].timestamp() - changes[(session_id, status)])
        ended = rows[rows["qos_status"] == "UNAVAILABLE"]["received_at"]
        followed_minutes += ((ended.iloc[0].timestamp() if len(ended) else time.time()) - first) / 60
    every = late["AVAILABLE"] + late["UNAVAILABLE"]
    print(f"polling: {sessions} sessions at sandbox speed {speed:g}, Watcher every {watcher.interval:g} s (default)")
    for label, values in (("AVAILABLE", late["AVAILABLE"]), ("UNAVAILABLE", late["UNAVAILABLE"]), ("all", every)):
        print(
            f"  seen late, {label:12} p50 {percentile(values, 0.5):5.2f} s   p99 {percentile(values, 0.99):5.2f} s"
            f"   ({len(values)} transitions; goal p99 <= {watcher.interval:g} s)"
        )
    steady = sum(1 for at in counted.gets if first_minute[0] <= at < first_minute[1])
    print(
        f"  API calls per followed session per minute: {steady / sessions:5.2f} in the first minute (every"
        f" session alive), {watcher.calls / followed_minutes:5.2f} over whole lives (goal <= 12)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--skip-relay", action="store_true")
    parser.add_argument("--skip-polling", action="store_true")
    args = parser.parse_args()
    if not args.skip_relay:
        relay_figures(args.count)
    if not args.skip_polling:
        polling_figures(args.sessions)


if __name__ == "__main__":
    main()
