"""The public API is exactly what `qodlab.__all__` lists, sorted."""

from __future__ import annotations
import __future__

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import qodlab


def test_all_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(qodlab).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType | __future__._Feature)
    } | {"__version__"}
    lazy = set(qodlab._LAZY)
    assert set(qodlab.__all__) == public | lazy
    assert qodlab.__all__ == sorted(qodlab.__all__)
    for name in qodlab.__all__:
        assert getattr(qodlab, name) is not None


def test_the_three_lists_of_public_names_agree() -> None:
    """`__init__.py` writes each public name three times (imports for type checkers, `_LAZY` for
    the loader, `__all__`): the same names, and each loaded from the module type checkers read."""
    tree = ast.parse(Path(qodlab.__file__).read_text())
    (guard,) = [
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "typing.TYPE_CHECKING"
    ]
    typed: dict[str, str] = {}
    for statement in guard.body:
        assert isinstance(statement, ast.ImportFrom) and statement.level == 1, ast.unparse(statement)
        typed |= {alias.asname or alias.name: f"qodlab.{statement.module}" for alias in statement.names}
    assert sorted(typed) == sorted(qodlab._LAZY) == [name for name in qodlab.__all__ if name != "__version__"]
    for name, module in typed.items():
        assert getattr(qodlab, name) is getattr(importlib.import_module(module), name), name


def test_import_does_not_load_widgets_or_plots() -> None:
    """(Run in a fresh interpreter: this one has them loaded by other tests.)"""
    code = "import sys, qodlab; print(any(m in sys.modules for m in ('ipywidgets', 'plotly', 'matplotlib')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


HEAVY = (
    "pandas",
    "numpy",
    "fastapi",
    "starlette",
    "uvicorn",
    "jsonschema",
    "aiohttp",
    "joserfc",
    "authlib",
    "plotly",
    "ipywidgets",
    "matplotlib",
)


def _loaded_after(statement: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after `statement`."""
    code = f"import sys; {statement}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_qodlab_loads_nothing_heavy() -> None:
    assert _loaded_after("import qodlab") == []
    assert _loaded_after("from qodlab import QodClient") == []
    assert _loaded_after("from qodlab import QodClient, Listener, EventLog, Watcher") == []


def test_heavy_parts_load_when_used() -> None:
    assert "pandas" in _loaded_after("import qodlab; qodlab.EventLog().df")
    assert "fastapi" in _loaded_after("from qodlab import Sandbox; Sandbox")


def test_every_moved_module_imports_by_its_old_name_with_a_warning() -> None:
    """The flat layout's public modules (`qodlab.listener`, ...) moved into folders (issue 36): each
    old name gives the same module object, saying where it went, in a fresh interpreter."""
    code = (
        "import importlib, sys, warnings, qodlab\n"
        "for old, new in qodlab._MOVED.items():\n"
        "    with warnings.catch_warnings(record=True) as seen:\n"
        "        warnings.simplefilter('always')\n"
        "        exec(f'import {old}')  # as a person writes it\n"
        "    module = sys.modules[old]\n"
        "    assert module is importlib.import_module(new) is sys.modules[old], old\n"
        "    assert module.__spec__.name == new, module.__spec__\n"
        "    (warning,) = seen\n"
        "    assert warning.category is DeprecationWarning and new in str(warning.message), warning\n"
        "    assert warning.filename == '<string>', warning.filename  # the importing line, not importlib's\n"
        "print(len(qodlab._MOVED))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 12


def test_the_old_names_are_the_public_modules_that_moved() -> None:
    """Each old name is a module that no longer exists as a file, and its new home does."""
    root = Path(qodlab.__file__).parent
    for old, new in qodlab._MOVED.items():
        assert not (root / f"{old.split('.')[1]}.py").exists(), old
        assert (root.parent / (new.replace(".", "/") + ".py")).exists(), new


def test_the_client_package_keeps_the_public_names_of_the_client_module() -> None:
    """`qodlab.client` was a module (`client.py`) before it was the request side's folder: what it listed
    in `__all__`, and `create_request`, still import from it, as the same objects."""
    old = {"NAC_HOST", "AsyncQodClient", "QodClient", "create_request"}
    import qodlab.client
    from qodlab.client import clients

    assert old <= set(qodlab.client.__all__)
    for name in old:
        assert getattr(qodlab.client, name) is getattr(clients, name), name
