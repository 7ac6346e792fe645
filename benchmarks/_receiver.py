"""A minimal notification sink for benchmarks, run as its own process (its own core, its own GIL).

Prints `PORT <n>` once it serves; answers 204 to POST, and `GET /count` with how many POSTs it got.
Stops by itself after `--lifetime` seconds.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
from typing import Any

import uvicorn

count = 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global count
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] == "POST":
        count += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = json.dumps({"count": count}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=600)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False, lifespan="off"))
    threading.Timer(args.lifetime, lambda: setattr(server, "should_exit", True)).start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
