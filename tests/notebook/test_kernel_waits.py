"""Waiting in a cell (`qodlab.notebook.kernel`): waits on the kernel's thread flush the pumps attached there."""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import qodlab
from qodlab.notebook import kernel, pump


class Recorder:
    """A pump as `run_pending` sees it: it counts the flushes asked of it and the threads that asked."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def flush_due(self) -> None:
        self.threads.append(threading.current_thread().name)


@pytest.fixture
def attached() -> Iterator[Recorder]:
    recorder = Recorder()
    kernel.attach(recorder)
    yield recorder
    kernel.detach(recorder)


def test_the_pump_module_still_offers_the_waiting_functions() -> None:
    for name in ("kernel_loop", "pause", "run_pending", "wait_slice", "_on_kernel_thread"):
        assert getattr(pump, name) is getattr(kernel, name), name
    assert {"kernel_loop", "pause", "run_pending", "wait_slice"} <= set(pump.__all__)


def test_no_module_but_the_pump_takes_the_waiting_functions_from_the_pump() -> None:
    waiting = {"kernel_loop", "pause", "run_pending", "wait_slice", "_on_kernel_thread"}
    package = Path(qodlab.__file__).parent
    for path in package.rglob("*.py"):
        if path == package / "notebook" / "pump.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("pump"):
                assert not waiting & {alias.name for alias in node.names}, path
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "pump":
                assert node.attr not in waiting, f"{path}: pump.{node.attr}"


def test_run_pending_flushes_the_attached_pumps_on_the_kernel_thread_only(attached: Recorder) -> None:
    assert threading.current_thread() is threading.main_thread()  # a cell runs on the kernel's main thread
    kernel.run_pending()
    assert attached.threads == ["MainThread"]
    elsewhere = threading.Thread(target=kernel.run_pending, name="listener")
    elsewhere.start()
    elsewhere.join()
    assert attached.threads == ["MainThread"]
    kernel.detach(attached)
    kernel.run_pending()
    assert attached.threads == ["MainThread"]


def test_a_wait_is_sliced_only_while_a_pump_needs_the_kernel_thread(attached: Recorder) -> None:
    assert kernel.wait_slice(3.0) == kernel._SLICE
    assert kernel.wait_slice(0.01) == 0.01
    kernel.detach(attached)
    assert kernel.wait_slice(3.0) == 3.0


def test_pause_waits_its_time_and_flushes_the_pumps_meanwhile(attached: Recorder) -> None:
    started = time.monotonic()
    kernel.pause(0.3)
    assert time.monotonic() - started >= 0.3
    assert len(attached.threads) >= 3  # one flush per slice of 0.05 s, at least, whatever the load


class FakeLoop:
    """A kernel's io_loop that runs nothing: only qodlab's waits can apply the pump's batches."""

    def add_callback(self, callback: object) -> None:
        pass

    def call_later(self, delay: float, callback: object) -> None:
        pass


def test_a_pump_on_the_kernel_loop_is_applied_by_a_wait_in_the_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pump, "kernel_loop", FakeLoop)
    batches: list[int] = []
    on_loop = pump.Pump(interval=0.0)
    on_loop.add_view(lambda batch: batches.append(len(batch)))
    on_loop.start()
    try:
        assert on_loop.runner == "kernel" and on_loop in kernel._live
        on_loop.poke()
        kernel.pause(0.1)
        assert batches == [0] and on_loop.redraws == 1  # applied by the wait, the loop ran nothing
    finally:
        on_loop.stop()
    assert on_loop not in kernel._live
