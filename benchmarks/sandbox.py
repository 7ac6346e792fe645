"""How many concurrent sessions the sandbox holds with its timers on time.

Phase 1 creates N live sessions over HTTP (each with a sink). Phase 2 speeds the clock up so
their expiries fall due at a chosen rate, and measures how late each status change happened,
how late each notification left, and how many notifications per second reached a receiver
running in its own process. The baseline is plain httpx POSTing the same CloudEvents to the same
receiver at the same concurrency: the ceiling the notifier is compared with.

It runs twice: with the garbage collector as it is, then with `gc.freeze()` once the sandbox has
started (the objects of startup, the modules and the app, move to a generation no collection
scans), and prints the collector's share of each: collections, the longest pause, tracked objects.
A full collection stops every thread, timers included.

    python benchmarks/sandbox.py [--sessions 10000] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

from qodlab import Sandbox
from qodlab.notifications import build_notification
from qodlab.sandbox import Outcome, StatusChange

HERE = Path(__file__).parent


def start_receiver() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_receiver.py"), "--lifetime", "900"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, f"http://127.0.0.1:{int(line.split()[1])}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def baseline(sink: str, count: int, concurrency: int = 8) -> float:
    """Plain httpx POSTs of CloudEvents: notifications per second."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def one() -> None:
            body = build_notification(
                "cloudevent-v1",
                event_id=str(uuid.uuid4()),
                session_id=str(uuid.uuid4()),
                qos_status="UNAVAILABLE",
                status_info="DURATION_EXPIRED",
                time="2026-01-01T00:00:00Z",
            )
            async with semaphore:
                await client.post(sink, json=body, headers={"Authorization": "Bearer t"})

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return count / (time.perf_counter() - started)


async def create_sessions(sandbox: Sandbox, sink: str, count: int, duration: int) -> float:
    """Create `count` sessions over HTTP, 8 at a time; returns creates per second."""
    semaphore = asyncio.Semaphore(8)
    async with sandbox.async_client(timeout=60) as client:

        async def one(i: int) -> None:
            async with semaphore:
                await client.create_session(
                    device={"phoneNumber": f"+3620{i:08d}"},
                    application_server="233.252.0.2",
                    qos_profile="QOS_E",
                    duration=duration,
                    sink=sink,
                    sink_token="bench",
                )

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - started)


class GcPauses:
    """The garbage collector's pauses (each stops every thread, timers included), per phase."""

    def __init__(self) -> None:
        self._start = 0.0
        self.reset()
        gc.callbacks.append(self)

    def reset(self) -> None:
        self.longest = 0.0
        self.total = 0.0
        self.full = 0  # generation-2 collections

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        pause = (time.perf_counter() - self._start) * 1000
        self.longest, self.total = max(self.longest, pause), self.total + pause
        self.full += info["generation"] == 2

    def __str__(self) -> str:
        return (
            f"GC: {self.full} full collections, longest pause {self.longest:6.1f} ms, all pauses {self.total:7.1f} ms"
        )


def run(n: int, target_rate: float, sink: str, base_rate: float, pauses: GcPauses, freeze: bool) -> float:
    """Phases 1 and 2 on a new sandbox; returns the latest expiry's lateness (ms)."""
    gc.collect()
    gc.unfreeze()
    with Sandbox(speed=1, provisioning_delay=0, reuse=False) as sandbox:
        if freeze:
            gc.freeze()  # after startup: what is there now is never scanned again
        print(f"{'with gc.freeze() after startup' if freeze else 'garbage collector as it is'}: "
              f"{len(gc.get_objects())} tracked objects, {gc.get_freeze_count()} frozen")  # fmt: skip
        lateness: list[float] = []
        expired = threading.Event()

        def on_change(change: StatusChange) -> None:
            if change.status_info is not None:
                lateness.append((sandbox.clock.now() - change.time) / sandbox.speed * 1000)
                if len(lateness) == n:
                    expired.set()

        sandbox.engine.subscribe(on_change)
        duration = 3600
        pauses.reset()
        creates = asyncio.run(create_sessions(sandbox, sink, n, duration))
        live = sum(1 for s in sandbox.engine.sessions() if s.status.value == "AVAILABLE")
        print(f"phase 1: {n} sessions created over HTTP        {creates:9.0f} /s   live at once: {live}")
        _wait_delivered(sandbox, n, timeout=120)
        print(f"  {pauses}; {len(gc.get_objects())} tracked objects now")

        # Expiries are spread as creation was: set the speed so they fall due at --rate.
        first = min(s.expires_at or 0 for s in sandbox.engine.sessions())
        last = max(s.expires_at or 0 for s in sandbox.engine.sessions())
        speed = max(1.0, (last - first) * target_rate / n)
        lead = first - sandbox.clock.now()
        pauses.reset()
        sandbox.speed = speed
        sandbox.advance(max(0.0, lead - 0.5 * speed))  # first expiry about half a second from now
        started = time.perf_counter()
        if not expired.wait(300):
            print(f"only {len(lateness)} of {n} expiries happened")
        _wait_delivered(sandbox, 2 * n, timeout=300)
        elapsed = time.perf_counter() - started
        deliveries = [d for d in sandbox.deliveries() if d.qos_status == "UNAVAILABLE"]
        delivered = [d for d in deliveries if d.outcome is Outcome.DELIVERED]
        window = _window(delivered) / speed  # sandbox seconds to real
        rate = len(delivered) / window if window else float("nan")
        lags = [d.lag_ms for d in deliveries if d.attempt == 1]
        print(f"phase 2: speed {speed:.0f}, expiries due at about {target_rate:.0f} /s")
        print(
            f"  status change late by      p50 {percentile(lateness, 0.5):7.2f} ms  p99 "
            f"{percentile(lateness, 0.99):7.2f} ms  max {max(lateness):7.2f} ms"
        )
        print(
            f"  notification left late by  p50 {percentile(lags, 0.5):7.2f} ms  p99 "
            f"{percentile(lags, 0.99):7.2f} ms  max {max(lags):7.2f} ms"
        )
        within = sum(1 for x in lateness if x <= 100) / len(lateness) * 100
        print(
            f"  expiries within 100 ms of due: {within:.2f} %   notifications leaving within 100 ms: "
            f"{sum(1 for x in lags if x <= 100) / len(lags) * 100:.2f} %"
        )
        print(
            f"  delivered {len(delivered)} of {n} expiry notifications, {rate:9.0f} /s "
            f"(ratio to baseline {rate / base_rate:.2f}); phase took {elapsed:.1f} s"
        )
        print(f"  mean lateness {statistics.fmean(lateness):.2f} ms; {pauses}")
    gc.unfreeze()
    return max(lateness)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=2000, help="target expiries per real second in phase 2")
    args = parser.parse_args()
    pauses = GcPauses()
    receiver, sink_root = start_receiver()
    try:
        base_rate = asyncio.run(baseline(f"{sink_root}/sink", min(args.sessions, 5000)))
        print(f"baseline: plain httpx POSTs to the receiver     {base_rate:9.0f} /s")
        as_is = run(args.sessions, args.rate, f"{sink_root}/sink", base_rate, pauses, freeze=False)
        frozen = run(args.sessions, args.rate, f"{sink_root}/sink", base_rate, pauses, freeze=True)
        print(f"latest expiry: {as_is:.1f} ms as is, {frozen:.1f} ms with gc.freeze() (goal: every one within 100 ms)")
    finally:
        receiver.terminate()
        receiver.wait(10)


def _window(delivered: list[object]) -> float:
    from datetime import datetime

    times = sorted(datetime.fromisoformat(d.time).timestamp() for d in delivered)  # type: ignore[attr-defined]
    return times[-1] - times[0] if len(times) > 1 else 0.0


def _wait_delivered(sandbox: Sandbox, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for d in sandbox.deliveries() if d.outcome is Outcome.DELIVERED) >= count:
            return
        time.sleep(0.1)


if __name__ == "__main__":
    main()
