"""Path parameters shared by the sandbox's routers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path

__all__ = ["SessionId"]

SessionId = Annotated[uuid.UUID, Path(alias="sessionId", description="Session ID (UUID)")]
