"""Jupyter widgets (ipywidgets 8): forms, live panels and the one-call dashboard."""

from __future__ import annotations

from ..notebook.extras import require_notebook_extra

require_notebook_extra("qodlab's widgets (qodlab.dashboard(), classroom_view(), qodlab.widgets)")

from .classroom import ClassroomView, StagePanel, classroom_view  # noqa: E402
from .dashboard import Dashboard, dashboard  # noqa: E402
from .forms import DeviceForm, SessionForm, parse_ports  # noqa: E402
from .panels import EventLogView, SandboxPanel, SessionsPanel  # noqa: E402

__all__ = [
    "ClassroomView",
    "Dashboard",
    "DeviceForm",
    "EventLogView",
    "SandboxPanel",
    "SessionForm",
    "SessionsPanel",
    "StagePanel",
    "classroom_view",
    "dashboard",
    "parse_ports",
]
