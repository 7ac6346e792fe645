"""Point the official `network-as-code` SDK at a sandbox, with no change to the user's code."""

from __future__ import annotations

import functools
import importlib.metadata
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..apis import release

if TYPE_CHECKING:
    from .server import Sandbox

__all__ = ["NetworkAsCodePatch", "qos_base_url", "use_with_network_as_code"]


GENERATED = 10  # from this major version on the SDK is the generated `NetworkAsCodeApi`


def qos_base_url(root: str, sdk_version: str) -> str:
    """The QoD base URL an SDK version expects (contract section 3), on a server at `root`.

    SDK 10.x and later take the server's root (`base_url`) and add each API's path themselves.
    """
    major = int(sdk_version.split(".")[0])
    if major <= 3 or major >= GENERATED:
        return root
    return root + release("0.10" if major <= 7 else "1.1.0").qod_path


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
    """Make the official SDK's clients talk to the sandbox.

    Classic SDKs (1.x to 8.x): `network_as_code.NetworkAsCodeClient(token=...)` gets the QoD base
    URL the installed version expects, unless the code passes `qos_base_url` itself. SDK 10.x:
    `NetworkAsCodeApi(api_key=...)` and its async twin get the sandbox as `base_url`, unless the
    code passes `base_url` itself. Applied at once; use the result as a context manager, or call
    its `undo()`.
    """
    try:
        version = importlib.metadata.version("network-as-code")
    except importlib.metadata.PackageNotFoundError:
        msg = "the network-as-code SDK is not installed: pip install network-as-code"
        raise ImportError(msg) from None
    root = (sandbox if isinstance(sandbox, str) else sandbox.url).rstrip("/")
    url = qos_base_url(root, version)
    if int(version.split(".")[0]) >= GENERATED:
        from network_as_code import client as generated

        return NetworkAsCodePatch(
            _default("base_url", url, generated.NetworkAsCodeApi, generated.AsyncNetworkAsCodeApi), url, version
        )
    from network_as_code.api import client as classic

    return NetworkAsCodePatch(_default("qos_base_url", url, classic.APIClient), url, version)


def _default(name: str, value: str, *classes: Any) -> Any:
    """Give each class's constructor a default for one keyword argument; returns the undo."""
    originals = [(cls, cls.__init__) for cls in classes]
    for cls, original in originals:

        def init(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            if kwargs.get(name) is None:
                kwargs[name] = value
            _original(self, *args, **kwargs)

        cls.__init__ = functools.wraps(original)(init)

    def undo() -> None:
        for cls, original in originals:
            cls.__init__ = original

    return undo
