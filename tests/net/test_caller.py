"""`qodlab._caller.outside`: the first frame outside the package, and its stacklevel."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import qodlab
from qodlab._caller import PACKAGE, outside

QODLAB_CODE = """
def inner():
    return outside()

def middle():
    return inner()

def warned():
    warnings.warn("from inside", UserWarning, stacklevel=outside()[1])
"""


def _inside() -> dict[str, Any]:
    """Two functions whose frames are qodlab's (their code is compiled as a file in the package)."""
    namespace: dict[str, Any] = {"outside": outside, "warnings": warnings}
    exec(compile(QODLAB_CODE, PACKAGE + "_inside_for_a_test.py", "exec"), namespace)
    return namespace


def test_the_package_is_qodlabs_folder() -> None:
    assert Path(PACKAGE) == Path(qodlab.__file__).resolve().parent and PACKAGE.endswith(("/", "\\"))


def test_it_skips_qodlabs_frames_up_to_the_line_that_called_in() -> None:
    frame, level = _inside()["middle"]()
    assert frame is sys._getframe()  # this test's frame, past inner and middle
    assert level == 3


def test_a_caller_outside_is_itself() -> None:
    frame, level = outside()
    assert frame is sys._getframe() and level == 1


def test_its_level_puts_a_warning_on_the_line_that_called_in() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _inside()["warned"]()
        line = sys._getframe().f_lineno - 1
    [warning] = caught
    assert warning.filename == __file__ and warning.lineno == line
