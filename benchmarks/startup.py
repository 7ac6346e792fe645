"""How quickly qodlab starts, from a cold interpreter, beside the provider-docs receiver's own start.

Each figure is a fresh `python` process, timed by this one from its spawn until it prints
"ready" (interpreter start included, as a kernel or a test subprocess pays it), the median of
`--runs`:
  - python alone (the floor), and the baseline: the receiver provider docs show (import FastAPI,
    build the app, serve it on uvicorn until it accepts);
  - `import qodlab`, `from qodlab import QodClient`, a running `Sandbox()`, a running `Listener()`,
    the first AVAILABLE event in the log (sandbox, listener, one session), a built `dashboard()`.

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

FLOOR = "pass"
BASELINE = """
import socket, threading
from fastapi import FastAPI
import uvicorn
app = FastAPI()
@app.post("/notifications", status_code=204)
def notify() -> None: ...
sock = socket.socket(); sock.bind(("127.0.0.1", 0))
server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
while not server.started: threading.Event().wait(0.001)
"""
CASES = {
    "python alone (the floor)": FLOOR,
    "baseline: FastAPI receiver on uvicorn": BASELINE,
    "import qodlab": "import qodlab",
    "from qodlab import QodClient": "from qodlab import QodClient",
    "a running Sandbox()": "from qodlab import Sandbox; Sandbox()",
    "a running Listener()": "from qodlab import Listener; Listener()",
    "the first AVAILABLE event in the log": """
from qodlab import Listener, Sandbox
sandbox, listener = Sandbox(speed=60), Listener()
session = sandbox.client().create_session(device={"phoneNumber": "+36721601234567"},
    application_server="233.252.0.2", qos_profile="QOS_L", duration=600, sink=listener.url, sink_token=listener.token)
listener.log.wait_for(session.session_id, "AVAILABLE", timeout=30)
""",
    "a built dashboard()": "import qodlab; qodlab.dashboard()",
}


def cold(code: str) -> float:
    """Seconds from spawning a fresh interpreter running `code` until it says it is ready."""
    script = f"{code}\nimport sys; sys.stdout.write('ready\\n'); sys.stdout.flush()\nimport os; os._exit(0)"
    started = time.perf_counter()
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        line = child.stdout.readline()
        elapsed = time.perf_counter() - started
        child.wait(60)
    if line.strip() != "ready":
        msg = f"the child did not get ready: {code!r}"
        raise RuntimeError(msg)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    figures = {name: statistics.median(cold(code) for _ in range(args.runs)) for name, code in CASES.items()}
    floor, baseline = figures["python alone (the floor)"], figures["baseline: FastAPI receiver on uvicorn"]
    print(f"cold start, median of {args.runs} fresh interpreters (spawn to ready)")
    for name, seconds in figures.items():
        print(f"  {name:40s} {seconds * 1000:7.0f} ms   {seconds / baseline:5.2f}x the baseline")
    print(f"  (import qodlab beyond python's own start: {(figures['import qodlab'] - floor) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
