"""EngineError: a request the sandbox refuses, as the CAMARA error it becomes.

Its own module so that whatever refuses a request (the engine, the test devices, the contract
checks, the token issuer, the classroom's gate) depends on this one class and not on the engine:
the test devices used to import it from the engine, which types them.
"""

from __future__ import annotations

__all__ = ["EngineError"]


class EngineError(Exception):
    """A request the lifecycle rules refuse; becomes a CAMARA error response."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers  # e.g. Retry-After on a 429
