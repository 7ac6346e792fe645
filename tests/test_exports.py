"""The public API is exactly what `qodlab.__all__` lists, sorted."""

from __future__ import annotations
import __future__

import subprocess
import sys
import types

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


def test_import_does_not_load_widgets_or_plots() -> None:
    """(Run in a fresh interpreter: this one has them loaded by other tests.)"""
    code = "import sys, qodlab; print(any(m in sys.modules for m in ('ipywidgets', 'plotly', 'matplotlib')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
