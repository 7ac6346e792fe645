"""Load generator for benchmarks/listener.py, run as its own process (its own core).

POSTs N hybrid-shape notifications with unique ids at a given concurrency (and optionally a
paced rate), then prints one JSON line: the rate, and per acknowledged event its id and the
wall-clock time its POST started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import aiohttp


def body(event_id: str, session_id: str) -> bytes:
    detail = {"sessionId": session_id, "qosStatus": "AVAILABLE"}
    return json.dumps(
        {
            "id": event_id,
            "source": "bench",
            "type": "org.camaraproject.quality-on-demand.v0.qos-status-changed",
            "specversion": "1.0",
            "datacontenttype": "application/json",
            "time": "2026-11-26T10:00:00Z",
            "data": detail,
            "event": {"eventType": "QOS_STATUS_CHANGED", "eventTime": "2026-11-26T10:00:00Z", "eventDetail": detail},
        }
    ).encode()


async def run(url: str, token: str, count: int, concurrency: int, rate: float | None) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"}
    sent: list[tuple[str, float]] = []
    failed = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    start = time.perf_counter()

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failed
        while not queue.empty():
            i = queue.get_nowait()
            if rate:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            event_id = str(uuid.uuid4())
            at = time.time()
            async with session.post(url, data=body(event_id, f"s-{i % 1000}"), headers=headers) as response:
                await response.read()
                if response.status == 204:
                    sent.append((event_id, at))
                else:
                    failed += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"rate": len(sent) / elapsed, "failed": failed, "sent": sent}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--token", default="")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=None)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.token, args.count, args.concurrency, args.rate))))


if __name__ == "__main__":
    main()
