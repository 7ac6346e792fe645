"""In a real browser: Voila serving the dashboard, JupyterLab running the quickstart.

Playwright drives Debian's chromium (installed by scripts/test.sh; no browser is downloaded).
The tests read page content, not pixels; screenshots go to the git-ignored tests/project/artifacts/.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).parents[2]
# The timeline's time axis: the bottom one carries the tick labels (x alone, or x3 under the link rows).
_TIME_TICKS = ".xtick text, .x3tick text"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: scripts/test.sh installs Debian's chromium", pytrace=False)
    pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it as root)", allow_module_level=True)

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _serve(
    command: list[str], ready: Any, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / f"{command[2]}.log").open("wb")
    # A person's environment: not the suite's run of the notebooks (notebooks/conftest.py), whose 03 cleans up.
    env = {name: value for name, value in (env or os.environ).items() if name != "QODLAB_NOTEBOOK_TEST"}
    process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if ready():
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{command[:3]} did not start; see {log.name}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def voila(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    shutil.copy(ROOT / "notebooks" / "03-dashboard.ipynb", tmp_path)
    command = [
        sys.executable,
        "-m",
        "voila",
        "03-dashboard.ipynb",
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--show_tracebacks=True",
    ]
    # Ready when it accepts connections: every GET of "/" would render the notebook in a new kernel.
    for _ in _serve(command, lambda: _accepts(port), tmp_path):
        yield f"http://127.0.0.1:{port}/"


@dataclass(frozen=True)
class Jupyter:
    """A running JupyterLab 4 or Notebook 7 server and where its notebooks open."""

    app: str  # "lab" or "notebook"
    base: str
    token: str

    def url(self, notebook: str) -> str:
        path = "lab/tree" if self.app == "lab" else "notebooks"
        return f"{self.base}/{path}/{notebook}?token={self.token}"


@pytest.fixture(params=["lab", "notebook"])
def jupyter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Jupyter]:
    """JupyterLab 4 or Notebook 7 serving copies of the notebooks (they save outputs into them)."""
    yield from _jupyter(request.param, tmp_path)


@pytest.fixture
def bare_lab(tmp_path: Path) -> Iterator[Jupyter]:
    """JupyterLab whose server has neither the plotly nor the anywidget front-end extension, as a
    kernel in its own environment on JupyterHub meets it: disabled in a config dir of the test's own."""
    config = tmp_path / "config" / "labconfig"
    config.mkdir(parents=True)
    disabled = {"disabledExtensions": {"jupyterlab-plotly": True, "anywidget": True}}
    (config / "page_config.json").write_text(json.dumps(disabled))
    yield from _jupyter("lab", tmp_path, env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config")})


def _jupyter(app: str, tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[Jupyter]:
    port, token = _free_port(), secrets.token_hex(16)
    root = tmp_path / "root"
    root.mkdir()
    for name in ("01-quickstart.ipynb", "03-dashboard.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, root)
    command = [
        sys.executable,
        "-m",
        "jupyterlab" if app == "lab" else "notebook",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--allow-root",
        "--LabApp.news_url=None" if app == "lab" else "--JupyterNotebookApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if app == "lab":  # a workspace of its own: Lab would reopen the notebooks an earlier test left open
        command += ["--LabApp.extension_manager=readonly", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    base = f"http://127.0.0.1:{port}"
    ready = lambda: httpx.get(f"{base}/api/status?token={token}", timeout=5).status_code == 200  # noqa: E731
    for _ in _serve(command, ready, root, env):
        yield Jupyter(app, base, token)


def _create(page: Any, number: str) -> None:
    """On a rendered dashboard: fill in a phone number and create a session."""
    page.wait_for_selector(".qodlab-session-form", timeout=120_000)
    phone = page.locator(".qodlab-device-form input[type=text]").first
    phone.fill(number)
    phone.press("Tab")
    create = page.locator("button.qodlab-create")
    playwright.expect(create).to_be_enabled(timeout=20_000)
    create.click()
    playwright.expect(page.locator(".qodlab-create-result")).to_contain_text("Created", timeout=20_000)


def _run_dashboard_cell(page: Any, url: str) -> None:
    """Open 03-dashboard in JupyterLab or Notebook and run its cell."""
    _open_notebook(page, url)

    def run_first_cell() -> None:
        page.locator(".jp-CodeCell .jp-InputArea-editor").first.click()
        page.keyboard.press("Shift+Enter")

    _until_accepted(page, run_first_cell)


def _dashboard_create_then_delete(page: Any, name: str) -> None:
    """On a rendered dashboard: create a session, see it AVAILABLE in the panel and the timeline, delete it.
    The Sessions panel stays where it was (it jumped below the form at the first Create)."""
    panel = page.locator(".qodlab-dashboard .qodlab-sessions").first
    playwright.expect(panel).to_be_visible(timeout=30_000)
    before = panel.bounding_box()
    _create(page, "+36721609876543")
    row = page.locator(".qodlab-session-row").first
    playwright.expect(row).to_contain_text("AVAILABLE", timeout=30_000)
    after = panel.bounding_box()
    assert before and after and (after["x"], after["y"]) == (before["x"], before["y"]), (before, after)
    timeline = page.locator(".qodlab-timeline")
    playwright.expect(timeline).to_contain_text("AVAILABLE", timeout=30_000)  # its legend
    bars = timeline.locator("g.trace.bars path")
    playwright.expect(bars.first).to_be_visible(timeout=30_000)
    assert timeline.locator(".qodlab-timeline-picture img").count() == 0  # interactive here: no picture
    # Live updates keep the x axis a time axis: tick labels are times of day, not plain numbers.
    ticks = timeline.locator(_TIME_TICKS)
    playwright.expect(ticks.first).to_have_text(re.compile(r"^\d\d:\d\d"), timeout=10_000)
    assert all(re.match(r"^\d\d:\d\d", tick) for tick in ticks.all_text_contents()), ticks.all_text_contents()
    page.screenshot(path=str(ARTIFACTS / f"{name}-available.png"), full_page=True)
    row.locator("button.qodlab-delete").click()
    playwright.expect(row).to_contain_text("DELETE_REQUESTED", timeout=30_000)
    playwright.expect(page.locator(".qodlab-event-table")).to_contain_text("DELETE_REQUESTED", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / f"{name}-deleted.png"), full_page=True)
    assert "Traceback" not in page.content()


def _open_notebook(page: Any, url: str) -> None:
    page.goto(url, timeout=120_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    playwright.expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=60_000
    )
    _until_kernel(page)


def _until_kernel(page: Any, timeout: float = 90) -> None:
    """Until the notebook has its Python kernel: a busy machine's JupyterLab sometimes asks which one (a dialog
    whose default is "No Kernel"), and cells run then would be queued for no kernel."""
    name = page.locator(".jp-Toolbar-kernelName")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded: polls the page's state, no fixed wait for an event
        _dismiss_dialogs(page)
        if name.count() == 0 or "Python" in name.first.inner_text():
            return
        time.sleep(0.25)
    raise AssertionError(f"the notebook got no Python kernel in {timeout:g} s: {name.first.inner_text()!r}")


def _until_accepted(page: Any, run: Callable[[], None], *, every: bool = False) -> None:
    """Run cells, again if the first prompt (with `every`, the last: Run All queues them all at once)
    stays "[ ]:" (a click while the page settles is sometimes lost, or runs one cell only)."""
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt")
    watched = prompts.last if every else prompts.first
    for _ in range(3):
        run()
        try:
            playwright.expect(watched).not_to_have_text("[ ]:", timeout=20_000)
            return
        except AssertionError:
            page.keyboard.press("Escape")
    raise AssertionError("the notebook did not start running")


def test_voila_dashboard_create_then_delete(browser: Any, voila: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        started = time.monotonic()
        page.goto(voila, timeout=120_000)
        page.wait_for_selector(".qodlab-session-form", timeout=120_000)
        first_paint = time.monotonic() - started  # the kernel's start, qodlab's imports, the widgets drawn
        print(f"Voila dashboard: first paint {first_paint:.1f} s after the page was asked for")
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "voila-first-paint.txt").write_text(f"{first_paint:.2f}\n")
        _dashboard_create_then_delete(page, "voila")
    finally:
        page.close()


def test_an_assignment_on_the_timeline_in_voila(browser: Any, voila: str) -> None:
    """QoS Provisioning in the dashboard: assign a profile, see its row say so and its bar, revoke it."""
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        page.goto(voila, timeout=120_000)
        page.wait_for_selector(".qodlab-session-form", timeout=120_000)
        page.locator(".qodlab-what button", has_text="QoS assignment").click()
        playwright.expect(page.locator("button.qodlab-create")).to_have_text(re.compile("Assign profile"))
        _create(page, "+36721609876545")
        row = page.locator(".qodlab-assignment-row").first
        playwright.expect(row).to_contain_text("AVAILABLE", timeout=30_000)
        timeline = page.locator(".qodlab-timeline")
        playwright.expect(timeline.get_by_text(re.compile(r"^assignment · \+3672"))).to_have_count(1, timeout=30_000)
        playwright.expect(timeline.locator("g.trace.bars path").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "voila-assignment.png"), full_page=True)
        row.locator("button.qodlab-delete", has_text="Revoke").click()
        playwright.expect(row).to_contain_text("DELETE_REQUESTED", timeout=30_000)
        assert "Traceback" not in page.content()
    finally:
        page.close()


def test_without_the_plotly_and_anywidget_extensions_the_timeline_is_a_picture(browser: Any, bare_lab: Jupyter) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        _run_dashboard_cell(page, bare_lab.url("03-dashboard.ipynb"))
        _create(page, "+36721609876544")
        timeline = page.locator(".qodlab-timeline")
        picture = timeline.locator(".qodlab-timeline-picture img")
        playwright.expect(picture).to_be_visible(timeout=60_000)  # after detect_after (10 s) without a drawing
        summary = timeline.locator(".qodlab-timeline-summary")
        playwright.expect(summary).to_contain_text("AVAILABLE", timeout=30_000)
        playwright.expect(timeline).to_contain_text("install the plotly and anywidget extensions")
        playwright.expect(page.locator(".qodlab-renderer")).to_contain_text("a picture", timeout=10_000)
        assert page.get_by_text("Click to show javascript error").count() == 0
        page.screenshot(path=str(ARTIFACTS / "lab-without-extensions.png"), full_page=True)
        assert "Traceback" not in page.content()
    finally:
        page.close()


def test_dashboard_in_jupyterlab_and_notebook(browser: Any, jupyter: Jupyter) -> None:
    """The one call works in a notebook too: run the dashboard's cell, then use it."""
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        _run_dashboard_cell(page, jupyter.url("03-dashboard.ipynb"))
        _dashboard_create_then_delete(page, f"{jupyter.app}-dashboard")
    finally:
        page.close()


def _dismiss_dialogs(page: Any) -> None:
    """Answer a JupyterLab dialog left open (a busy machine's Lab sometimes asks which kernel while it settles):
    it would take every click; what it said is printed, so a failure shows it."""
    dialogs = page.locator(".jp-Dialog")
    for _ in range(3):  # bounded: a dialog may open another
        if dialogs.count() == 0:
            return
        said = " ".join(dialogs.first.inner_text().split())
        print("answered a JupyterLab dialog:", said[:300])
        if said.startswith(
            "Select Kernel"
        ):  # Lab lost the notebook's kernel (a busy machine): Python's, not "No Kernel"
            choice = dialogs.first.locator("select")
            if choice.count():
                labels = choice.first.locator("option").all_inner_texts()
                python = next((label for label in labels if label.strip().startswith("Python")), None)
                if python is not None:
                    choice.first.select_option(label=python)
            dialogs.first.locator("button.jp-mod-accept").first.click(timeout=5_000)
            continue
        page.keyboard.press("Escape")
        try:
            playwright.expect(dialogs).to_have_count(0, timeout=5_000)
        except AssertionError:
            dialogs.first.locator("button.jp-mod-reject").first.click(timeout=5_000)


def _run_all(page: Any) -> None:
    _dismiss_dialogs(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    # Exactly "Run All Cells": "Restart Kernel and Run All Cells…" would ask in a dialog that blocks the next click.
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).first.click()


def test_run_all_leaves_the_dashboard_on_screen(browser: Any, jupyter: Jupyter) -> None:
    """Issue 34 §1: the dashboard notebook's last cell cleaned up after itself whenever it was not under Voila."""
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        _open_notebook(page, jupyter.url("03-dashboard.ipynb"))
        _until_accepted(page, lambda: _run_all(page), every=True)
        code_cells = sum(
            1
            for c in json.loads((ROOT / "notebooks" / "03-dashboard.ipynb").read_text())["cells"]
            if c["cell_type"] == "code"
        )
        last = page.locator(".jp-CodeCell .jp-InputArea-prompt").last
        playwright.expect(last).to_have_text(f"[{code_cells}]:", timeout=120_000)  # every cell ran
        _dashboard_create_then_delete(page, f"{jupyter.app}-run-all")  # still there, and working
    finally:
        page.close()


def test_the_quickstart_runs_in_jupyterlab_and_notebook(browser: Any, jupyter: Jupyter) -> None:
    app = jupyter.app
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        _open_notebook(page, jupyter.url("01-quickstart.ipynb"))

        _until_accepted(page, lambda: _run_all(page), every=True)
        notebook = json.loads((ROOT / "notebooks" / "01-quickstart.ipynb").read_text())
        code_cells = sum(1 for cell in notebook["cells"] if cell["cell_type"] == "code")
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # every prompt shows [n], none [*] or [ ], the last [code_cells]
            # (cells scrolled out of a windowed notebook keep an empty prompt: the last one's count says
            # that every cell ran, in order, in this fresh kernel)
            texts = [t.strip() for t in prompts.all_inner_texts()]
            shown = [t for t in texts if t]
            ran = all(t.startswith("[") and t[1:-2].isdigit() for t in shown)
            if texts and texts[-1] == f"[{code_cells}]:" and ran:
                break
            page.wait_for_timeout(250)
        else:
            page.screenshot(path=str(ARTIFACTS / f"{app}-timeout.png"), full_page=True)
            raise AssertionError(f"cells did not all run: {prompts.all_inner_texts()}")
        page.screenshot(path=str(ARTIFACTS / f"{app}-quickstart.png"), full_page=True)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert "Traceback" not in page.locator(".jp-Notebook").inner_text(), "a cell raised"
        assert errors.count() == 0 or "Error" not in " ".join(errors.all_inner_texts())
        timeline = page.locator(".qodlab-timeline")
        playwright.expect(timeline).to_have_count(1, timeout=30_000)  # the widget rendered
        playwright.expect(timeline.locator(_TIME_TICKS).first).to_have_text(re.compile(r"^\d\d:\d\d"), timeout=30_000)
        playwright.expect(page.locator(".jp-OutputArea-output img").first).to_be_visible(timeout=30_000)
    finally:
        page.close()


def test_the_classroom_view_on_a_projector_in_voila(browser: Any, tmp_path: Path) -> None:
    """A projector's page: Voila serving one cell, `qodlab.classroom_view()`, the key in its environment."""
    import nbformat

    from qodlab import Classroom, QodClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import qodlab\nqodlab.classroom_view()")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "projector.ipynb")
    port = _free_port()
    with Classroom(students=2, speed=60) as room, QodClient(room.url, token=room.roster.key("student-02")) as grace:
        grace.create_session(
            device={"phoneNumber": "+36700000002"}, application_server="233.252.0.2", qos_profile="QOS_L", duration=3600
        )
        os.environ["QODLAB_CLASSROOM"], os.environ["QODLAB_INSTRUCTOR_KEY"] = room.url, room.roster.key("instructor")
        command = [
            sys.executable,
            "-m",
            "voila",
            "projector.ipynb",
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ]
        try:
            for _ in _serve(command, lambda: _accepts(port), tmp_path):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                try:
                    page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
                    table = page.locator(".qodlab-student-table")
                    playwright.expect(table).to_contain_text("student-02", timeout=120_000)
                    timeline = page.locator(".qodlab-timeline")
                    playwright.expect(timeline).to_contain_text("student-02 · +3670…002 · QOS_L", timeout=30_000)
                    playwright.expect(timeline.locator("g.trace.bars path").first).to_be_visible(timeout=30_000)
                    page.locator(".lm-TabBar-tab", has_text="Stage an event").click()
                    page.locator("button.qodlab-stage").click()
                    playwright.expect(page.get_by_text("Terminated 1 sessions.")).to_be_visible(timeout=30_000)
                    playwright.expect(timeline).to_contain_text("terminated by the network", timeout=30_000)
                    page.screenshot(path=str(ARTIFACTS / "voila-classroom.png"), full_page=True)
                    assert "Traceback" not in page.content() and room.roster.key("instructor") not in page.content()
                finally:
                    page.close()
        finally:
            del os.environ["QODLAB_CLASSROOM"], os.environ["QODLAB_INSTRUCTOR_KEY"]


def _listening(process: Any) -> int:
    return sum(1 for c in process.net_connections(kind="tcp") if c.status == "LISTEN")


def _waiting_kernel(voila: subprocess.Popen[bytes], port: int) -> Any:
    """The pooled kernel, once it is blocked in wait_for_request (connected to Voila's /voila/query)."""
    psutil = pytest.importorskip("psutil")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for child in psutil.Process(voila.pid).children(recursive=True):
            try:
                if any(c.raddr and c.raddr.port == port for c in child.net_connections(kind="tcp")):
                    return child
            except psutil.Error:
                continue
        time.sleep(0.2)
    raise AssertionError("no preheated kernel reached wait_for_request within 120 s")


def test_voila_preheat_pool_starts_nothing_before_a_visitor(browser: Any, tmp_path: Path) -> None:
    """Voila's --preheat_kernel runs notebook 03 before anyone visits: it stops at wait_for_request,
    so a pooled kernel holds no sandbox or listener (only its own kernel sockets) until a visitor
    takes it, and then the dashboard starts them."""
    port = _free_port()
    shutil.copy(ROOT / "notebooks" / "03-dashboard.ipynb", tmp_path)
    command = [
        sys.executable,
        "-m",
        "voila",
        "03-dashboard.ipynb",
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--preheat_kernel=True",
        "--pool_size=1",
    ]
    for process in _serve(command, lambda: _accepts(port), tmp_path):
        kernel = _waiting_kernel(process, port)
        before = _listening(kernel)  # the kernel's own zmq sockets
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        try:
            started = time.monotonic()
            page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
            page.wait_for_selector("button.qodlab-create", timeout=120_000)
            print(f"Voila dashboard from a preheated pool of 1: first paint {time.monotonic() - started:.1f} s")
            wait_until_listening = time.monotonic() + 30
            while _listening(kernel) < before + 2 and time.monotonic() < wait_until_listening:
                time.sleep(0.1)
            assert _listening(kernel) >= before + 2, "the visitor's kernel should now serve a sandbox and a listener"
        finally:
            page.close()


def test_the_live_timeline_axis_reads_at_any_span(browser: Any, tmp_path: Path) -> None:
    """What plotly.js draws from the live figure's date axis: distinct ticks, the date under the first
    and wherever the day changes (six days, five hours over midnight, ten minutes)."""
    import plotly.graph_objects as go

    from qodlab import EventLog, StatusEvent, TimelinePlot
    from qodlab.models import QosStatus, StatusInfo

    start = T0_LIVE
    page = browser.new_page(viewport={"width": 1000, "height": 420})
    try:
        for name, span in (("days", 6 * 86400), ("midnight", 5 * 3600), ("minutes", 600)):
            log = EventLog()
            for i, (status, info, at) in enumerate([("AVAILABLE", None, 0), ("UNAVAILABLE", "DELETE_REQUESTED", span)]):
                log.append(
                    StatusEvent(
                        event_id=f"e{i}",
                        session_id="a",
                        qos_status=QosStatus(status),
                        status_info=StatusInfo(info) if info else None,
                        event_time=start + timedelta(seconds=at),
                        type="t",
                        source="test",
                        shape="cloudevent-v1",
                        raw={},
                    )
                )
            plot = TimelinePlot(log, now=lambda span=span: start + timedelta(seconds=span + 1))
            path = tmp_path / f"{name}.html"
            go.Figure(plot.widget).write_html(path, include_plotlyjs=True)
            page.goto(path.as_uri())
            playwright.expect(page.locator(_TIME_TICKS).first).to_be_visible(timeout=30_000)
            ticks = [t.text_content() or "" for t in page.locator(_TIME_TICKS).all()]
            assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), (name, ticks)
            assert "2026" in ticks[0], (name, ticks)  # the date (and year) under the first tick
            if name == "midnight":  # 22:00 to 03:00: the next day's date where it starts
                assert any(t.startswith("00:00") and "Nov 27" in t for t in ticks), ticks
            page.screenshot(path=str(ARTIFACTS / f"live-axis-{name}.png"))
    finally:
        page.close()


T0_LIVE = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


def test_a_closed_voila_page_s_kernel_and_its_servers_end(browser: Any, tmp_path: Path) -> None:
    """Issue 34 §6: five visits kept five kernels (about 255 MB each, each with a sandbox and a listener).

    The repository's voila.json (Voila reads it from where it runs; Binder's server from binder/) culls a kernel
    idle and unconnected for its `cull_idle_timeout`; the test shortens that through the same config keys on the
    command line, and waits (bounded) for the kernel process and every port it listened on to be gone.
    """
    psutil = pytest.importorskip("psutil")
    culling = json.loads((ROOT / "voila.json").read_text())["MappingKernelManager"]
    assert culling["cull_idle_timeout"] > 0 and culling["cull_interval"] > 0 and not culling["cull_connected"]
    shutil.copy(ROOT / "notebooks" / "03-dashboard.ipynb", tmp_path)
    shutil.copy(ROOT / "voila.json", tmp_path)
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "voila",
        "03-dashboard.ipynb",
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--MappingKernelManager.cull_idle_timeout=4",
        "--MappingKernelManager.cull_interval=1",
    ]
    for process in _serve(command, lambda: _accepts(port), tmp_path):
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        page.wait_for_selector("button.qodlab-create", timeout=120_000)
        [kernel] = psutil.Process(process.pid).children(recursive=True)
        ports = [c.laddr.port for c in kernel.net_connections(kind="tcp") if c.status == "LISTEN"]
        assert len(ports) >= 2  # its sandbox and its listener, besides its own sockets
        page.close()
        deadline = time.monotonic() + 90  # bounded: culled within 4 s idle, checked every second
        while kernel.is_running() and kernel.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not kernel.is_running() or kernel.status() == psutil.STATUS_ZOMBIE, "the closed page's kernel runs on"
        left = [c for c in psutil.Process(process.pid).children(recursive=True) if c.status() != psutil.STATUS_ZOMBIE]
        assert left == [], left  # (a culled kernel stays a zombie until Voila reaps it)
        # Its sandbox's and listener's ports: held by no process of Voila's now (another program may take a freed port).
        held = {c.laddr.port: c.pid for c in psutil.net_connections(kind="tcp") if c.status == "LISTEN"}
        assert not [p for p in ports if held.get(p) in (kernel.pid, process.pid)], ports


_BOXES_JS = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    title: [...document.querySelectorAll('.gtitle')].map(box),
    legend: [...document.querySelectorAll('.legend .traces')].map(box),
    rows: [...document.querySelectorAll('.ytick text')].filter((t) => t.getBoundingClientRect().height > 0)
      .map((t) => ({text: t.textContent, box: box(t)})),
  };
}"""


@pytest.mark.parametrize("width", [520, 1000])
def test_the_live_timeline_labels_every_row_and_keeps_its_title_clear_of_the_legend(
    browser: Any, tmp_path: Path, width: int
) -> None:
    """50 sessions on the live timeline: what plotly.js draws names every row (it showed every 4th or
    5th label), no two row labels overlap, and the title's text does not touch the legend's entries."""
    import plotly.graph_objects as go

    from qodlab import EventLog, SessionInfo, StatusEvent, TimelinePlot
    from qodlab.models import QosStatus, StatusInfo

    log, sessions = EventLog(), {}
    for i in range(50):  # every status and ending, so that the legend is as long as it gets
        sid = f"0000{i:04d}-aaaa-4bbb-8ccc-000000000000"
        changes = [("REQUESTED", None, 0)] if i % 5 == 0 else []
        changes.append(("AVAILABLE", None, 5))
        if i % 7 == 0:
            changes.append(("UNAVAILABLE", ("DELETE_REQUESTED", "DURATION_EXPIRED", "NETWORK_TERMINATED")[i % 3], 90))
        for j, (status, info, after) in enumerate(changes):
            log.append(
                StatusEvent(
                    event_id=f"e{i}-{j}",
                    session_id=sid,
                    qos_status=QosStatus(status),
                    status_info=StatusInfo(info) if info else None,
                    event_time=T0_LIVE + timedelta(seconds=10 * i + after),
                    type="t",
                    source="test",
                    shape="cloudevent-v1",
                    raw={},
                )
            )
        sessions[sid] = SessionInfo.model_validate(
            {
                "sessionId": sid,
                "duration": 600,
                "qosStatus": "AVAILABLE",
                "device": {"phoneNumber": f"+36700{i:05d}"},
                "qosProfile": "QOS_L",
            }
        )
    plot = TimelinePlot(log, now=lambda: T0_LIVE + timedelta(seconds=600), sessions=sessions)
    path = tmp_path / "fifty.html"
    go.Figure(plot.widget).write_html(path, include_plotlyjs=True)
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(path.as_uri())
        playwright.expect(page.locator(".ytick text").first).to_be_visible(timeout=30_000)
        shown = page.evaluate(_BOXES_JS)
        page.screenshot(path=str(ARTIFACTS / f"live-fifty-rows-{width}.png"), full_page=True)
    finally:
        page.close()
    rows = [r["text"] for r in shown["rows"]]
    assert sorted(rows) == sorted(plot.widget.layout.yaxis.categoryarray), rows
    tops = sorted((r["box"][1], r["box"][3]) for r in shown["rows"])
    assert all(b[0] >= a[1] - 0.5 for a, b in itertools.pairwise(tops)), "row labels overlap"

    def overlap(a: list[float], b: list[float]) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    assert shown["title"] and shown["legend"]
    assert not any(overlap(t, g) for t in shown["title"] for g in shown["legend"]), shown


# What each coloured text of the dashboard is drawn in, and on what: the nearest opaque background.
_COLOURS_JS = """() => {
  const opaque = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (bg && bg !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(bg)) return bg;
    }
    return 'rgb(255, 255, 255)';
  };
  const seen = [];
  const add = (what, selector, svg) => document.querySelectorAll(selector).forEach((el) => {
    const text = (el.textContent || '').trim();
    if (!text || el.getBoundingClientRect().width === 0) return;
    const style = getComputedStyle(el);
    seen.push({what, text: text.slice(0, 40), fg: svg ? style.fill : style.color, bg: opaque(el)});
  });
  add('badge', '.qodlab-status', false);
  add('header', '.qodlab-dashboard small span, .qodlab-dashboard h3', false);
  add('form note', '.qodlab-dashboard .widget-html-content span', false);
  add('plot text', '.qodlab-timeline .xaxislayer-above text, .qodlab-timeline .yaxislayer-above text, '
      + '.qodlab-timeline .infolayer text', true);
  return seen;
}"""


def _rgb(css: str, over: tuple[float, ...] = (1.0, 1.0, 1.0)) -> tuple[float, ...]:
    """An `rgb()`/`rgba()` value as 0..1 channels, a translucent one composed over `over`."""
    values = [float(v) for v in re.findall(r"[\d.]+", css)]
    alpha = values[3] if len(values) > 3 else 1.0
    return tuple(alpha * v / 255 + (1 - alpha) * o for v, o in zip(values[:3], over, strict=True))


def _contrast(fg: str, bg: str) -> float:
    def luminance(rgb: tuple[float, ...]) -> float:
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    back = _rgb(bg)
    lighter, darker = sorted((luminance(_rgb(fg, back)), luminance(back)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("theme", ["Light", "Dark"])
def test_the_dashboard_reads_in_jupyterlab_light_and_dark(browser: Any, tmp_path: Path, theme: str) -> None:
    """Every text the dashboard draws, the plot's included, reads at least 4.5:1 on what is behind it."""
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "themes.jupyterlab-settings").write_text(json.dumps({"theme": f"JupyterLab {theme}"}))
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    for lab in _jupyter("lab", tmp_path, env):
        # The dashboard with 120 s for plotly.js to draw before the timeline becomes a picture: this test
        # reads the interactive figure's text, and a cold JupyterLab on a busy machine took more than 10 s.
        cell = "import qodlab\nboard = qodlab.dashboard(speed=10)\nboard.timeline.detect_after = 120\nboard"
        (tmp_path / "root" / "theme.ipynb").write_text(
            json.dumps(
                {
                    "cells": [
                        {"cell_type": "code", "metadata": {}, "source": cell, "outputs": [], "execution_count": None}
                    ],
                    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                    "nbformat": 4,
                    "nbformat_minor": 5,
                }
            )
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        try:
            _run_dashboard_cell(page, lab.url("theme.ipynb"))
            light = page.locator("body").get_attribute("data-jp-theme-light")
            assert light == ("true" if theme == "Light" else "false"), light
            empty = page.locator(".qodlab-timeline").locator(_TIME_TICKS)  # the link rows' axis, before any session
            playwright.expect(empty.first).to_be_visible(timeout=60_000)
            labels = empty.all_text_contents()
            assert len(labels) >= 2 and len(set(labels)) == len(labels), labels  # were '…26.653, …26.653, …26.654'
            _create(page, "+36721609876543")
            playwright.expect(page.locator(".qodlab-session-row").first).to_contain_text("AVAILABLE", timeout=30_000)
            timeline = page.locator(".qodlab-timeline")
            playwright.expect(timeline.locator("g.trace.bars path").first).to_be_visible(timeout=30_000)
            page.locator(".qodlab-dashboard").screenshot(path=str(ARTIFACTS / f"lab-{theme.lower()}-dashboard.png"))
            legend = timeline.locator(".legendtext")
            playwright.expect(legend.filter(has_text="+3672")).to_have_count(1, timeout=10_000)  # the device's line
            widths = page.evaluate(
                "() => [document.querySelector('.qodlab-timeline .main-svg').getBoundingClientRect().width,"
                " document.querySelector('.qodlab-dashboard').getBoundingClientRect().width]"
            )
            assert widths[0] >= 0.9 * widths[1], widths  # the figure takes the cell's width
            seen = page.evaluate(_COLOURS_JS)
            kinds = {item["what"] for item in seen}
            assert {"badge", "header", "plot text"} <= kinds, kinds
            poor = [
                (i["what"], i["text"], i["fg"], i["bg"], round(_contrast(i["fg"], i["bg"]), 2))
                for i in seen
                if _contrast(i["fg"], i["bg"]) < 4.5
            ]
            assert not poor, poor
            (ARTIFACTS / f"lab-{theme.lower()}-contrasts.json").write_text(
                json.dumps([{**i, "contrast": round(_contrast(i["fg"], i["bg"]), 2)} for i in seen], indent=1)
            )
        finally:
            page.close()
