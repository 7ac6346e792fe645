"""qodlab: explore network Quality on Demand (CAMARA QoD) from Jupyter.

`import qodlab` imports nothing heavy: every public name is loaded from its module when first
used (PEP 562 `__getattr__`), so a kernel, a Voila page or a subprocess pays only for what it
touches. `from qodlab import QodClient` loads httpx and pydantic, not the sandbox's FastAPI,
pandas or the widgets. Type checkers read the names from the `TYPE_CHECKING` imports below.
"""

from __future__ import annotations

import typing

__version__ = "0.1.0"

if typing.TYPE_CHECKING:
    from .assignments import Assignment, AsyncAssignment
    from .classroom import Classroom
    from .client import AsyncQodClient, QodClient, create_request
    from .errors import (
        ApiError,
        AuthError,
        Conflict,
        InvalidArgument,
        InvalidRequest,
        NotFound,
        NotificationsNotSupported,
        PermissionDenied,
        QodError,
        QodTimeout,
        RateLimited,
        RelayRefuses,
        ServerStartError,
        ServerStopped,
        ServiceUnavailable,
        SettingsChanged,
        TransportError,
        Unauthenticated,
        Unprocessable,
        WaitError,
        WaitTimeout,
    )
    from .eventlog import EventLog
    from .listener import Listener
    from .models import (
        AccessTokenCredential,
        ApplicationServer,
        AssignmentInfo,
        CreateAssignment,
        CreateSession,
        Device,
        DeviceIpv4Addr,
        Duration,
        ErrorInfo,
        ExtendSession,
        PortRange,
        PortsSpec,
        ProfileStatus,
        QosProfile,
        QosStatus,
        Rate,
        SessionInfo,
        StatusInfo,
    )
    from .notifications import StatusEvent, build_notification, parse_notification
    from .plots import TimelinePlot, timeline_png
    from .relay import Relay
    from .sandbox import Sandbox
    from .sessions import AsyncSession, Session
    from .watcher import Watcher
    from .widgets.classroom import ClassroomView, classroom_view
    from .widgets.dashboard import Dashboard, dashboard
    from .workbench import Workbench

_LAZY = {
    "Assignment": "qodlab.assignments",
    "AssignmentInfo": "qodlab.models",
    "AsyncAssignment": "qodlab.assignments",
    "CreateAssignment": "qodlab.models",
    "AccessTokenCredential": "qodlab.models",
    "ApiError": "qodlab.errors",
    "ApplicationServer": "qodlab.models",
    "AsyncQodClient": "qodlab.client",
    "AsyncSession": "qodlab.sessions",
    "AuthError": "qodlab.errors",
    "Classroom": "qodlab.classroom",
    "ClassroomView": "qodlab.widgets",
    "Conflict": "qodlab.errors",
    "CreateSession": "qodlab.models",
    "Dashboard": "qodlab.widgets",
    "Device": "qodlab.models",
    "DeviceIpv4Addr": "qodlab.models",
    "Duration": "qodlab.models",
    "ErrorInfo": "qodlab.models",
    "EventLog": "qodlab.eventlog",
    "ExtendSession": "qodlab.models",
    "InvalidArgument": "qodlab.errors",
    "InvalidRequest": "qodlab.errors",
    "Listener": "qodlab.listener",
    "NotFound": "qodlab.errors",
    "NotificationsNotSupported": "qodlab.errors",
    "PermissionDenied": "qodlab.errors",
    "PortRange": "qodlab.models",
    "PortsSpec": "qodlab.models",
    "ProfileStatus": "qodlab.models",
    "QodClient": "qodlab.client",
    "QodError": "qodlab.errors",
    "QodTimeout": "qodlab.errors",
    "QosProfile": "qodlab.models",
    "QosStatus": "qodlab.models",
    "Rate": "qodlab.models",
    "RateLimited": "qodlab.errors",
    "Relay": "qodlab.relay",
    "RelayRefuses": "qodlab.errors",
    "Sandbox": "qodlab.sandbox",
    "ServerStartError": "qodlab.errors",
    "ServerStopped": "qodlab.errors",
    "ServiceUnavailable": "qodlab.errors",
    "Session": "qodlab.sessions",
    "SettingsChanged": "qodlab.errors",
    "SessionInfo": "qodlab.models",
    "StatusEvent": "qodlab.notifications",
    "StatusInfo": "qodlab.models",
    "TimelinePlot": "qodlab.plots",
    "TransportError": "qodlab.errors",
    "Unauthenticated": "qodlab.errors",
    "Unprocessable": "qodlab.errors",
    "WaitError": "qodlab.errors",
    "WaitTimeout": "qodlab.errors",
    "Watcher": "qodlab.watcher",
    "Workbench": "qodlab.workbench",
    "build_notification": "qodlab.notifications",
    "classroom_view": "qodlab.widgets",
    "create_request": "qodlab.client",
    "dashboard": "qodlab.widgets",
    "parse_notification": "qodlab.notifications",
    "timeline_png": "qodlab.plots",
}


def __getattr__(name: str) -> object:
    # Each name is imported from its module once, then kept here like an ordinary attribute.
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'qodlab' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AccessTokenCredential",
    "ApiError",
    "ApplicationServer",
    "Assignment",
    "AssignmentInfo",
    "AsyncAssignment",
    "AsyncQodClient",
    "AsyncSession",
    "AuthError",
    "Classroom",
    "ClassroomView",
    "Conflict",
    "CreateAssignment",
    "CreateSession",
    "Dashboard",
    "Device",
    "DeviceIpv4Addr",
    "Duration",
    "ErrorInfo",
    "EventLog",
    "ExtendSession",
    "InvalidArgument",
    "InvalidRequest",
    "Listener",
    "NotFound",
    "NotificationsNotSupported",
    "PermissionDenied",
    "PortRange",
    "PortsSpec",
    "ProfileStatus",
    "QodClient",
    "QodError",
    "QodTimeout",
    "QosProfile",
    "QosStatus",
    "Rate",
    "RateLimited",
    "Relay",
    "RelayRefuses",
    "Sandbox",
    "ServerStartError",
    "ServerStopped",
    "ServiceUnavailable",
    "Session",
    "SessionInfo",
    "SettingsChanged",
    "StatusEvent",
    "StatusInfo",
    "TimelinePlot",
    "TransportError",
    "Unauthenticated",
    "Unprocessable",
    "WaitError",
    "WaitTimeout",
    "Watcher",
    "Workbench",
    "__version__",
    "build_notification",
    "classroom_view",
    "create_request",
    "dashboard",
    "parse_notification",
    "timeline_png",
]
