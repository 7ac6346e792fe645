"""Point the official `network-as-code` SDK at a sandbox, with no change to the user's code."""

from __future__ import annotations

import functools
import importlib.metadata
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = ["NetworkAsCodePatch", "qos_base_url", "use_with_network_as_code"]


def qos_base_url(root: str, sdk_version: str) -> str:
    """The QoD base URL an SDK version expects (contract section 3), on a server at `root`."""
    major = int(sdk_version.split(".")[0])
    if major <= 3:
        return root
    if major <= 7:
        return f"{root}/qod/v0"
    return f"{root}/quality-on-demand/v1"


class NetworkAsCodePatch:
    """An applied patch: `undo()` it, or use it as a context manager."""

    def __init__(self, undo: Any, url: str, version: str) -> None:
        self._undo = undo
        self.url = url
        """Where the SDK's QoD calls now go."""
        self.sdk_version = version
        """The installed `network-as-code` version."""

    def __repr__(self) -> str:
        return f"<network-as-code {self.sdk_version} -> {self.url}>"

    def undo(self) -> None:
        """Give the SDK back its own default URLs."""
        if self._undo is not None:
            self._undo()
            self._undo = None

    def __enter__(self) -> NetworkAsCodePatch:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.undo()


def use_with_network_as_code(sandbox: Sandbox | str) -> NetworkAsCodePatch:
    """Make `network_as_code.NetworkAsCodeClient(token=...)` talk to the sandbox.

    Works for every classic SDK version (1.x to 8.x): the QoD base URL the installed version
    expects becomes the sandbox's, unless the code passes `qos_base_url` itself. Applied at once;
    use the result as a context manager, or call its `undo()`.
    """
    try:
        from network_as_code.api import client as nac_client
    except ImportError:
        msg = "the network-as-code SDK is not installed: pip install network-as-code"
        raise ImportError(msg) from None
    root = sandbox if isinstance(sandbox, str) else sandbox.url
    version = importlib.metadata.version("network-as-code")
    url = qos_base_url(root.rstrip("/"), version)
    api_client = nac_client.APIClient
    original = api_client.__init__

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("qos_base_url", url)
        original(self, *args, **kwargs)

    api_client.__init__ = init

    def undo() -> None:
        api_client.__init__ = original

    return NetworkAsCodePatch(undo, url, version)
