"""The figures issue #32's limits imply, each beside a baseline run in the same process.

1. Memory under a flood of large create bodies: `--bodies` concurrent POSTs of `--mib` MiB each (streamed,
   no Content-Length) to a sandbox in this process; the peak resident memory it added, with the 1 MiB body
   cap (`qodlab.sandbox.middleware.MAX_BODY`) and with the cap lifted (the code before the issue).
2. A healthy sink's delivery delay beside `--slow` sessions whose sink answers after `--hold` seconds: its
   notification's arrival after its create's answer, with per-sink slots (8 per sink among 64), and with one
   shared pool of 32 (the code before the issue).

    python benchmarks/security.py [--bodies 8] [--mib 60] [--slow 40] [--hold 3]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from qodlab import Sandbox
from qodlab._net.server import ServerThread
from qodlab.sandbox import middleware

QOD = "/quality-on-demand/v1/sessions"


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _flood(url: str, bodies: int, mib: int) -> tuple[float, list[int]]:
    """Peak RSS added (MiB) while `bodies` threads each stream `mib` MiB to a create; their statuses."""
    block = b" " * 65536

    def chunks() -> Iterator[bytes]:
        for _ in range(mib * 16):
            yield block

    statuses: list[int] = []
    before, peak, done = _rss_mib(), [0.0], threading.Event()

    def sample() -> None:
        for _ in range(100_000):  # bounded: 0.01 s each
            peak[0] = max(peak[0], _rss_mib())
            if done.wait(0.01):
                return

    def post() -> None:
        try:
            json_type = {"content-type": "application/json"}
            response = httpx.post(url + QOD, content=chunks(), headers=json_type, timeout=120)
            statuses.append(response.status_code)
        except httpx.HTTPError as exc:  # the server may hang up on a refused body: as good as a 413
            statuses.append(-1 if "413" not in str(exc) else 413)

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=post) for _ in range(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    done.set()
    sampler.join()
    return peak[0] - before, statuses


class Sinks:
    """One loopback server: `/slow` answers after `hold` seconds, `/fast` at once."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.active = 0
        self.arrived: dict[str, float] = {}  # a fast POST's x-correlator -> when it arrived (monotonic)
        self.server = ServerThread(self.app, name="bench-sinks")
        self.server.start()

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        if scope["path"] == "/slow":
            self.active += 1
            await asyncio.sleep(self.hold)
            self.active -= 1
        else:
            correlator = dict(scope["headers"]).get(b"x-correlator", b"").decode()
            self.arrived.setdefault(correlator, time.monotonic())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _healthy_lag(sandbox: Sandbox, sinks: Sinks, slow: int, tag: int) -> float:
    """How long (ms) the healthy sink's first notification takes to arrive, from its create's answer, while
    `slow` sessions wait on the slow sink (the create's x-correlator comes back in its notifications)."""
    slow_sink = f"{sinks.server.url}/slow"
    fast_sink = f"{sinks.server.url.replace('127.0.0.1', 'localhost')}/fast"  # another sink (origin)

    def body(phone: str, sink: str) -> dict[str, Any]:
        return {"device": {"phoneNumber": phone}, "applicationServer": {"ipv4Address": "233.252.0.2"},
                "qosProfile": "QOS_L", "duration": 600, "sink": sink}  # fmt: skip

    with httpx.Client(base_url=sandbox.url) as http:
        for n in range(slow):
            http.post(QOD, json=body(f"+3670{tag}{n:06d}", slow_sink)).raise_for_status()
        for _ in range(2000):  # bounded: the slow deliveries are under way
            if sandbox.notifier.pending >= slow:
                break
            time.sleep(0.005)
        correlator = f"healthy-{tag}"
        http.post(QOD, json=body(f"+3670{tag}999999", fast_sink), headers={"x-correlator": correlator})
        answered = time.monotonic()
    for _ in range(6000):  # bounded: 30 s
        if correlator in sinks.arrived:
            return (sinks.arrived[correlator] - answered) * 1000
        time.sleep(0.002)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=8)
    parser.add_argument("--mib", type=int, default=60)
    parser.add_argument("--slow", type=int, default=40)
    parser.add_argument("--hold", type=float, default=3.0)
    args = parser.parse_args()

    with Sandbox(speed=60, provisioning_delay=0, reuse=False) as sandbox:
        capped, statuses = _flood(sandbox.url, args.bodies, args.mib)
        cap = middleware.MAX_BODY
        middleware.MAX_BODY = 2**40  # the code before the issue read any body whole
        try:
            uncapped, old = _flood(sandbox.url, args.bodies, args.mib)
        finally:
            middleware.MAX_BODY = cap
        print(f"flood of {args.bodies} x {args.mib} MiB create bodies: peak RSS +{capped:.0f} MiB with the "
              f"{cap // 1024} KiB cap (answers {sorted(set(statuses))}), +{uncapped:.0f} MiB without "
              f"(answers {sorted(set(old))}): {uncapped / max(capped, 1):.0f}x")  # fmt: skip

    sinks = Sinks(args.hold)
    try:
        with Sandbox(speed=60, provisioning_delay=0, reuse=False) as sandbox:
            now = _healthy_lag(sandbox, sinks, args.slow, 1)
        with Sandbox(speed=60, provisioning_delay=0, reuse=False) as sandbox:
            notifier = sandbox.notifier
            notifier.per_sink = 32  # the code before the issue: one shared pool of 32, per sink none
            notifier._slots = asyncio.Semaphore(32)
            before = _healthy_lag(sandbox, sinks, args.slow, 2)
    finally:
        for _ in range(int(args.hold * 100) + 200):  # bounded: the slow answers finish before the server stops
            if not sinks.active:
                break
            time.sleep(0.01)
        sinks.server.stop()
    print(f"a healthy sink beside {args.slow} sessions on a sink answering in {args.hold:g} s: its notification "
          f"arrived {now:.1f} ms after its create was answered with per-sink slots, {before:.1f} ms with one "
          "shared pool of 32 "
          f"({before / max(now, 0.001):.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
