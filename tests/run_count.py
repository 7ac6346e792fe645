"""The suite never lies: every collected test runs, or the run fails (registered by tests/conftest.py).

A test that is collected but never run cannot fail. pytest-xdist schedules by test id, so items
that share an id (schemathesis names an operation's items after the function alone) ran as one and
the others were dropped without a word: 625 collected, 97 % reached, exit status 0. `RunCount`
compares the items collected (after `-k`, `--deselect`, `--lf`: what was asked for) with the items
that reported a teardown (every item that ran reports one, passed, failed or skipped), in one
process (`-n 0`) or in the controller of xdist's workers, and turns a green run with a gap red.
`unique_ids` gives such items an id of their own first, so that they are scheduled at all.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["RunCount", "unique_ids"]


def unique_ids(items: list[pytest.Item]) -> None:
    """Give an item whose id leaves out its name's `[...]` its full name as its id.

    pytest 9.2 builds a Function's id from `originalname` plus its callspec's id; schemathesis's
    items carry the operation in their name (`test_x[GET /a]`) with no callspec, so all of a
    schema's items got the id `test_x`.
    """
    for item in items:
        head, _, last = item.nodeid.rpartition("::")
        if last == item.name or not item.name.endswith("]"):
            continue
        full = f"{head}::{item.name}"
        if hasattr(item, "_id"):  # pytest 9.2: ids are NodeId objects
            from _pytest.nodeid import coerce_node_id

            item._id = coerce_node_id(full)
        else:
            item._nodeid = full


class RunCount:
    """Counts items collected and items run; fails a passing session when they differ."""

    def __init__(self) -> None:
        self.collected: int | None = None
        self.ran = 0

    @pytest.hookimpl(trylast=True)  # after -k, --deselect and --lf have had their say
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.collected = len(ids)  # each worker collects everything (xdist refuses a difference)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self.ran += 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.collected is None or session.config.option.collectonly or exitstatus != pytest.ExitCode.OK:
            return  # nothing collected here, or the run already says it failed (or was stopped)
        if self.ran != self.collected:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            message = f"{self.collected} tests collected but {self.ran} ran: a test that never runs cannot fail"
            if reporter is not None:
                reporter.write_line(message, red=True, bold=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def register(config: pytest.Config) -> None:
    """Count in the process that sees every report: the only one, or xdist's controller (not a worker)."""
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(RunCount(), "qodlab-run-count")
