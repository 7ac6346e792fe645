"""The embedded QoD sandbox: a real HTTP server simulating the CAMARA Quality on Demand API.

>>> from qodlab import Sandbox
>>> with Sandbox(speed=60) as sandbox:
...     client = sandbox.client()
"""

from __future__ import annotations

from .clock import Clock
from .engine import Engine, SandboxSession, StatusChange
from .faults import Faults, NoticeFaultKind
from .nac_sdk import NetworkAsCodePatch, use_with_network_as_code
from .notifier import Delivery, Notifier, Outcome
from .refusals import EngineError
from .server import Sandbox

__all__ = [
    "Clock",
    "Delivery",
    "Engine",
    "EngineError",
    "Faults",
    "NetworkAsCodePatch",
    "NoticeFaultKind",
    "Notifier",
    "Outcome",
    "Sandbox",
    "SandboxSession",
    "StatusChange",
    "use_with_network_as_code",
]
