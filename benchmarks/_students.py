"""Load generator for benchmarks/classroom.py, run as its own process (its own core).

Keep-alive connections writing raw HTTP/1.1 (light enough that the server, not this process,
sets the pace). Modes:
  creates URL --key=KEY --count N --concurrency C   create sessions for N unique devices
  route URL --key=KEY --count N --concurrency C     GET /_sandbox/clock, the most trivial route
  students URL --key=KEYS_FILE --seconds S --sink S --token T   each key a student looping
                                               create, get, get, extend, delete
Writes one JSON object to --out: rate, latencies (ms), statuses, sessions created.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from urllib.parse import urlsplit


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, key: str) -> None:
        self.reader, self.writer, self.host, self.key = reader, writer, host, key

    async def call(self, method: str, path: str, body: dict[str, object] | None = None) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        data = await self.reader.readexactly(length) if length else b""
        return int(status_line.split(b" ", 2)[1]), data


async def connect(url: str, key: str) -> Connection:
    target = urlsplit(url)
    reader, writer = await asyncio.open_connection(target.hostname, target.port)
    return Connection(reader, writer, f"{target.hostname}:{target.port}", key)


def create_body(i: int, sink: str | None = None, token: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "device": {"phoneNumber": f"+36{i:011d}"}, "applicationServer": {"ipv4Address": "233.252.0.2"},
        "qosProfile": "QOS_L", "duration": 3600,
    }  # fmt: skip
    if sink:
        body["sink"] = sink
        body["sinkCredential"] = {
            "credentialType": "ACCESSTOKEN",
            "accessToken": token,
            "accessTokenExpiresUtc": "2099-01-01T00:00:00Z",
            "accessTokenType": "bearer",
        }
    return body


async def flood(url: str, key: str, count: int, concurrency: int, route: bool) -> dict[str, object]:
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        connection = await connect(url, key)
        while next_index < count:
            i = next_index
            next_index += 1
            started = time.perf_counter()
            if route:
                status, _ = await connection.call("GET", "/_sandbox/clock")
            else:
                status, _ = await connection.call("POST", "/quality-on-demand/v1/sessions", create_body(i))
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
        connection.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"rate": count / (time.perf_counter() - started), "statuses": dict(statuses), "latencies": latencies}


async def students(url: str, keys: list[str], seconds: float, sink: str, token: str) -> dict[str, object]:
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    created: list[str] = []
    deadline = time.monotonic() + seconds

    async def timed(
        connection: Connection, method: str, path: str, body: dict[str, object] | None
    ) -> tuple[int, bytes]:
        for _ in range(10):  # a student who backs off after a 429 and tries again, as qodlab's client does
            started = time.perf_counter()
            status, data = await connection.call(method, path, body)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
            if status != 429:
                break
            await asyncio.sleep(1.0)
        return status, data

    async def student(n: int, key: str) -> None:
        connection = await connect(url, key)
        loop = 0
        while time.monotonic() < deadline:
            loop += 1
            body = create_body(n * 100_000 + loop, sink, token)
            status, data = await timed(connection, "POST", "/quality-on-demand/v1/sessions", body)
            if status != 201:
                continue
            sid = json.loads(data)["sessionId"]
            created.append(sid)
            base = f"/quality-on-demand/v1/sessions/{sid}"
            await timed(connection, "GET", base, None)
            await timed(connection, "GET", base, None)
            await timed(connection, "POST", f"{base}/extend", {"requestedAdditionalDuration": 60})
            await timed(connection, "DELETE", base, None)
        connection.writer.close()

    await asyncio.gather(*(student(n, key) for n, key in enumerate(keys)))
    return {"statuses": dict(statuses), "latencies": latencies, "created": created}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["creates", "route", "students"])
    parser.add_argument("url")
    parser.add_argument("--key", required=True, help="an API key, or (students) a file of keys, one a line")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sink", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--out", required=True, help="write the result here, as JSON")
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    if args.mode == "students":
        with open(args.key) as file:
            keys = [line.strip() for line in file if line.strip()]
        result = runner(students(args.url, keys, args.seconds, args.sink, args.token))
    else:
        result = runner(flood(args.url, args.key, args.count, args.concurrency, args.mode == "route"))
    with open(args.out, "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main()
