"""JSON from someone else: decoded with a nesting limit, so no body reaches a recursion limit.

Python's `json` raises RecursionError (not a decoding error) on a body nested a few thousand deep,
and anything that walks such a value later (a `json.dumps`, a repr) may too. Every server here that
decodes what others send (the listener, the relay, the relay subscriber) goes through `loads`, which
refuses nesting past `MAX_DEPTH` with `TooDeep`, a `ValueError`. A body with fewer brackets than
the limit cannot be that deep, so the usual notification (a handful of brackets) costs one
`bytes.count` more than a plain decode.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "TooDeep", "loads"]

MAX_DEPTH = 64
"""The deepest nesting of objects and arrays accepted (a QoD notification has 3 or 4 levels)."""


class TooDeep(ValueError):
    """A JSON text nested deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")
        self.limit = limit


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Decode `text` (orjson; what it refuses, e.g. NaN or integers past 64 bits, by `json`).

    Raises json.JSONDecodeError (or UnicodeDecodeError) for text that is not JSON, TooDeep for
    nesting past `max_depth`.
    """
    opened = text.count("{") + text.count("[") if isinstance(text, str) else text.count(b"{") + text.count(b"[")
    try:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = json.loads(text)
    except RecursionError:
        raise TooDeep(max_depth) from None
    if opened > max_depth and _depth(value, max_depth) > max_depth:
        raise TooDeep(max_depth)
    return value


def _depth(value: Any, limit: int) -> int:
    """How deep `value` nests (objects and arrays), counted no further than one past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest
