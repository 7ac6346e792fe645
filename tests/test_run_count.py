"""The suite fails when a collected test never runs, and only then (tests/run_count.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

CONFTEST = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import pytest
import run_count


def pytest_configure(config):
    run_count.register(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if config.getoption("--same-ids"):  # what schemathesis's items had: one id for several items
        for item in items:
            if item.name.startswith("test_shared"):
                item._id = type(item._id).parse(item.nodeid.split("[")[0])
    else:
        run_count.unique_ids(items)


def pytest_addoption(parser):
    parser.addoption("--same-ids", action="store_true")
    parser.addoption("--run-one", action="store_true")


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    if session.config.getoption("--run-one") and not hasattr(session.config, "workerinput"):
        item = session.items[0]  # the others are collected and never run
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=None)
        return True
    return None
"""

TESTS_PY = """
import pytest

@pytest.mark.parametrize("n", range(3))
def test_shared(n):
    assert n >= 0

def test_other():
    pass

def test_skipped():
    pytest.skip("skipped still ran")
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_sample.py").write_text(TESTS_PY)
    command = [sys.executable, "-m", "pytest", "-p", "xdist", "-p", "no:cacheprovider", "-q", *args]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # xdist alone: the others cost seconds a run
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("workers", [["-n", "0"], ["-n", "2", "--dist", "loadfile"]], ids=["one-process", "xdist"])
def test_every_test_ran_passes(tmp_path: Path, workers: list[str]) -> None:
    result = _run(tmp_path, *workers)
    assert result.returncode == 0, result.stdout
    assert "5 passed" in result.stdout or "4 passed, 1 skipped" in result.stdout, result.stdout


@pytest.mark.parametrize(
    "selection",
    [["-k", "other"], ["--deselect", "test_sample.py::test_shared[1]"], ["test_sample.py::test_other"]],
    ids=["-k", "deselect", "one-test"],
)
def test_a_selection_is_what_was_collected(tmp_path: Path, selection: list[str]) -> None:
    for workers in (["-n", "0"], ["-n", "2"]):
        result = _run(tmp_path, *workers, *selection)
        assert result.returncode == 0, result.stdout


def test_a_collected_test_that_never_runs_fails_the_run(tmp_path: Path) -> None:
    result = _run(tmp_path, "-n", "0", "--run-one")
    assert result.returncode == 1, result.stdout
    assert "5 tests collected but 1 ran: a test that never runs cannot fail" in result.stdout


def test_shared_ids_under_xdist_fail_the_run_instead_of_stopping_quietly(tmp_path: Path) -> None:
    result = _run(tmp_path, "-n", "2", "--dist", "loadfile", "--same-ids")
    assert result.returncode == 1, result.stdout
    assert "5 tests collected but" in result.stdout, result.stdout


def test_collect_only_runs_nothing_and_passes(tmp_path: Path) -> None:
    assert _run(tmp_path, "--co").returncode == 0
