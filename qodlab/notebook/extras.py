"""What to do when an optional part is missing: the notebook extra (widgets, live plots).

`pip install -e .` (the README's first command) installs no widgets: `qodlab.dashboard()`, the
other widgets and `TimelinePlot` then raise ModuleNotFoundError naming the extra to install and
how to start JupyterLab, instead of a bare "No module named 'ipywidgets'".
"""

from __future__ import annotations

import importlib.util

__all__ = ["NOTEBOOK_MODULES", "require_notebook_extra"]

NOTEBOOK_MODULES = ("ipywidgets", "plotly", "anywidget")  # what the widgets and the live plot import


def require_notebook_extra(what: str) -> None:
    """Raise ModuleNotFoundError, naming the extra and JupyterLab, if a notebook module is missing."""
    missing = [name for name in NOTEBOOK_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return
    names = ", ".join(repr(name) for name in missing)
    msg = (
        f"{what}: this needs qodlab's notebook extra, which this environment lacks (no module {names}). "
        "Install it, and JupyterLab to run the notebooks in: "
        "python -m pip install 'qodlab[notebook]' jupyterlab "
        "(from a clone of the repository: python -m pip install -e '.[notebook]' jupyterlab), "
        "then start JupyterLab: jupyter lab (from the clone: jupyter lab notebooks/01-quickstart.ipynb)"
    )
    raise ModuleNotFoundError(msg, name=missing[0])
