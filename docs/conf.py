"""Sphinx configuration: python -m sphinx -W --keep-going -b html docs docs/_build/html.

Sphinx with pydata-sphinx-theme and MyST-NB, as the PyData projects (pandas, xarray, Jupyter's own docs) do:
the pages are MyST Markdown, the API reference comes from the docstrings (autodoc), and the notebooks in
notebooks/ (docs/notebooks is a link to them) are executed at build time through jupyter-cache, so an
unchanged notebook is not run again. Warnings are errors (-W), and a cell that raises fails the build.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import qodlab

ROOT = Path(__file__).resolve().parent.parent

project = "qodlab"
copyright = "the qodlab developers"
version = release = qodlab.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.intersphinx"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]


myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# The notebooks run at build time, cached by their code cells' content under .cache/ (git-ignored).
nb_execution_mode = os.environ.get("QODLAB_DOCS_EXECUTE", "cache")
nb_execution_cache_path = str(ROOT / ".cache" / "jupyter-cache")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# A live widget needs a kernel (and ipywidgets' manager from a CDN): on these static pages it shows its text,
# and each notebook's static timeline (qodlab.timeline_png) is the picture.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_execution_in_temp = True  # what a notebook writes (events.sqlite) stays out of notebooks/

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_inherit_docstrings = True
napoleon_numpy_docstring = False  # they use "Parameters:" sections, Google style
intersphinx_mapping: dict[str, tuple[str, None]] = {}


def _markdown_code(app: object, what: str, name: str, obj: object, options: object, lines: list[str]) -> None:
    """Markdown's `code` in a docstring as reStructuredText's ``code`` (a URL in it is then no link)."""
    for i, line in enumerate(lines):
        lines[i] = re.sub(r"(?<![`:\w])`([^`\n]+)`(?![`_])", r"``\1``", line)


def setup(app: Any) -> None:
    app.connect("autodoc-process-docstring", _markdown_code, priority=100)  # before napoleon reads fields


html_theme = "pydata_sphinx_theme"
html_title = f"qodlab {release}"
html_static_path = ["_static"]
html_theme_options = {
    "github_url": "https://github.com/qodlab/qodlab",
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
