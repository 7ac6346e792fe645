"""The token in an `Authorization: Bearer <token>` header: the one parser every qodlab server uses.

RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`, the scheme case-insensitive (RFC 7235 §2.1) and
`b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. One leniency beyond it: after
the first space, tabs count as spaces (a key pasted with a tab before it still works in a classroom), and
the value's ends may hold spaces and tabs (HTTP servers trim them anyway). Anything else (another scheme,
no token, two tokens, a character outside b64token, a non-ASCII byte) is no token at all.

Parsing only: the caller compares what it gets with its secret, in constant time (`hmac.compare_digest`).
"""

from __future__ import annotations

import re

__all__ = ["bearer_token", "is_b64token"]

_B64TOKEN = r"[A-Za-z0-9\-._~+/]+=*"
_CREDENTIALS = re.compile(rf"[ \t]*bearer [ \t]*({_B64TOKEN})[ \t]*", re.IGNORECASE | re.ASCII)
_TOKEN = re.compile(_B64TOKEN, re.ASCII)


def bearer_token(header: str | bytes | None) -> str | None:
    """The b64token of a `Bearer` Authorization header's value, or None when it does not hold exactly one."""
    if not header:
        return None
    value = header.decode("latin-1") if isinstance(header, bytes) else header
    match = _CREDENTIALS.fullmatch(value)
    return match.group(1) if match else None


def is_b64token(token: str) -> bool:
    """Whether `token` can be sent as a bearer token at all (RFC 6750's b64token characters)."""
    return _TOKEN.fullmatch(token) is not None
