"""Jupyter widgets (ipywidgets 8): forms, live panels and the one-call dashboard."""

from __future__ import annotations

from .dashboard import Dashboard, dashboard
from .forms import DeviceForm, SessionForm, parse_ports
from .panels import EventLogView, SandboxPanel, SessionsPanel

__all__ = [
    "Dashboard",
    "DeviceForm",
    "EventLogView",
    "SandboxPanel",
    "SessionForm",
    "SessionsPanel",
    "dashboard",
    "parse_ports",
]
