"""The notebooks: committed without outputs; they also run under nbval in this environment
(pytest collects notebooks/ with --nbval-lax) and, here, in a fresh Binder-like environment."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import cache_lock

ROOT = Path(__file__).parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CACHE = ROOT / ".cache" / "binder-venv"


def test_the_notebooks_are_there() -> None:
    assert [n.name[:2] for n in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]


def test_notebooks_are_committed_without_outputs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", *map(str, NOTEBOOKS)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_binder_files() -> None:
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    assert ".[notebook]" in requirements and "ipykernel>=7.1" in requirements and "voila" in requirements
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    readme = (ROOT / "README.md").read_text()
    assert "labpath=notebooks%2F01-quickstart.ipynb" in readme
    assert "urlpath=voila%2Frender%2Fnotebooks%2F03-dashboard.ipynb" in readme


@contextlib.contextmanager
def _binder_python() -> Iterator[Path]:
    """A fresh virtual environment with binder/requirements.txt, as repo2docker would build it.

    Locked while in use: it holds one checkout's qodlab at a time (a worktree sharing `.cache/`
    waits for its turn), and two processes never build it at once."""
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    digest = hashlib.sha256((requirements + (ROOT / "pyproject.toml").read_text()).encode()).hexdigest()[:12]
    venv = CACHE / digest
    python = venv / "bin" / "python"
    ready = venv / ".ready"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    with cache_lock(venv):
        if not ready.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([*pip, "-r", "binder/requirements.txt"], cwd=ROOT, check=True, timeout=1500)
            subprocess.run([*pip, "pytest", "nbval"], check=True, timeout=600)
            ready.touch()
        else:  # the cache is keyed by the requirements: qodlab itself is this checkout's, on every run
            subprocess.run([*pip, "--no-deps", "--force-reinstall", "."], cwd=ROOT, check=True, timeout=600)
        yield python


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_notebooks_run_in_a_fresh_binder_environment() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    arguments = ["-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env"]
    arguments += ["-o", "addopts=", "-o", "testpaths=notebooks", "notebooks"]
    with _binder_python() as python:
        out = subprocess.run(
            [str(python), "-m", "pytest", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=1200, env=env
        )
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-2000:]
    assert "passed" in out.stdout


def test_binder_s_server_and_voila_cull_a_closed_page_s_kernel(tmp_path: Path) -> None:
    """Issue 34 §6: binder/postBuild puts the culling settings where Binder's Jupyter server reads them, the same as
    voila.json's (read by `voila` run from the repository; test_browser runs it and sees a closed page's kernel end)."""
    import json

    voila = json.loads((ROOT / "voila.json").read_text())
    assert json.loads((ROOT / "binder" / "jupyter_server_config.json").read_text()) == voila
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}, "HOME": str(tmp_path)}
    subprocess.run(["bash", "binder/postBuild"], cwd=ROOT, env=env, check=True, timeout=60)
    read = (
        "from jupyter_server.serverapp import ServerApp\napp = ServerApp()\napp.load_config_file()\n"
        "from jupyter_server.services.kernels.kernelmanager import MappingKernelManager\n"
        "manager = MappingKernelManager(parent=app)\n"
        "print(manager.cull_idle_timeout, manager.cull_interval, manager.cull_connected, manager.cull_busy)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", read], cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    wanted = voila["MappingKernelManager"]
    assert shown == [str(wanted[k]) for k in ("cull_idle_timeout", "cull_interval", "cull_connected", "cull_busy")]


def test_the_dashboard_notebook_imports_no_voila_outside_a_preheated_pool() -> None:
    """Issue 34 §7: its preheat guard imported Voila's server side in every kernel to learn it was not preheated
    (10-12 s of a first paint on a busy machine); `benchmarks/voila.py` measures the paint, this the cause."""
    import json

    from jupyter_client.manager import start_new_kernel

    cells = json.loads((ROOT / "notebooks" / "03-dashboard.ipynb").read_text())["cells"]
    first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOILA")}
    manager, kernel = start_new_kernel(kernel_name="python3", env={**env, "PYTHONPATH": str(ROOT)})
    try:
        said: list[str] = []

        def seen(message: dict[str, Any]) -> None:
            if message["msg_type"] in ("stream", "error"):
                said.append(message["content"].get("text", message["content"].get("evalue", "")))

        kernel.execute_interactive(first + "\n_ = board.close()", timeout=180, output_hook=seen)
        reply = kernel.execute_interactive(
            "import sys\nprint(sorted(m for m in sys.modules if m.startswith('voila')))", timeout=60, output_hook=seen
        )
        assert reply["content"]["status"] == "ok" and said[-1].strip() == "[]", said
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)
