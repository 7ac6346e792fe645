"""Waiting in a notebook cell while widget updates keep flowing.

In a Jupyter kernel, widgets are written by the kernel's own event loop on its main thread (see
`qodlab.notebook.pump`). A cell that runs blocks that loop, so a cell that waits (for a notification, out a
429's Retry-After, for a user to consent to a CIBA request) would freeze every live view until it
ends. qodlab's waits on the kernel's thread therefore wait in slices (`wait_slice`) and, between
two slices, apply what the pumps on the kernel's loop have queued (`run_pending`); `pause` is
`time.sleep` done that way. Off the kernel's thread, or with no pump on the kernel's loop, they are
a plain wait.

The pumps are held here (`attach`, `detach`) as anything with a `flush_due()` method, so this module
needs nothing of the pump's, and the client and the event log depend on it alone.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from typing import Any, Protocol

__all__ = ["Flushing", "attach", "detach", "kernel_loop", "pause", "run_pending", "wait_slice"]

_SLICE = 0.05  # seconds a qodlab wait on the kernel's thread sleeps between two looks at the pumps


class Flushing(Protocol):
    """What `run_pending` drives: a pump that applies its batches on the kernel's loop."""

    def flush_due(self) -> None:
        """Apply what is queued, if a redraw is due (called on the kernel's thread)."""


_live: weakref.WeakSet[Flushing] = weakref.WeakSet()  # running pumps that apply on the kernel's loop


def attach(pump: Flushing) -> None:
    """Have qodlab's waits on the kernel's thread flush `pump` (it applies on the kernel's loop)."""
    _live.add(pump)


def detach(pump: Flushing) -> None:
    """Stop flushing `pump` (it stopped); a no-op when it was not attached."""
    _live.discard(pump)


def kernel_loop() -> Any | None:
    """The running IPython kernel's event loop (a tornado IOLoop on the main thread), or None.

    ipykernel 5 to 7 keep it as `kernel.io_loop`; Colab's and Voila's kernels are ipykernels. IPython
    is looked up only when ipykernel is already loaded, so plain Python imports nothing for this.
    """
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    loop = getattr(kernel, "io_loop", None)
    return loop if callable(getattr(loop, "add_callback", None)) else None


def _on_kernel_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def run_pending() -> None:
    """Apply what the kernel-loop pumps have queued, when due (a no-op off the kernel's thread).

    qodlab's own waits call it while they wait on the kernel's main thread: that loop is blocked
    until the cell ends, and this keeps the widgets live meanwhile.
    """
    if _live and _on_kernel_thread():
        for pump in list(_live):
            pump.flush_due()


def wait_slice(left: float) -> float:
    """How long a qodlab wait with `left` seconds to go may block before it calls `run_pending`."""
    return min(left, _SLICE) if _live and _on_kernel_thread() else left


def pause(seconds: float) -> None:
    """`time.sleep(seconds)` that keeps kernel-loop pumps redrawing when called on the kernel's thread."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(wait_slice(left))
        run_pending()
