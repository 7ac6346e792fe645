"""Session status timelines: a live plotly `TimelinePlot` and a static `timeline_png`.

Both draw the same thing from `EventLog.intervals()` (`frame`): one row per session, labelled by
device and profile when the sessions are known; a coloured bar per REQUESTED and AVAILABLE
interval (an open one runs to "now"); a marker where a session ended, its shape saying why
(expired, deleted, terminated by the network); and, given a metrics source such as a sandbox,
rows of each device's link under it, sharing the time axis (`metrics`).
"""

from __future__ import annotations

from .frame import COLORS, ENDINGS, Timeline, device_label, session_label, timeline_frame
from .live import TimelinePlot
from .metrics import MetricsSource
from .static import timeline_png

__all__ = [
    "COLORS",
    "ENDINGS",
    "MetricsSource",
    "Timeline",
    "TimelinePlot",
    "device_label",
    "session_label",
    "timeline_frame",
    "timeline_png",
]
