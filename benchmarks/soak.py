"""Soak: notifications from many sessions through a durable listener over HTTP, SIGKILLed along the way.

    python benchmarks/soak.py                      # 1,000,000 notifications from 100,000 sessions
    python benchmarks/soak.py -n 100000 -s 10000   # a smaller run (about a minute)

A `Listener` on an `EventLog` file runs in its own process. A sender (raw HTTP/1.1 on keep-alive
connections, as a provider's retrying client) POSTs CloudEvents, each session with its own
`source` (CAMARA's `.../qod/v1/sessions/<id>`) and small ids that repeat across sessions (so
identity must be source + id), and retries every notification not answered 2xx, as a provider
does. The listener is SIGKILLed `--kills` times along the way and started again on the same file
and port. At the end the file is opened again and compared with what was sent.

Prints: notifications lost (acknowledged, or sent, but not in the file: goal 0), doubled (stored
twice: goal 0), throughput, the listener's memory (peak RSS), the time each restart took to
reopen the file and answer, and the final reopen time. Everything runs on one core (the machine
is shared): sender and listener alike, so the rate is a floor, not the listener's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _sender import response_status  # benchmarks/ is on the path: this file is run as a script

TOKEN = "soak-token"
TYPE = "org.camaraproject.quality-on-demand.v1.qos-status-changed"
LISTENER = """
import sys, threading, time
started = time.perf_counter()
from qodlab import EventLog, Listener
log = EventLog(sys.argv[1])
opened = time.perf_counter() - started
listener = Listener(log, port=int(sys.argv[2]), token=sys.argv[3])
print(f"ready {opened:.3f} {len(log)}", flush=True)
threading.Event().wait()
"""


def source(session: int) -> str:
    return f"https://soak.example.com/qod/v1/sessions/s-{session}"


def body(index: int, sessions: int) -> bytes:
    session, seq = index % sessions, index // sessions
    ended = seq % 2 == 1
    data = {"sessionId": f"s-{session}", "qosStatus": "UNAVAILABLE" if ended else "AVAILABLE"}
    if ended:
        data["statusInfo"] = "DURATION_EXPIRED"
    event = {"id": str(seq), "source": source(session), "type": TYPE, "specversion": "1.0",
             "datacontenttype": "application/json", "time": f"2026-12-06T10:{seq // 60 % 60:02d}:{seq % 60:02d}Z",
             "data": data}  # fmt: skip
    return json.dumps(event, separators=(",", ":")).encode()


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db = Path(args.db or tempfile.mkdtemp(prefix="qodlab-soak-")) / "events.sqlite"
        self.port = _free_port()
        self.process: subprocess.Popen[str] | None = None
        self.up = asyncio.Event()
        self.acked = 0
        self.retries = 0
        self.refused = 0
        self.next = 0
        self.restarts: list[float] = []
        self.peaks: list[int] = []

    def start_listener(self) -> float:
        """Start the listener process; returns seconds until it answered (reopening the file included)."""
        started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-c", LISTENER, str(self.db), str(self.port), TOKEN],
                                        stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        assert line and line[0] == "ready", f"the listener did not start: {line}"
        return time.perf_counter() - started

    def kill(self) -> None:
        assert self.process is not None
        self.peaks.append(_peak_rss(self.process.pid))
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    async def killer(self) -> None:
        total = self.args.notifications
        for k in range(1, self.args.kills + 1):
            while self.acked < total * k // (self.args.kills + 1):
                await asyncio.sleep(0.05)
            self.up.clear()
            self.kill()
            took = await asyncio.get_running_loop().run_in_executor(None, self.start_listener)
            self.restarts.append(took)
            print(f"  SIGKILL {k} at {self.acked:,} acknowledged; restarted and answering in {took:.2f} s", flush=True)
            self.up.set()

    async def worker(self) -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        head = f"POST /qod HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        head += "Content-Type: application/cloudevents+json\r\nContent-Length: "
        while self.next < self.args.notifications:
            index, self.next = self.next, self.next + 1
            payload = body(index, self.args.sessions)
            request = f"{head}{len(payload)}\r\n\r\n".encode() + payload
            for attempt in range(1000):  # bounded: a provider gives up too
                try:
                    if writer is None:
                        await self.up.wait()
                        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    assert reader is not None
                    writer.write(request)
                    status = await response_status(reader)  # ConnectionResetError: killed
                    if status.startswith(b"2"):
                        self.acked += 1
                        break
                    if status.startswith(b"4"):
                        self.refused += 1  # never retried: a provider does not retry a 4xx either
                        print(f"  notification {index} refused: {status.decode()}", flush=True)
                        break
                    self.retries += 1  # a 5xx: the provider retries
                    await asyncio.sleep(0.01)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    self.retries += 1
                    await asyncio.sleep(min(0.01 * 2**attempt, 0.5))
            else:
                print(f"  gave up on notification {index}", flush=True)
        if writer is not None:
            writer.close()

    async def run(self) -> float:
        self.up.set()
        started = time.perf_counter()
        killer = asyncio.create_task(self.killer())
        await asyncio.gather(*(self.worker() for _ in range(self.args.concurrency)))
        elapsed = time.perf_counter() - started
        killer.cancel()
        return elapsed


def _peak_rss(pid: int) -> int:
    """A process's peak resident memory in bytes (Linux: VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--notifications", type=int, default=1_000_000)
    parser.add_argument("-s", "--sessions", type=int, default=100_000)
    parser.add_argument("-c", "--concurrency", type=int, default=32, help="connections the sender keeps open")
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs along the way")
    parser.add_argument("--db", default=None, help="a folder for the file (default: a temporary one)")
    parser.add_argument("--core", type=int, default=None, help="the one core to run on (default: the first allowed)")
    args = parser.parse_args()
    core = args.core if args.core is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})  # the listener process inherits it
    soak = Soak(args)
    print(f"soak: {args.notifications:,} notifications from {args.sessions:,} sessions, {args.kills} SIGKILLs, "
          f"one core ({core}), file {soak.db}", flush=True)  # fmt: skip
    first = soak.start_listener()
    print(f"  listener answering in {first:.2f} s", flush=True)
    try:
        import uvloop

        elapsed = uvloop.run(soak.run())
    except ImportError:  # pragma: no cover - uvloop is there on Linux and macOS
        elapsed = asyncio.run(soak.run())
    soak.kill()  # the end, too, is a kill: nothing is flushed on the way out

    from qodlab import EventLog

    started = time.perf_counter()
    log = EventLog(soak.db)
    reopen = time.perf_counter() - started
    frame = log.df
    stored = list(zip(frame["source"].astype(object), frame["event_id"], strict=True))
    expected = {(source(i % args.sessions), str(i // args.sessions)) for i in range(args.notifications)}
    kept = set(stored)
    import sqlite3

    rows = sqlite3.connect(soak.db).execute("SELECT count(*) FROM events").fetchone()[0]
    print(f"acknowledged {soak.acked:,} of {args.notifications:,}, refused {soak.refused:,} "
          f"({soak.retries:,} retries after a 5xx or a kill)")  # fmt: skip
    print(f"lost {len(expected - kept):,}, doubled {len(stored) - len(kept):,} in the log "
          f"({rows - len(kept):,} in the file), unexpected {len(kept - expected):,}")  # fmt: skip
    print(f"throughput {soak.acked / elapsed:,.0f} notifications/s over {elapsed:.1f} s (restarts included), one core")
    print(f"listener peak RSS {max(soak.peaks) / 2**20:,.0f} MB (per run: "
          f"{', '.join(f'{p / 2**20:,.0f}' for p in soak.peaks)} MB)")  # fmt: skip
    print(f"restarts answering in {', '.join(f'{t:.2f} s' for t in soak.restarts)}; final reopen of "
          f"{len(log):,} events, {frame['session_id'].nunique():,} sessions, {frame['source'].nunique():,} "
          f"sources: {reopen:.2f} s ({soak.db.stat().st_size / 2**20:,.0f} MB file)")  # fmt: skip


if __name__ == "__main__":
    main()
