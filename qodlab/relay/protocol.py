"""The relay protocol of smee.io (its `smee-client` is the reference), as qodlab speaks it.

A relay is a public URL that accepts POSTs and streams them to subscribers as Server-Sent Events:

- `POST /{channel}`: any body; answered 200. The relay keeps the request as one message.
- `GET /{channel}` with `Accept: text/event-stream`: the stream. Each message's `data` is one
  JSON object holding the request's headers, lower-cased, as top-level keys, plus `body` (the
  parsed JSON body), `query` and `timestamp` (ms since the epoch). qodlab's relay gives each an
  `id:` and, on reconnect, replays what came after `Last-Event-ID`; smee.io sends `ready` and
  `ping` events, which carry no request.
- `GET /new`: a redirect whose `Location` is a fresh channel URL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from .._net.safejson import loads

__all__ = ["MESSAGE_KEYS", "message", "sse", "to_request"]

MESSAGE_KEYS = ("body", "query", "timestamp")
"""The keys of a message that are not request headers."""


def message(headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> dict[str, Any]:
    """A relay message for a POST: its headers (lower-cased), parsed body, query and timestamp.

    Raises TooDeep for a JSON body nested past `MAX_DEPTH` (the relay answers 400).
    """
    try:
        parsed: Any = loads(body) if body else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        parsed = body.decode(errors="replace")  # not JSON: kept as text, for the subscriber to refuse
    kept = {name.lower(): value for name, value in headers.items() if name.lower() not in MESSAGE_KEYS}
    return {**kept, "body": parsed, "query": dict(query), "timestamp": int(time.time() * 1000)}


def to_request(data: Mapping[str, Any]) -> tuple[dict[bytes, bytes], bytes]:
    """The POST a message stands for, as smee-client rebuilds it: headers and a JSON body."""
    headers = {
        str(name).lower().encode(): str(value).encode()
        for name, value in data.items()
        if name not in MESSAGE_KEYS and isinstance(value, str | int | float)
    }
    body = json.dumps(data.get("body", {}), separators=(",", ":")).encode()
    headers[b"content-length"] = str(len(body)).encode()
    return headers, body


def sse(data: str, *, event: str | None = None, event_id: int | None = None) -> bytes:
    """One Server-Sent Event (`data` holds no newline: it is JSON)."""
    lines = [f"event: {event}"] if event else []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {data}")
    return ("\n".join(lines) + "\n\n").encode()
