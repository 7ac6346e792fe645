"""Voila's first paint: the dashboard (notebook 03) beside two plain widget apps, in one run.

Each figure is headless Chromium (Debian's, driven by Playwright) asking Voila 0.5 for a notebook
until its button shows on the page: a fresh kernel, the notebook executed, the widgets drawn.
  - one ipywidgets Button (the floor of a widget app under Voila);
  - one Button and one plotly FigureWidget (the baseline: what a live plot costs anyway);
  - notebooks/03-dashboard.ipynb, until its Create button shows.
It prints the median of `--runs` page loads for each and the dashboard's ratio to the baseline
(the goal: <= 1.3x). `--preheat` serves them with Voila's `--preheat_kernel` pool of one kernel.

    python benchmarks/voila.py [--runs 3] [--preheat]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
BUTTON = "import ipywidgets as w\nw.Button(description='Create session')"
PLOTLY = (
    "import ipywidgets as w\nimport plotly.graph_objects as go\n"
    "w.VBox([w.Button(description='Create session'), go.FigureWidget(go.Figure(go.Bar(x=[1], y=['a'])))])"
)
CASES = {  # notebook, what to wait for on the page
    "one Button": ("button.ipynb", "button:has-text('Create session')"),
    "baseline: a Button and a plotly FigureWidget": ("plotly.ipynb", "button:has-text('Create session')"),
    "notebook 03, the dashboard": ("03-dashboard.ipynb", "button.qodlab-create"),
}


def _notebooks(where: Path) -> None:
    for name, code in (("button.ipynb", BUTTON), ("plotly.ipynb", PLOTLY)):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, where / name)
    shutil.copy(ROOT / "notebooks" / "03-dashboard.ipynb", where)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(where: Path, preheat: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-m", "voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    if preheat:
        command += ["--preheat_kernel=True", "--pool_size=1"]
    process = subprocess.Popen(command, cwd=where, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}/voila/render/"
        if process.poll() is not None or time.monotonic() > deadline:
            msg = "voila did not start"
            raise RuntimeError(msg)
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preheat", action="store_true", help="Voila's --preheat_kernel pool of one kernel")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    figures: dict[str, list[float]] = {name: [] for name in CASES}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        where = Path(tmp)
        _notebooks(where)
        process, base = _serve(where, args.preheat)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for run in range(args.runs + 1):  # run 0 warms the disk cache and Voila's templates
                for name, (notebook, selector) in CASES.items():
                    if args.preheat:  # let the pool refill after the previous visit took its kernel
                        time.sleep(20)
                    page = browser.new_page()
                    started = time.perf_counter()
                    page.goto(base + notebook, timeout=180_000)
                    page.wait_for_selector(selector, timeout=180_000)
                    elapsed = time.perf_counter() - started
                    page.close()
                    if run:
                        figures[name].append(elapsed)
        finally:
            browser.close()
            process.terminate()
            process.wait(15)
    medians = {name: statistics.median(values) for name, values in figures.items()}
    baseline = medians["baseline: a Button and a plotly FigureWidget"]
    pool = ", a preheated pool of 1" if args.preheat else ""
    print(f"Voila first paint (page asked for until its button shows), median of {args.runs}{pool}")
    for name, seconds in medians.items():
        print(f"  {name:46s} {seconds:6.2f} s   {seconds / baseline:5.2f}x the baseline")
    ratio = medians["notebook 03, the dashboard"] / baseline
    print(f"  ratio of notebook 03 to the baseline: {ratio:.2f}x (goal 1.3x)")


if __name__ == "__main__":
    main()
