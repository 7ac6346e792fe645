"""The documentation site is tested like the code: it builds with warnings as errors (a broken internal link,
a docstring autodoc cannot read, a notebook cell that raises), its API reference holds every public name, and
a real browser opens every page, searches, and sees each notebook's last picture.

The build runs once per module (`site` fixture) into a temporary folder; the notebooks execute through
jupyter-cache under .cache/jupyter-cache, so a notebook whose code has not changed is not run again (about
two minutes on two cores from nothing, ten seconds cached). The pages' Python blocks run in test_readme.py.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qodlab

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
LIVE_ONLY = {"03", "07", "09"}  # docs/notebooks.md: the two live widgets, and tokens with nothing to draw

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {k: v for k, v in os.environ.items() if k != "NAC_TOKEN" and not k.startswith("QODLAB_")}
    started = time.monotonic()
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(out / "doctrees")]
    done = subprocess.run(
        [*command, str(DOCS), str(out / "html")], env=env, capture_output=True, text=True, timeout=880, cwd=ROOT
    )
    problems = "\n".join(line for line in done.stderr.splitlines() if "IPKernelApp" not in line)
    assert done.returncode == 0, f"the site did not build without warnings:\n{problems[-6000:]}"
    print(f"docs: built in {time.monotonic() - started:.0f} s")
    return out / "html"


def test_the_site_builds_with_warnings_as_errors_and_every_page_is_in_it(site: Path) -> None:
    sources = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md") if "_build" not in p.parts}
    sources |= {f"notebooks/{name}" for name in NOTEBOOKS}
    built = {p.relative_to(site).with_suffix("").as_posix() for p in site.rglob("*.html")}
    assert sources <= built, sorted(sources - built)


def test_the_api_reference_documents_every_public_name(site: Path) -> None:
    page = (site / "api.html").read_text(encoding="utf-8")
    missing = [name for name in qodlab.__all__ if name != "__version__" and f'id="qodlab.{name}"' not in page]
    assert not missing, f"not in docs/api.md: {missing}"


def test_a_broken_internal_link_fails_the_build(tmp_path: Path) -> None:
    """The build's -W is not decorative: a page linking to a page that does not exist stops it."""
    (tmp_path / "conf.py").write_text('extensions = ["myst_parser"]\n')
    (tmp_path / "index.md").write_text("# Home\n\nSee [the guide](guide/nowhere.md).\n")
    command = [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(tmp_path), str(tmp_path / "_build")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "nowhere.md" in done.stderr, done.stderr


def test_a_notebook_cell_that_raises_fails_the_build(tmp_path: Path) -> None:
    """docs/conf.py's own settings (cached execution, raise on error) on a one-notebook site whose cell raises."""
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    cache = tmp_path / "cache"
    (tmp_path / "conf.py").write_text(f"{conf}\nnb_execution_cache_path = {str(cache)!r}\nhtml_static_path = []\n")
    (tmp_path / "index.md").write_text("# Home\n\n```{toctree}\nraises\n```\n")
    cell = {
        "cell_type": "code",
        "metadata": {},
        "outputs": [],
        "execution_count": None,
        "source": "raise ValueError('boom')",
    }
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    title = {"cell_type": "markdown", "metadata": {}, "source": "# Raises"}
    notebook = {"cells": [title, cell], "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "raises.ipynb").write_text(json.dumps(notebook))
    command = [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(tmp_path), str(tmp_path / "_build")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode != 0 and "boom" in done.stderr, done.stderr[-3000:]


# -- in a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: scripts/test.sh installs Debian's chromium", pytrace=False)
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def test_every_page_renders_in_a_browser(site: Path, served: str, browser: Any) -> None:
    """Each page: HTTP 200, its title and main heading drawn, no script error, every image and stylesheet loaded."""
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if "_static" not in p.parts)
    page = browser.new_page()
    failed: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The site's own files must all load; an external picture (Binder's badge) cannot here, offline.
    page.on("requestfailed", lambda request: failed.append(request.url) if request.url.startswith(served) else None)
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    try:
        for path in pages:
            response = page.goto(f"{served}/{path}", wait_until="load")
            assert response is not None and response.status == 200, path
            heading = page.locator("main h1").first
            assert heading.is_visible(), path
            assert heading.inner_text().strip(), path
            assert "qodlab" in page.title(), (path, page.title())
            broken = page.evaluate(
                "[...document.images].filter(i => i.src.startsWith(location.origin))"
                ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
            )
            assert not broken, (path, broken)
            assert not errors and not failed, (path, errors, failed)
    finally:
        page.close()
    assert len(pages) >= 25, pages


def test_the_search_finds_pages(site: Path, served: str, browser: Any) -> None:
    """Sphinx's search in the browser: a query lists the pages that hold it, with the count when it is done."""
    expect = pytest.importorskip("playwright.sync_api").expect
    page = browser.new_page()
    try:
        for query, title in [("relay", "Notifications from anywhere"), ("PRIVATE_KEY_JWT", "CAMARA releases")]:
            page.goto(f"{served}/search.html?q={query}")
            summary = page.locator("#search-results .search-summary")
            expect(summary).to_contain_text(re.compile(r"found \d+ page"), timeout=30_000)
            titles = page.locator("#search-results ul.search li a").all_inner_texts()
            assert any(title in t for t in titles), (query, titles)
    finally:
        page.close()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_each_notebook_page_shows_its_outputs_and_last_picture(
    site: Path, served: str, browser: Any, notebook: str
) -> None:
    """Executed at build time: outputs are on the page; those that end with a static timeline show it, loaded,
    as the page's last picture, below the notebook's last `timeline_png` cell; live widgets show their text."""
    page = browser.new_page()
    try:
        page.goto(f"{served}/notebooks/{notebook}.html", wait_until="load")
        article = page.locator("article")
        assert article.locator(".cell_output").count() > 0, "no outputs: the notebook was not executed"
        assert "model_id" not in article.inner_text()  # a live widget is never its raw JSON here
        cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        if notebook[:2] in LIVE_ONLY:
            assert not any("timeline_png(" in "".join(c["source"]) for c in code[-4:])
            return
        shown = article.locator(".cell").filter(has=page.locator("img"))
        last = shown.last
        assert "timeline_png(" in last.locator(".cell_input").inner_text()
        size = last.locator("img").last.evaluate("i => [i.complete, i.naturalWidth, i.naturalHeight]")
        assert size[0] and size[1] >= 600 and size[2] >= 150, size  # drawn and loaded (01: 900 x 212)
        after = page.evaluate(
            "(el) => [...document.querySelectorAll('article .cell')].slice([...document.querySelectorAll("
            "'article .cell')].indexOf(el) + 1).some(c => c.querySelector('img'))",
            last.element_handle(),
        )
        assert not after  # it is the last picture on the page
    finally:
        page.close()
