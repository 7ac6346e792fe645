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
from urllib.parse import urlsplit


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


async def response_status(reader: asyncio.StreamReader) -> bytes:
    """Read one HTTP/1.1 response (headers, and a body of its Content-Length); returns its status code.

    Raises ConnectionResetError when the server closed the connection instead (it was killed).
    """
    status = (await reader.readline()).split(b" ", 2)
    if len(status) < 2:
        raise ConnectionResetError("the server closed the connection")
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status[1]


async def run(url: str, token: str, count: int, concurrency: int, rate: float | None) -> dict[str, object]:
    """Keep-alive connections writing raw HTTP/1.1 requests: a load generator light enough that the
    server, not the sender, sets the pace (aiohttp's client topped out near 12,000 requests/s)."""
    target = urlsplit(url)
    host, port, path = target.hostname or "127.0.0.1", target.port or 80, target.path or "/"
    sent: list[tuple[str, float]] = []
    failed = 0
    next_index = 0
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal failed, next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < count:
                i = next_index
                next_index += 1
                if rate:
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                event_id = str(uuid.uuid4())
                payload = body(event_id, f"s-{i % 1000}")
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: application/cloudevents+json\r\nContent-Length: {len(payload)}\r\n\r\n"
                )
                at = time.time()
                writer.write(head.encode() + payload)
                if (await response_status(reader)).startswith(b"2"):  # the listener says 204, a relay 200
                    sent.append((event_id, at))
                else:
                    failed += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"rate": len(sent) / elapsed, "failed": failed, "sent": sent}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--token", default="")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--out", default=None, help="write the result here (a large print to a pipe can come back cut)")
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is there on Linux and macOS
        runner = asyncio.run
    result = json.dumps(runner(run(args.url, args.token, args.count, args.concurrency, args.rate)))
    if args.out:
        with open(args.out, "w") as out:
            out.write(result)
    else:
        print(result)


if __name__ == "__main__":
    main()
