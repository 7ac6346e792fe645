"""The few ASGI pieces the plain-ASGI servers (listener, relay) share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["App", "Receive", "Scope", "Send", "lifespan", "mounted"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def mounted(app: App, mounts: dict[str, App]) -> App:
    """`app`, with other apps answering under path prefixes (they see the prefix as `root_path`).

    Plain ASGI rather than the framework's mount, so that a long-lived stream (the relay's) does
    not pass through the main app's middleware; lifespan events go to `app` alone.
    """

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            for prefix, inner in mounts.items():
                if path == prefix or path.startswith(f"{prefix}/"):
                    await inner({**scope, "root_path": scope.get("root_path", "") + prefix}, receive, send)
                    return
        await app(scope, receive, send)

    return dispatch


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer the server's lifespan messages: nothing to set up or tear down."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
