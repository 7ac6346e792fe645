"""The first caller outside qodlab: the line a person wrote, for a warning's line or a server's site.

A warning about a call is shown at the notebook's line that made it, not inside qodlab; a server
re-run in a cell is recognised by where it was written. Both walk the stack up from qodlab's own
frames to the first frame whose file is not in the package (`outside`).
"""

from __future__ import annotations

import os
import sys
from types import FrameType

__all__ = ["PACKAGE", "outside"]

PACKAGE = os.path.dirname(os.path.abspath(sys.modules[__name__.partition(".")[0]].__file__ or "")) + os.sep
"""The package's folder (with a trailing separator): a frame whose file starts with it is qodlab's own."""


def outside() -> tuple[FrameType, int]:
    """The first frame outside qodlab, from the caller of `outside` up, and its `stacklevel` for `warnings.warn`.

    Level 1 is the caller itself (the function that calls `warnings.warn`). When every frame is
    qodlab's (a thread qodlab started), the outermost one.
    """
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(PACKAGE):
        frame, level = frame.f_back, level + 1
    return frame, level
