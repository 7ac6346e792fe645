"""qodlab: explore network Quality on Demand (CAMARA QoD) from Jupyter.

`import qodlab` imports nothing heavy: every public name is loaded from its module when first
used (PEP 562 `__getattr__`), so a kernel, a Voila page or a subprocess pays only for what it
touches. `from qodlab import QodClient` loads httpx and pydantic, not the sandbox's FastAPI,
pandas or the widgets. Type checkers read the names from the `TYPE_CHECKING` imports below.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import typing
import warnings

__version__ = "0.1.0"

if typing.TYPE_CHECKING:
    from .classroom import Classroom
    from .client.assignments import Assignment, AsyncAssignment
    from .client.clients import AsyncQodClient, QodClient, create_request
    from .client.sessions import AsyncSession, Session
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
    from .notebook.workbench import Workbench
    from .notifications import StatusEvent, build_notification, parse_notification
    from .plots import TimelinePlot, timeline_png
    from .receiving.listener import Listener
    from .receiving.watcher import Watcher
    from .relay import Relay
    from .sandbox import Sandbox
    from .widgets.classroom import ClassroomView, classroom_view
    from .widgets.dashboard import Dashboard, dashboard

_LAZY = {
    "Assignment": "qodlab.client.assignments",
    "AssignmentInfo": "qodlab.models",
    "AsyncAssignment": "qodlab.client.assignments",
    "CreateAssignment": "qodlab.models",
    "AccessTokenCredential": "qodlab.models",
    "ApiError": "qodlab.errors",
    "ApplicationServer": "qodlab.models",
    "AsyncQodClient": "qodlab.client.clients",
    "AsyncSession": "qodlab.client.sessions",
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
    "Listener": "qodlab.receiving.listener",
    "NotFound": "qodlab.errors",
    "NotificationsNotSupported": "qodlab.errors",
    "PermissionDenied": "qodlab.errors",
    "PortRange": "qodlab.models",
    "PortsSpec": "qodlab.models",
    "ProfileStatus": "qodlab.models",
    "QodClient": "qodlab.client.clients",
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
    "Session": "qodlab.client.sessions",
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
    "Watcher": "qodlab.receiving.watcher",
    "Workbench": "qodlab.notebook.workbench",
    "build_notification": "qodlab.notifications",
    "classroom_view": "qodlab.widgets",
    "create_request": "qodlab.client.clients",
    "dashboard": "qodlab.widgets",
    "parse_notification": "qodlab.notifications",
    "timeline_png": "qodlab.plots",
}


# Where the public modules of the flat layout went (issue 36). `import qodlab.listener` still works:
# it warns once and gives the same module object, so isinstance checks and monkeypatches agree.
_MOVED = {
    "qodlab.assignments": "qodlab.client.assignments",
    "qodlab.auth": "qodlab.client.auth",
    "qodlab.display": "qodlab.notebook.display",
    "qodlab.listener": "qodlab.receiving.listener",
    "qodlab.palette": "qodlab.notebook.palette",
    "qodlab.providers": "qodlab.client.providers",
    "qodlab.pump": "qodlab.notebook.pump",
    "qodlab.sessions": "qodlab.client.sessions",
    "qodlab.tokenserver": "qodlab.receiving.tokenserver",
    "qodlab.waiting": "qodlab.client.waiting",
    "qodlab.watcher": "qodlab.receiving.watcher",
    "qodlab.workbench": "qodlab.notebook.workbench",
}


class _MovedModules:
    """Finds a moved module under its old name: the new module, with a DeprecationWarning."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, fullname: str, path: object, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _MOVED:
            return None
        loader: typing.Any = self  # a loader by its two methods, without importing importlib.abc's resources
        return importlib.util.spec_from_loader(fullname, loader)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        new = _MOVED[spec.name]
        msg = f"{spec.name} moved to {new}: import from there, or the name from qodlab"
        warnings.warn(msg, DeprecationWarning, stacklevel=2)  # importlib's own frames are skipped
        module = importlib.import_module(new)
        self._specs[new] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # importlib gave the module the old name's spec; it keeps its own.
        module.__spec__ = self._specs.pop(module.__name__, module.__spec__)


sys.meta_path.append(_MovedModules())


def __getattr__(name: str) -> object:
    # Each name is imported from its module once, then kept here like an ordinary attribute.
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'qodlab' has no attribute {name!r}"
        raise AttributeError(msg)
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
