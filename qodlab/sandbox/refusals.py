"""EngineError: a request the sandbox refuses, as the CAMARA error it becomes.

Its own module so that whatever refuses a request (the engine, the test devices, the contract
checks, the token issuer, the classroom's gate) depends on this one class and not on the engine:
the test devices used to import it from the engine, which types them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import ApiError

__all__ = ["EngineError", "as_api_error"]


class EngineError(Exception):
    """A request the lifecycle rules refuse; becomes a CAMARA error response."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers  # e.g. Retry-After on a 429


@contextlib.contextmanager
def as_api_error() -> Iterator[None]:
    """Inside: an EngineError leaves as the error the same request over HTTP raises (NotFound, Conflict, ...).

    For the sandbox's Python methods (`sandbox.terminate`, `room.stage`): a person calling them
    meets the same QodError tree as over the API.
    """
    try:
        yield
    except EngineError as exc:
        raise ApiError.of(exc.status, exc.code, exc.message) from None
