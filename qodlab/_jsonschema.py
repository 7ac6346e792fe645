"""jsonschema imported without the `rfc3987-syntax` grammar nothing in qodlab uses.

jsonschema registers its optional format checkers when it is imported; where `rfc3987-syntax` is
installed (wherever JupyterLab is) that compiles its grammars (lark) for the `iri` formats: 1 to 4 s
of an import, for a check qodlab never makes. Two imports pull jsonschema in: the sandbox's wording
of a refused body (`sandbox/contract/wording.py`) and plotly's FigureWidget, through nbformat
(`plots/live.py`). Both run inside `without_iri_grammar()`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["without_iri_grammar"]

_GRAMMAR = "rfc3987_syntax"


@contextmanager
def without_iri_grammar() -> Iterator[None]:
    """Within it, importing `rfc3987_syntax` raises ImportError, so jsonschema skips its `iri` checkers.

    Nothing changes when the grammar or jsonschema is already imported (the cost is paid, and a
    module in `sys.modules` is never imported again); afterwards the grammar can be imported as before.
    """
    blocked = _GRAMMAR not in sys.modules and "jsonschema" not in sys.modules
    if blocked:
        sys.modules[_GRAMMAR] = None  # type: ignore[assignment]  # an ImportError for jsonschema
    try:
        yield
    finally:
        if blocked and sys.modules.get(_GRAMMAR, ...) is None:
            del sys.modules[_GRAMMAR]
