"""In a real IPython kernel: every widget message of a live dashboard comes from the kernel's main thread.

Colab renders no widget update sent from another thread (googlecolab/colabtools#3373). The kernel
records the thread that sends each comm message (a wrapper around its session's `send`, the one call
every comm message goes through); the test reads IOPub as a frontend does: what arrives between two
cells, and what arrives while a cell runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qodlab.notebook.pump import Pump

jupyter_client = pytest.importorskip("jupyter_client")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

COMM = ("comm_open", "comm_msg", "comm_close")
RECORD_THREADS = """
import threading
_kernel = get_ipython().kernel
_send = _kernel.session.send
_comm_threads = []

def _recording_send(stream, msg_or_type, *args, **kwargs):
    kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type["header"]["msg_type"]
    if kind in ("comm_open", "comm_msg", "comm_close"):
        _comm_threads.append(threading.current_thread().name)
    return _send(stream, msg_or_type, *args, **kwargs)

_kernel.session.send = _recording_send
"""


class Kernel:
    """A kernel and its client; `run` executes a cell and returns the IOPub messages it caused."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def run(self, code: str, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Execute `code`; the IOPub messages from its busy to its idle, in order (raises on an error)."""
        msg_id = self.client.execute(code)
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            messages.append(msg)
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                return messages

    def between_cells(self, until: Any, timeout: float = 60.0) -> list[dict[str, Any]]:
        """IOPub messages while no cell runs, until one satisfies `until` (bounded by `timeout`)."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=0.5)
            except Exception:  # queue.Empty: nothing yet
                continue
            messages.append(msg)
            if until(msg):
                return messages
        raise AssertionError(f"nothing matched within {timeout} s; got {[m['msg_type'] for m in messages]}")

    def printed(self, code: str) -> str:
        return "".join(m["content"]["text"] for m in self.run(code) if m["msg_type"] == "stream")


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "PYTHONUNBUFFERED": "1"})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        yield Kernel(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _comms(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["msg_type"] in COMM]


def _says(msg: dict[str, Any], text: str) -> bool:
    return msg["msg_type"] == "comm_msg" and text in json.dumps(msg["content"]["data"].get("state", {}))


def test_a_live_dashboard_sends_every_widget_message_from_the_main_thread(kernel: Kernel) -> None:
    kernel.run(RECORD_THREADS)
    built = kernel.run("import qodlab\nboard = qodlab.dashboard(speed=60)\ndisplay(board)")
    assert _comms(built), "the dashboard opened no widgets"
    assert kernel.printed("print(board.pump.runner)").strip() == "kernel"
    # A click, as a frontend's comm message would run it (on the main thread, in a cell).
    kernel.run(
        "board.form.duration.value = 900\nboard.form.create.click()\n"
        "sid = str(board.workbench.sessions()[0].info.session_id)"
    )
    # Between cells: the notification arrives on the listener's thread; the view still shows it.
    kernel.between_cells(lambda m: _says(m, "AVAILABLE"), timeout=60)
    # A cell that blocks holds the updates (the countdown ticks every second) until it ends ...
    blocked = kernel.printed(
        "import time\nsent = len(_comm_threads)\ntime.sleep(2.5)\nprint(len(_comm_threads) - sent)"
    )
    assert blocked.strip() == "0", f"{blocked} widget messages while the cell slept"
    kernel.between_cells(lambda m: _says(m, " s left"), timeout=30)
    # ... but qodlab's own waits keep redrawing: the countdown moves while the cell waits for the end.
    waited = kernel.run(
        "sent = len(_comm_threads)\nboard.workbench.log.wait_for(sid, 'UNAVAILABLE', timeout=120)\n"
        "print(len(_comm_threads) - sent)"
    )
    assert int("".join(m["content"]["text"] for m in waited if m["msg_type"] == "stream")) >= 4
    assert len([m for m in waited if _says(m, " s left")]) >= 2, "the view froze during wait_for"
    if not any(_says(m, "UNAVAILABLE") for m in waited):  # the view may have drawn it before the cell ended
        kernel.between_cells(lambda m: _says(m, "UNAVAILABLE"), timeout=30)
    threads = json.loads(kernel.printed("import json\nprint(json.dumps(_comm_threads))"))
    assert len(threads) > 20
    assert set(threads) == {"MainThread"}, {name: threads.count(name) for name in set(threads)}
    kernel.run("board.close()\nboard.workbench.listener.stop()\nboard.workbench.sandbox.stop()")


def test_outside_a_kernel_the_pump_keeps_its_own_thread() -> None:
    pump = Pump().start()
    try:
        assert pump.runner == "thread"
    finally:
        pump.stop()
    with pytest.raises(RuntimeError, match="needs a running IPython kernel"):
        Pump(runner="kernel").start()


RECORD_DISPLAY_THREADS = RECORD_THREADS.replace('("comm_open", "comm_msg", "comm_close")', '("update_display_data",)')


def test_wait_for_with_progress_shows_the_wait_and_takes_it_away(kernel: Kernel) -> None:
    """The status so far and the time left, updated while the cell waits, from the main thread; gone after."""
    kernel.run(RECORD_DISPLAY_THREADS)
    kernel.run(
        "import qodlab\nsb = qodlab.Sandbox(speed=1, provisioning_delay=5, reuse=False)\nclient = sb.client()\n"
        "s = client.create_session(device={'phoneNumber': '+36721601234567'}, application_server='233.252.0.2',"
        " qos_profile='QOS_L', duration=600)"
    )
    waited = kernel.run("s.wait_for('AVAILABLE', timeout=30, progress=True)\nprint(s.qos_status.value)")
    shown = [m for m in waited if m["msg_type"] in ("display_data", "update_display_data")]
    assert shown and shown[0]["msg_type"] == "display_data" and shown[0]["content"]["transient"]["display_id"]
    texts = [m["content"]["data"]["text/plain"] for m in shown]
    assert texts[0].startswith("waiting for session ") and " to be AVAILABLE: REQUESTED so far, " in texts[0]
    lefts = [int(t.rsplit(", ", 1)[1].split(" s left")[0]) for t in texts if t.endswith(" s left")]
    assert len(lefts) >= 4 and lefts == sorted(lefts, reverse=True) and lefts[0] > lefts[-1], texts  # counts down
    assert "REQUESTED" in shown[1]["content"]["data"]["text/html"]  # the badge
    assert texts[-1] == "" and shown[-1]["msg_type"] == "update_display_data"  # gone once it returned
    assert "AVAILABLE" in "".join(m["content"]["text"] for m in waited if m["msg_type"] == "stream")
    threads = json.loads(kernel.printed("import json\nprint(json.dumps(_comm_threads))"))
    assert len(threads) >= 4 and set(threads) == {"MainThread"}, threads
    kernel.run("client.close()\nsb.stop()")
