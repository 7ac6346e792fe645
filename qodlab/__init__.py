"""qodlab: explore network Quality on Demand (CAMARA QoD) from Jupyter.

The sandbox, the clients, the models and the errors are imported here; widgets and plots are
imported lazily, so `import qodlab` stays quick for a headless user.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .classroom import Classroom
from .client import AsyncQodClient, QodClient, create_request
from .errors import (
    ApiError,
    AuthError,
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    QodError,
    QodTimeout,
    RateLimited,
    ServerStartError,
    ServiceUnavailable,
    TransportError,
    Unauthenticated,
    Unprocessable,
)
from .eventlog import EventLog
from .listener import Listener
from .models import (
    AccessTokenCredential,
    ApplicationServer,
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
from .relay import Relay
from .sandbox import Sandbox
from .sessions import AsyncSession, Session
from .watcher import Watcher
from .workbench import Workbench

_LAZY = {
    "ClassroomView": "qodlab.widgets",
    "classroom_view": "qodlab.widgets",
    "dashboard": "qodlab.widgets",
    "Dashboard": "qodlab.widgets",
    "TimelinePlot": "qodlab.plots",
    "timeline_png": "qodlab.plots",
}


def __getattr__(name: str) -> object:
    # Widgets and plots import ipywidgets, plotly or matplotlib: only when first asked for.
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    msg = f"module 'qodlab' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "AccessTokenCredential",
    "ApiError",
    "ApplicationServer",
    "AsyncQodClient",
    "AsyncSession",
    "AuthError",
    "Classroom",
    "ClassroomView",
    "Conflict",
    "CreateSession",
    "Dashboard",
    "Device",
    "DeviceIpv4Addr",
    "Duration",
    "ErrorInfo",
    "EventLog",
    "ExtendSession",
    "InvalidArgument",
    "Listener",
    "NotFound",
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
    "Sandbox",
    "ServerStartError",
    "ServiceUnavailable",
    "Session",
    "SessionInfo",
    "StatusEvent",
    "StatusInfo",
    "TimelinePlot",
    "TransportError",
    "Unauthenticated",
    "Unprocessable",
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
