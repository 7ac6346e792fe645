"""Jupyter widgets (ipywidgets 8): forms, live panels and the one-call dashboard."""

from __future__ import annotations

from .classroom import ClassroomView, StagePanel, classroom_view
from .dashboard import Dashboard, dashboard
from .forms import DeviceForm, SessionForm, parse_ports
from .panels import EventLogView, SandboxPanel, SessionsPanel

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
