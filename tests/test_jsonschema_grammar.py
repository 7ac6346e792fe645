"""`qodlab._jsonschema.without_iri_grammar`: jsonschema imported without the slow `rfc3987-syntax` grammar."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("rfc3987_syntax") is None, reason="rfc3987-syntax is not installed here"
)


def _run(code: str) -> None:
    """Run `code` in a fresh interpreter (the imports under test happen once a process)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_jsonschema_imported_within_it_has_no_iri_checkers_and_the_grammar_stays_importable() -> None:
    _run("""
        import sys
        from qodlab._jsonschema import without_iri_grammar
        with without_iri_grammar():
            from jsonschema import FormatChecker
        assert "rfc3987_syntax" not in sys.modules and "lark" not in sys.modules
        assert "iri" not in FormatChecker.checkers and "iri-reference" not in FormatChecker.checkers
        import rfc3987_syntax  # the block is lifted
    """)


def test_nothing_changes_when_the_grammar_is_already_imported() -> None:
    _run("""
        import sys
        import rfc3987_syntax
        from qodlab._jsonschema import without_iri_grammar
        with without_iri_grammar():
            from jsonschema import FormatChecker
        assert sys.modules["rfc3987_syntax"] is rfc3987_syntax
        assert "iri" in FormatChecker.checkers
    """)


def test_the_sandbox_wording_of_a_refusal_imports_jsonschema_without_the_grammar() -> None:
    _run("""
        import sys
        import qodlab.sandbox.contract.wording
        assert "jsonschema" in sys.modules and "rfc3987_syntax" not in sys.modules
        assert sys.modules.get("rfc3987_syntax", 0) == 0  # no ImportError left behind
    """)
