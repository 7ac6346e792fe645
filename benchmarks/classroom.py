"""A class is many clients at once: a classroom sandbox under load, from a generator in its own process.

1. Session creation over HTTP, unique devices, 32 keep-alive connections (the instructor's key, so
   no rate limit), against the most trivial route (`GET /_sandbox/clock`) on the same server in
   the same run: the ratio says how much of the ceiling is the framework's per-request cost.
2. 100 students, each with its own key and connection, looping create, get, get, extend, delete
   for `--seconds`, every session's notifications going to one listener: API latency p50/p99,
   5xx answers, 429s, and notifications lost (a session created without its UNAVAILABLE event).

    python benchmarks/classroom.py [--students 100] [--seconds 60] [--count 5000]

(The sandbox's timers at 10,000 live sessions are measured by benchmarks/sandbox.py.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qodlab import Classroom, EventLog, Listener
from qodlab.classroom import INSTRUCTOR

HERE = Path(__file__).parent


def generate(*args: str) -> dict[str, object]:
    # The result comes back in a file: the generator's event loop may leave its stdout non-blocking,
    # and a large print to a pipe then ends short (seen here: a 230 kB result cut at 98,304 bytes).
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        subprocess.run([sys.executable, str(HERE / "_students.py"), *args, f"--out={result.name}"], check=True,
                       timeout=900)  # fmt: skip
        return dict(json.loads(Path(result.name).read_text()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Classroom(args.students, rate=10, speed=60) as room:
        instructor = room.roster.key(INSTRUCTOR)
        creates = generate("creates", room.url, f"--key={instructor}", "--count", str(args.count))
        route = generate("route", room.url, f"--key={instructor}", "--count", str(args.count))
        print(f"classroom sandbox, {args.students} students; load from its own process, 32 connections")
        ratio = float(creates["rate"]) / float(route["rate"])
        print(f"  creates over HTTP, unique devices: {creates['rate']:7.0f} /s  (statuses {creates['statuses']})")
        print(f"  GET /_sandbox/clock, same server:  {route['rate']:7.0f} /s")
        print(f"  creates run at {ratio:.2f}x the trivial route (goal: >= 2,000 creates/s)")
        keys = Path(folder) / "keys"
        keys.write_text("\n".join(room.roster.key(name) for name in room.roster.names))
        keys.chmod(0o600)
        with Listener(EventLog(), token="bench") as listener:
            run = generate("students", room.url, f"--key={keys}", "--seconds", str(args.seconds),
                           "--sink", listener.url, "--token", "bench")  # fmt: skip
            created = [str(s) for s in run["created"]]  # type: ignore[attr-defined]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(listener.log.has(s, "UNAVAILABLE") for s in created[-50:]):
                time.sleep(0.2)
            lost = sum(1 for s in created if not listener.log.has(s, "UNAVAILABLE"))
        latencies = list(run["latencies"])  # type: ignore[call-overload]
        statuses = {int(k): v for k, v in run["statuses"].items()}  # type: ignore[attr-defined]
        errors = sum(v for k, v in statuses.items() if k >= 500)
        print(f"  {args.students} students for {args.seconds:g} s: {len(latencies)} calls, {len(created)} sessions")
        print(f"    API latency p50 {percentile(latencies, 0.5):6.1f} ms   p99 {percentile(latencies, 0.99):6.1f} ms"
              f"   (goal p99 < 100 ms)   5xx {errors}   429 {statuses.get(429, 0)}")  # fmt: skip
        print(f"    notifications lost: {lost} of {len(created)} sessions' UNAVAILABLE events (goal 0)")


if __name__ == "__main__":
    main()
