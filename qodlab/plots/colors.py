"""The timeline's colours, one set for the live figure and the picture (and the panels' status dots)."""

from __future__ import annotations

from ..models import QosStatus
from ..notebook.palette import STATUS

__all__ = ["COLORS", "EDGE", "LINE_COLORS", "NOTE", "NOW", "PROMISE"]

COLORS = {status.value: STATUS[status.value] for status in QosStatus}  # see qodlab.notebook.palette
# One per device drawn in the link rows (up to `metrics.MAX_DEVICES`): none is the promise's green.
LINE_COLORS = ("#1f77b4", "#bcbd22", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
PROMISE = COLORS[QosStatus.AVAILABLE.value]  # a profile's promise, dashed, in the colour of AVAILABLE
NOW = "#555"  # the dotted "now" line while a session is live
EDGE = "#222"  # the end markers' outline
NOTE = "#666"  # a note in place of a drawing ("no sessions yet", what the link rows need)
