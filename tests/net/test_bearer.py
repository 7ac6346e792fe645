"""`qodlab._net.bearer`: the one parser of `Authorization: Bearer <token>` every qodlab server uses."""

from __future__ import annotations

import time

import pytest

from qodlab._net.bearer import bearer_token, is_b64token

LONG = "a" * 100_000

HEADERS: list[tuple[str | bytes | None, str | None]] = [
    (None, None),  # missing
    ("", None),  # empty
    (b"", None),
    ("Bearer", None),  # the scheme alone
    ("Bearer ", None),
    ("Bearer    ", None),
    ("Bearer x", "x"),
    ("bearer x", "x"),  # the scheme is case-insensitive (RFC 7235 §2.1)
    ("BEARER x", "x"),
    ("bEaReR x", "x"),
    ("Bearer  x", "x"),  # 1*SP (RFC 6750 §2.1)
    ("Bearer \t x", "x"),  # after the first space, a tab counts as one (a pasted key)
    ("  Bearer x \t", "x"),  # the value's ends (HTTP servers trim them anyway)
    ("Bearer\tx", None),  # the first separator is a space
    ("Bearerx", None),
    ("Bearer-x y", None),
    ("Basic x", None),  # another scheme
    ("Basic dXNlcjpwYXNz", None),
    ("Token x", None),
    ("x", None),
    ("Bearer x y", None),  # two credentials
    ("Bearer x, y", None),
    ("Bearer x,y", None),
    ("Bearer x\r\n", None),
    ("Bearer x\n", None),
    ("Bearer AZaz09-._~+/", "AZaz09-._~+/"),  # every b64token character
    ("Bearer abc==", "abc=="),  # trailing = signs
    ("Bearer =abc", None),  # = only at the end
    ("Bearer a=b", None),
    ("Bearer ===", None),
    ("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"),  # a JWT
    ("Bearer a!b", None),  # illegal characters
    ('Bearer a"b', None),
    ("Bearer a:b", None),
    ("Bearer a;b", None),
    ("Bearer a@b", None),
    ("Bearer a\x00b", None),
    ("Bearer tökén", None),  # non-ASCII
    ("Bearer \uff58", None),  # a fullwidth letter
    ("Bearer x\u00a0", None),  # a no-break space is not whitespace here
    ("Bearer ①", None),
    (b"Bearer x", "x"),  # the listener's raw header bytes
    (b"Bearer t\xc3\xb6k", None),
    (b"bearer \xff", None),
    (f"Bearer {LONG}", LONG),  # a very long header
    (f"Bearer {LONG} {LONG}", None),
    (f"Bearer {LONG}!", None),
]


@pytest.mark.parametrize(("header", "token"), HEADERS)
def test_the_token_of_a_bearer_header(header: str | bytes | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_a_hostile_long_header_is_refused_in_linear_time() -> None:
    hostile = "Bearer " + " \t" * 200_000 + "a" * 200_000 + " " * 200_000 + "!"
    started = time.perf_counter()
    assert bearer_token(hostile) is None
    assert time.perf_counter() - started < 1.0


def test_whether_a_token_can_be_sent_as_a_bearer_token() -> None:
    assert is_b64token("k-123_~.+/==")
    assert not is_b64token("")
    assert not is_b64token("a b")
    assert not is_b64token("Bearer x")
    assert not is_b64token("tök")
