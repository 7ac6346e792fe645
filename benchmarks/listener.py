"""The listener under load, against a receiver written the way provider docs show it.

In one run, the same concurrent POST load (from a sender in its own process) goes to:
  (0) the ceiling: a trivial ASGI app (read the body, answer 204) on the same server settings
      (qodlab's ServerThread: uvicorn, uvloop, httptools), the most any app on it can do;
  (a) the baseline: FastAPI, a sync `def` handler validating the body with a pydantic model of
      the Network as Code hybrid shape and comparing the Authorization header with a string;
  (b) the qodlab listener with the SQLite journal on, and (c) with it off.
It prints notifications per second, the ratios to the ceiling and to the baseline, p50/p99 latency
from POST to the event being in the log at a paced 1,000 events/s, and acknowledged events
missing from the log.
Then it fills a log with 1,000,000 events and times `.df` and `.intervals()`, and its memory.

    python benchmarks/listener.py [--count 20000] [--million 1000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

from qodlab import EventLog, Listener, StatusEvent
from qodlab._net.asgi import Receive, Scope, Send, lifespan
from qodlab._net.server import ServerThread
from qodlab.models import QosStatus
from qodlab.notifications import build_notification

HERE = Path(__file__).parent
TOKEN = "bench-token"


# -- (0) the ceiling: nothing but the server ------------------------------------------------


async def trivial_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


# -- (a) the baseline, as provider docs show a receiver ---------------------------------------


class EventDetail(BaseModel):
    sessionId: str  # noqa: N815
    qosStatus: str  # noqa: N815
    statusInfo: str | None = None  # noqa: N815


class Event(BaseModel):
    eventType: str  # noqa: N815
    eventTime: str  # noqa: N815
    eventDetail: EventDetail  # noqa: N815


class Notification(BaseModel):
    id: str
    source: str
    type: str
    specversion: str
    time: str
    data: EventDetail
    event: Event


def baseline_app(received: list[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/notifications", status_code=204)
    def notify(notification: Notification, authorization: str = Header("")) -> None:
        if authorization != f"Bearer {TOKEN}":
            raise HTTPException(401)
        received.append(notification.id)

    return app


# -- measuring ------------------------------------------------------------------------------


def send(url: str, count: int, concurrency: int = 64, rate: float | None = None) -> dict[str, Any]:
    """Run the sender; adds `cpu_us`: this process's CPU time per acknowledged POST (the server's cost,
    since the main thread only waits), which gives its capacity on one core whatever the sender can do."""
    cpu = time.process_time()
    command = [
        sys.executable,
        str(HERE / "_sender.py"),
        url,
        "--token",
        TOKEN,
        "--count",
        str(count),
        "--concurrency",
        str(concurrency),
    ]
    if rate:
        command += ["--rate", str(rate)]
    with tempfile.TemporaryDirectory() as folder:
        result_file = Path(folder) / "sent.json"
        subprocess.run([*command, "--out", str(result_file)], check=True, timeout=600)
        result = dict(json.loads(result_file.read_text()))
    result["cpu_us"] = (time.process_time() - cpu) / max(1, len(result["sent"])) * 1e6
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_listener(journal: bool, count: int) -> tuple[float, float, list[float], int]:
    """(rate, CPU µs per event, paced latencies in ms, acknowledged events missing from the log)."""
    with tempfile.TemporaryDirectory() as folder:
        log = EventLog(Path(folder) / "events.sqlite" if journal else None)
        visible: dict[str, float] = {}
        log.on_event(lambda event: visible.__setitem__(event.event_id, time.time()))
        with Listener(log, token=TOKEN, path=f"/bench-{uuid.uuid4().hex[:6]}") as listener:
            loaded = send(listener.url, count)
            paced = send(listener.url, 3000, concurrency=16, rate=1000)
        ids = set(log.df["event_id"])
        acknowledged = [event_id for event_id, _ in loaded["sent"]] + [event_id for event_id, _ in paced["sent"]]
        missing = sum(1 for event_id in acknowledged if event_id not in ids)
        latencies = [(visible[event_id] - at) * 1000 for event_id, at in paced["sent"] if event_id in visible]
        log.close()
        return float(loaded["rate"]), float(loaded["cpu_us"]), latencies, missing


def million(n: int) -> None:
    gc.collect()
    before = rss_mb()
    log = EventLog()
    raws = [
        json.dumps(
            build_notification(
                "cloudevent-v1",
                event_id=str(uuid.uuid4()),
                session_id="x",
                qos_status="AVAILABLE",
                time="2026-11-26T10:00:00.000Z",
            )
        )
        for _ in range(1000)
    ]
    started = time.perf_counter()
    for i in range(n):
        session = f"session-{i // 2:07d}"
        status = QosStatus.AVAILABLE if i % 2 == 0 else QosStatus.UNAVAILABLE
        log.append(
            StatusEvent(
                event_id=f"{i:012d}-{uuid.uuid4().hex[:12]}",
                session_id=session,
                qos_status=status,
                status_info=None,
                event_time=None,
                type="org.camaraproject.quality-on-demand.v1.qos-status-changed",
                source="bench",
                shape="cloudevent-v1",
                raw={},
            ),
            raws[i % 1000],
        )
    filled = time.perf_counter() - started
    started = time.perf_counter()
    frame = log.df
    df_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cached = log.df
    cached_seconds = time.perf_counter() - started
    started = time.perf_counter()
    intervals = log.intervals()
    interval_seconds = time.perf_counter() - started
    after = rss_mb()
    print(f"1M events: appended {n} in {filled:.1f} s ({n / filled:,.0f} /s)")
    print(
        f"  .df           {df_seconds:6.3f} s  ({len(frame):,} rows; read again unchanged: "
        f"{cached_seconds * 1000:.2f} ms, same object: {cached is frame})"
    )
    print(f"  .intervals()  {interval_seconds:6.3f} s  ({len(intervals):,} rows)")
    print(f"  memory        {after - before:6.0f} MB resident for the log, its DataFrame and intervals")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--million", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.million:
        million(args.million)

    ceiling = ServerThread(trivial_app, name="ceiling")
    ceiling.start()
    try:
        top = send(f"{ceiling.url}/notifications", args.count)
    finally:
        ceiling.stop()
    top_rate = float(top["rate"])
    received: list[str] = []
    server = ServerThread(baseline_app(received), name="baseline")
    server.start()
    try:
        base = send(f"{server.url}/notifications", args.count)
    finally:
        server.stop()
    base_rate, base_cpu = float(base["rate"]), float(base["cpu_us"])
    print(
        "                                              measured rate       server CPU per event (capacity of one core)"
    )
    print(f"(0) ceiling: a trivial ASGI app, same server   {top_rate:8.0f} /s          {float(top['cpu_us']):6.1f} us")
    print(
        f"(a) baseline FastAPI sync handler + pydantic  {base_rate:8.0f} /s          {base_cpu:6.1f} us "
        f"({1e6 / base_cpu:7.0f} /s)   missing {sum(1 for e, _ in base['sent'] if e not in set(received))}"
    )
    for journal in (True, False):
        rate, cpu, latencies, missing = run_listener(journal, args.count)
        label = "(b) qodlab listener, SQLite journal on" if journal else "(c) qodlab listener, journal off     "
        print(
            f"{label}        {rate:8.0f} /s {rate / base_rate:5.2f}x   {cpu:6.1f} us ({1e6 / cpu:7.0f} /s) "
            f"{base_cpu / cpu:5.2f}x   missing {missing}   {rate / top_rate:4.2f}x the ceiling"
        )
        print(
            f"    POST -> in the log, paced at 1,000/s: p50 {percentile(latencies, 0.5):6.2f} ms  "
            f"p99 {percentile(latencies, 0.99):6.2f} ms  ({len(latencies)} events)"
        )


if __name__ == "__main__":
    main()
