"""Session status timelines: a live plotly `TimelinePlot` and a static `timeline_png`.

Both draw the same thing from `EventLog.intervals()` (`frame`), in the same colours (`colors`):
one row per session, labelled by device and profile when the sessions are known (and by kind
where the log holds assignments), never two rows alike; a coloured bar per REQUESTED and
AVAILABLE interval (an open one runs to "now"); a marker where a session ended, its shape saying
why (expired, deleted, terminated by the network); and, given a metrics source such as a
sandbox, rows of each device's link under it, sharing the time axis (`metrics`). The time axis
reads at any span: dates where it crosses days. `describe` reads a drawn figure back as data.
"""

from __future__ import annotations

from .colors import COLORS
from .describe import describe
from .frame import EMPTY, ENDINGS, Timeline, device_label, device_name, session_label, timeline_frame
from .live import TimelinePlot
from .metrics import MetricsSource
from .static import timeline_figure, timeline_png

__all__ = [
    "COLORS",
    "EMPTY",
    "ENDINGS",
    "MetricsSource",
    "Timeline",
    "TimelinePlot",
    "describe",
    "device_label",
    "device_name",
    "session_label",
    "timeline_figure",
    "timeline_frame",
    "timeline_png",
]
