"""Parameters and request checks shared by the sandbox's routers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request

from . import contract
from .engine import Access
from .refusals import EngineError

__all__ = ["SessionId", "access", "conforming", "json_body", "without_nulls"]

SessionId = Annotated[uuid.UUID, Path(alias="sessionId", description="Session ID (UUID)")]


async def json_body(request: Request, required: bool = True) -> Any:
    """The request's JSON body (None if empty and not required), or EngineError 400.

    Starlette keeps the bytes, so the route still reads the body after this.
    """
    raw = await request.body()
    if not raw.strip():
        if not required:
            return None
        raise EngineError(400, "INVALID_ARGUMENT", "a JSON request body is required")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EngineError(400, "INVALID_ARGUMENT", f"malformed JSON body ({exc})") from None


def conforming(api: contract.Api, schema: str, *, strict: bool, http_sinks: Callable[[], bool]) -> Any:
    """A route dependency: the body must validate against the CAMARA contract's `schema`
    (`strict`: and declare every property it has, as the release requires).

    It runs before FastAPI validates the body into a model, so a schema violation is answered
    400 even where the model would have coerced it.
    """

    async def check(request: Request) -> None:
        body = await json_body(request)
        gateway = contract.nac_gateway(request.headers)
        contract.check(body, api, schema, strict=strict, gateway=gateway, http_sinks=http_sinks())

    return Depends(check)


async def _without_nulls(request: Request) -> None:
    contract.no_nulls(await json_body(request, required=False))  # GET and DELETE have no body


without_nulls: Any = Depends(_without_nulls)
"""A route dependency for the older releases, which have no schema: no `null` anywhere."""


def access(request: Request) -> Access | None:
    """The caller the middleware verified from an access token (None when the sandbox checks none)."""
    found: Access | None = getattr(request.state, "access", None)
    return found
