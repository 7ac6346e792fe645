"""The Python blocks of README.md and of every page in docs/ are tests: every ```python block of a page, in
order, in one interpreter per page, as written. (Below, "the README" stands for any of these pages.)

How it works (read this before adding a block to the README):

- **What runs.** Every fenced ```python block of README.md, top to bottom, each in the namespace
  the blocks before it left (as a reader pastes them into one notebook), exactly as written: no
  hidden setup, no rewriting. A block may use what an earlier block defined (`sandbox`, `client`,
  `log`); a block that rebinds such a name changes it for every block after it.
- **Where.** One test starts one fresh interpreter (this file run as a script) with the
  repository's qodlab on its path, in a temporary directory (blocks may write `events.sqlite`),
  with `NAC_TOKEN` and every `QODLAB_*` variable removed: a machine with no key, as a first-time
  reader has. Being one test, the blocks stay in one pytest-xdist worker and in order whatever the
  `--dist` mode; being a fresh interpreter, a `Sandbox(speed=60)` in a block can never be handed
  a running sandbox that another test in the same worker left behind (servers are reused by
  their settings). The interpreter stops every server and watcher the blocks left running, and exits.
- **Needs.** A block must run on any machine with this repository installed: no key, no
  internet, no fixed port (two runs at once must not collide). What a real network needs is
  written *visibly* in the block: `if os.environ.get("NAC_TOKEN"): <the real service> else:
  <Sandbox.stand_in(), the strict HTTPS stand-in, and its relay instead of smee.io>`; without the
  variable (always, here) the stand-in branch runs, and `STAND_INS` below says which sections do
  that, so that the test can check the branch it took.
- **Skipping.** A block that truly cannot run here gets `<!-- skip: next "why" -->` on the line
  above it (Sybil's skip directive). A skip without a reason fails the test; each skip is a
  `ReadmeBlockSkipped` warning in pytest's summary, never silent. Today no block is skipped.
- **Warnings** a block raises are printed (the test shows them when it fails). A block that
  makes qodlab warn `SettingsChanged` (it replaced a server an earlier block started, as a
  re-run cell with other arguments does) fails, unless its source names `SettingsChanged` (a block
  that shows it on purpose): a reader running the README top to bottom keeps every server it made.
- **Checks.** The blocks' comments say what a reader should see; `CHECKS` turns some of them into
  asserts, run in the same namespace right after the last block of the named section. A section
  named there that has no block any more fails the test (rename the key with the heading).
- **A failure** names the block (its line in README.md and its section), shows its source and the
  traceback, whose frames carry README.md's own line numbers; the blocks after it are not run.
  The test also fails if the number of blocks run and skipped differs from the number of ```python
  fences in the file (a block the parser missed would otherwise pass unseen).

Why Sybil (10.x): it is actively maintained (Chris Withers; releases since 2016, 10.1 in 2025),
parses Markdown fences and HTML-comment directives itself, evaluates a document's examples in
order in one shared namespace (exactly the reader's model), compiles each block with its README
line numbers, and has a skip directive that carries a reason. pytest-markdown-docs isolates
blocks unless each is marked as a continuation, and mktestdocs is a thin single-author helper
without skips or line numbers. Sybil's own pytest plugin makes one item per block, which xdist
may spread over workers; running the document from one test keeps the order guaranteed.

Two more tests hold the notebook table (docs/notebooks.md) to `notebooks/`: every notebook, in number order,
and a static timeline at the end of each that page says ends with one; another holds the
Architecture page's table of releases to `qodlab.apis.table()`.

Ten runs in a row: `for i in $(seq 10); do pytest tests/project/test_readme.py -q -p no:cacheprovider || break; done`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
DOCS = README.parent / "docs"
# Every page whose python blocks run: the README and each page of the documentation site, each in its own
# fresh interpreter (a page starts from nothing, as a reader who opens it does).
PAGES = [README, *sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)]
NOTEBOOKS_PAGE = DOCS / "notebooks.md"  # the table of notebooks
ARCHITECTURE_PAGE = DOCS / "architecture.md"  # the table of releases
FENCE = re.compile(r"^```python\s*$", re.MULTILINE)

# Sections whose blocks run on Sandbox.stand_in() because this machine has no key and no internet.
STAND_INS = {
    "Notifications from anywhere: relay, polling, public URL": "a real network and smee.io",
    "Notifications from a real network": "a deployed qodlab relay ($QODLAB_RELAY)",
}

# Asserts run in the blocks' namespace after the last block of each section (keys: the heading's text).
CHECKS = {
    "The sandbox": [
        "session.qos_status == 'AVAILABLE' and session.duration > 600",  # waited, then extended
        "sandbox.running",
    ],
    "CAMARA authentication: OAuth 2 and OpenID Connect": [
        "any(p.name == 'QOS_L' for p in profiles)",
        "app.secret not in repr(two_legged) + repr(auth) + two_legged.authentication",
    ],
    "The listener and the event log": [
        "log.has(str(session.session_id), 'UNAVAILABLE', 'DURATION_EXPIRED')",
        "listener.rejections.empty",
    ],
    "Notifications from anywhere: relay, polling, public URL": [
        "network is not None and network.url.startswith('https://')",  # the stand-in branch ran
        "listener.log.has(str(session.session_id), 'AVAILABLE') and listener.rejections.empty",
        "'cloudevent-v1' in set(listener.log.df['shape'])",  # notified through the relay (the watcher adds polls)
    ],
    "Notifications from a real network": [
        "relayed.relay_refusal() is None and relayed.how == 'relay via 127.0.0.1, token checked'",
        "relayed.subscription is not None and relayed.subscription.probed.is_set() and len(relayed.log) == 0",
    ],
}


class ReadmeBlockSkipped(UserWarning):
    """A README block was skipped, with its reason (shown in pytest's warnings summary)."""


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(README.parent).as_posix() for p in PAGES])
def test_python_blocks_run_in_order_as_written(page: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "NAC_TOKEN" and not k.startswith("QODLAB_")}
    root = str(README.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, __file__, str(page), str(report)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=160,
    )
    results = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    output = f"--- its stdout ---\n{process.stdout[-3000:]}\n--- its stderr ---\n{process.stderr[-3000:]}"
    failed = [r for r in results if r["outcome"] == "failed"]
    if failed:
        r = failed[0]
        where = f"{page.name} block {r['index']} at line {r['line']} (in '{r['section']}')"
        pytest.fail(f"{where} failed:\n\n{r['source']}\n{r['traceback']}\n{output}", pytrace=False)
    assert process.returncode == 0, f"the README runner exited {process.returncode}\n{output}"
    fences = len(FENCE.findall(page.read_text(encoding="utf-8")))
    if not fences:
        return  # a page with no python block (the test of the sections below says which must have some)
    ran = [r for r in results if r["outcome"] == "passed"]
    skipped = [r for r in results if r["outcome"] == "skipped"]
    assert len(ran) + len(skipped) == fences, f"{fences} python fences, {len(ran)} run, {len(skipped)} skipped"
    assert ran, f"no block of {page.name} ran"
    for r in skipped:
        warnings.warn(f"{page.name} line {r['line']} ({r['section']}): {r['reason']}", ReadmeBlockSkipped, stacklevel=1)
    print(f"{len(ran)} blocks of {page.name} ran, {len(skipped)} skipped, in {time.monotonic() - started:.1f} s")


def test_the_sections_named_by_the_checks_and_stand_ins_have_python_blocks() -> None:
    blocks = set().union(*(_sections_with_blocks(page.read_text(encoding="utf-8")) for page in PAGES))
    missing = sorted(set(CHECKS) - blocks) + sorted(set(STAND_INS) - blocks)
    assert not missing, f"sections with no python block any more (rename the key): {missing}"


def test_the_notebook_table_lists_every_notebook_in_number_order() -> None:
    text = NOTEBOOKS_PAGE.read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(\d\d-[\w-]+)` \|", text, re.MULTILINE)
    on_disk = sorted(p.stem for p in (README.parent / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert listed == on_disk


def test_the_readme_shows_the_table_of_releases_the_code_holds() -> None:
    """The Architecture page's table is `qodlab.apis.table()`, row for row (regenerate it from there)."""
    from qodlab import apis

    text = ARCHITECTURE_PAGE.read_text(encoding="utf-8")
    shown = re.search(r"<!-- qodlab.apis.table\(\) -->\n(.*?)\n<!-- end of qodlab.apis.table\(\) -->", text, re.DOTALL)
    assert shown is not None, "docs/architecture.md lost the markers around the table of releases"
    assert shown.group(1) == apis.table()
    assert [line.split(" | ")[0] for line in shown.group(1).splitlines()[2:]] == [
        f"| `{r.name}`" for r in apis.RELEASES
    ]


def test_the_readme_links_to_files_that_exist() -> None:
    """The front door's relative links (the docs pages, LICENSE, the picture) point at files in the repository."""
    targets = re.findall(r"\]\((?!https?://|#)([^)#\s]+)", README.read_text(encoding="utf-8"))
    assert "docs/_static/dashboard.png" in targets
    missing = [t for t in targets if not (README.parent / t).exists()]
    assert not missing, missing


def test_the_readme_stays_a_front_door() -> None:
    """Under 10,000 characters, the two commands first; the rest lives in docs/."""
    text = README.read_text(encoding="utf-8")
    assert len(text) < 10_000, len(text)
    first = text.index("```bash")
    assert text.index("## Two commands") < first < text.index("```python")
    assert "python -m sphinx -W --keep-going -b html docs docs/_build/html" in text


# What the README says after the notebook table: all but these end with a static timeline.
NO_STATIC_TIMELINE = {"03": "the dashboard, live", "07": "the classroom view, live", "09": "tokens, nothing to draw"}


def test_the_notebooks_the_docs_say_end_with_a_static_timeline_do() -> None:
    text = NOTEBOOKS_PAGE.read_text(encoding="utf-8")
    assert "All but three end with a static timeline" in text
    assert all(f"`{number}`" in text for number in NO_STATIC_TIMELINE)
    for path in sorted((README.parent / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        last = ["".join(c["source"]) for c in cells[-4:]]  # the picture, what it shows, (06: one more), clean-up
        draws = any("timeline_png(" in source for source in last)
        assert draws is (path.stem[:2] not in NO_STATIC_TIMELINE), path.name
        if draws:  # and says what it shows: an assert cell on describe() of that picture right after it
            picture = next(i for i, c in enumerate(cells) if "timeline_png(" in "".join(c["source"]))
            assert "describe(png)" in "".join(cells[picture + 1]["source"]), path.name


# -- the runner: this file run as a script, in a fresh interpreter -------------------------------------


def _sections_with_blocks(text: str) -> set[str]:
    return {_section(text, m.start()) for m in FENCE.finditer(text)}


def _section(text: str, offset: int) -> str:
    """The heading a position of the README is under (fenced lines are not headings)."""
    heading, fenced = "(top)", False
    for line in text[:offset].splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            heading = line.lstrip("#").strip()
    return heading


def _run(readme: Path, report: Path) -> int:
    from unittest import SkipTest

    from sybil import Sybil
    from sybil.evaluators.skip import Skipper
    from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

    document = Sybil(parsers=[PythonCodeBlockParser(), SkipParser()]).parse(readme)
    text = readme.read_text(encoding="utf-8")
    examples = list(document)
    last_of = {
        _section(text, e.start): i for i, e in enumerate(examples) if not isinstance(e.region.evaluator, Skipper)
    }
    index, status = 0, 0
    with report.open("w") as out:

        def record(example: Any, outcome: str, **extra: Any) -> None:
            source = "" if isinstance(example.region.evaluator, Skipper) else str(example.parsed)
            row = {"index": index, "line": example.line, "section": _section(text, example.start)}
            out.write(json.dumps({**row, "outcome": outcome, "source": source, **extra}) + "\n")
            out.flush()

        for i, example in enumerate(examples):
            if isinstance(example.region.evaluator, Skipper):
                action, reason = example.parsed
                if action in ("next", "start") and not reason:
                    record(example, "failed", traceback=f"'skip: {action}' needs a reason: <!-- skip: next \"why\" -->")
                    return 1
                example.evaluate()
                continue
            index += 1
            started = time.monotonic()
            try:
                with warnings.catch_warnings(record=True) as said:
                    warnings.simplefilter("always")
                    try:
                        example.evaluate()
                    finally:
                        for w in said:
                            print(
                                f"{Path(w.filename).name}:{w.lineno}: {w.category.__name__}: {w.message}",
                                file=sys.stderr,
                            )
                restarted = [str(w.message) for w in said if w.category.__name__ == "SettingsChanged"]
                if restarted and "SettingsChanged" not in str(example.parsed):
                    msg = f"a block replaced a server an earlier block started (give it reuse=False): {restarted}"
                    raise AssertionError(msg)
                section = _section(text, example.start)
                if last_of[section] == i:
                    for check in CHECKS.get(section, []):
                        assert eval(check, example.namespace), f"README check failed after '{section}': {check}"
            except SkipTest as skip:
                record(example, "skipped", reason=str(skip))
            except BaseException:
                record(example, "failed", traceback=traceback.format_exc())
                status = 1
                break
            else:
                record(example, "passed", seconds=round(time.monotonic() - started, 2))
    _stop_everything(document.namespace)
    return status


def _stop_everything(namespace: dict[str, Any]) -> None:
    """Close and stop what the blocks left open, as a kernel's shutdown does: clients, watchers, listeners, servers.

    Clients first: a server stopped while a client holds a keep-alive TLS connection to it waits out
    uvicorn's graceful-shutdown timeout (2 s, and an ERROR line) for that connection.
    """
    from qodlab import Listener, QodClient, Watcher
    from qodlab._net.server import BackgroundServer

    values = list(namespace.values())
    for client in (v for v in values if isinstance(v, QodClient)):
        client.close()
    running = [v for v in values if isinstance(v, Watcher | BackgroundServer) and v.running]
    for value in sorted(running, key=lambda v: 0 if isinstance(v, Watcher) else 1 if isinstance(v, Listener) else 2):
        value.stop()


if __name__ == "__main__":
    sys.exit(_run(Path(sys.argv[1]), Path(sys.argv[2])))


def test_the_architecture_page_names_what_exists_and_every_folder() -> None:
    """Every module the Architecture page names exists; every folder of the package is in its table of
    folders; each decision's one place is a module holding the names the row gives (issue 36)."""
    import importlib

    package = README.parent / "qodlab"
    text = ARCHITECTURE_PAGE.read_text(encoding="utf-8")
    named = set(re.findall(r"\b((?:[a-z_]+/)*[a-z_]+\.py)\b", text))
    assert len(named) > 30, named
    folders_table = text.split("## The folders", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `qodlab/([a-z_/]*)` \|", folders_table, re.MULTILINE))
    for name in sorted(named):
        row = next((r for r in folders_table.splitlines() if f"`{name}`" in r and "`qodlab/" in r), None)
        folder = re.match(r"\| `qodlab/([a-z_/]*)`", row).group(1) if row else ""
        assert (package / folder / name).exists() or (package / name).exists() or (README.parent / name).exists(), name
    folders = {
        f"{p.parent.relative_to(package).as_posix()}/" for p in package.rglob("__init__.py") if p.parent != package
    }
    assert folders <= listed | {"sandbox/contract/"}, sorted(folders - listed)
    assert listed - {""} <= folders, sorted(listed - folders)
    decisions = text.split("## Where each decision lives", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in decisions.splitlines() if r.startswith("| ") and "`" in r.split("|")[2]]
    assert len(rows) >= 8, rows
    for row in rows:
        place = row.split("|")[2]
        modules = re.findall(r"`((?:[a-z_]+/)*[a-z_]+)\.py`", place)
        assert modules, row
        loaded = [importlib.import_module("qodlab." + m.replace("/", ".")) for m in modules]
        for name in re.findall(r"`([A-Za-z_]+)(?:\.([a-z_]+))?(?:\(\))?`", place):
            if name[1] == "py":  # a module's file name (`apis.py`), checked above
                continue
            owner = next((m for m in loaded if hasattr(m, name[0])), None)
            if owner is None:
                owner = importlib.import_module("qodlab")
            assert hasattr(owner, name[0]), (row, name)
            if name[1]:
                assert hasattr(getattr(owner, name[0]), name[1]), (row, name)
