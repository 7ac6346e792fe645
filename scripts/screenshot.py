"""The README's and the site's picture of the dashboard, taken from a real browser.

    python scripts/screenshot.py [--out docs/_static/dashboard.png]

Serves notebooks/03-dashboard.ipynb with Voila on 127.0.0.1 (a free port, in a temporary directory), opens it
in Debian's chromium through Playwright, creates two sessions on the embedded sandbox, waits until both are
AVAILABLE in the sessions panel and on the live timeline, and saves the page. Needs the test extra (voila,
playwright) and chromium (`apt-get install chromium`). Run it again whenever the dashboard changes.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_accepting(port: int, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("screenshot: voila exited before serving")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    sys.exit("screenshot: voila did not start within 90 s")


def _create(page: object, number: str) -> None:
    phone = page.locator(".qodlab-device-form input[type=text]").first  # type: ignore[attr-defined]
    phone.fill(number)
    phone.press("Tab")
    create = page.locator("button.qodlab-create")  # type: ignore[attr-defined]
    expect(create).to_be_enabled(timeout=20_000)
    create.click()
    expect(page.locator(".qodlab-create-result")).to_contain_text("Created", timeout=20_000)  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "_static" / "dashboard.png")
    args = parser.parse_args(argv)
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(ROOT / "notebooks" / "03-dashboard.ipynb", folder)
        command = [sys.executable, "-m", "voila", "03-dashboard.ipynb", "--no-browser", f"--port={port}",
                   "--Voila.ip=127.0.0.1"]  # fmt: skip
        voila = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_accepting(port, voila)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                page = browser.new_page(viewport={"width": 1280, "height": 2000}, device_scale_factor=1)
                page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
                page.wait_for_selector(".qodlab-session-form", timeout=120_000)
                for number in ("+36721601234567", "+36721609876543"):
                    _create(page, number)
                rows = page.locator(".qodlab-session-row")
                expect(rows).to_have_count(2, timeout=30_000)
                for i in range(2):
                    expect(rows.nth(i)).to_contain_text("AVAILABLE", timeout=30_000)
                timeline = page.locator(".qodlab-timeline")
                expect(timeline.locator("g.trace.bars path").first).to_be_visible(timeout=30_000)
                page.wait_for_timeout(1500)  # let the timeline's throttled redraw show the last status
                args.out.parent.mkdir(parents=True, exist_ok=True)
                # Voila scrolls inside its own container, so the viewport is tall and the picture ends where
                # the dashboard's last panel does.
                bottom = page.evaluate(
                    "Math.max(...[...document.querySelectorAll('.qodlab-timeline, .qodlab-event-table')]"
                    ".map(e => e.getBoundingClientRect().bottom))"
                )
                clip = {"x": 0, "y": 0, "width": 1280, "height": min(2000, int(bottom) + 16)}
                page.screenshot(path=str(args.out), clip=clip)
                browser.close()
        finally:
            voila.terminate()
            voila.wait(15)
    print(f"screenshot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
