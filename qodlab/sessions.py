"""Sessions returned by the clients: SessionInfo plus `refresh()`, `extend()`, `delete()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import PrivateAttr

from .models import SessionInfo

if TYPE_CHECKING:
    from .client import AsyncQodClient, QodClient

__all__ = ["AsyncSession", "Session"]


def _update(target: SessionInfo, fresh: SessionInfo) -> None:
    for name in SessionInfo.model_fields:
        setattr(target, name, getattr(fresh, name))


class Session(SessionInfo):
    """A session bound to the `QodClient` that fetched it, like the official SDK's objects."""

    _client: QodClient | None = PrivateAttr(default=None)

    def _bound(self) -> QodClient:
        if self._client is None:
            msg = "this session is not bound to a client; use client.get_session(...)"
            raise RuntimeError(msg)
        return self._client

    def refresh(self) -> Session:
        """Fetch the current state in place; returns self."""
        _update(self, self._bound().get_session(self.session_id))
        return self

    def extend(self, seconds: int) -> Session:
        """Add `seconds` (capped by the profile's maxDuration); updates self."""
        _update(self, self._bound().extend_session(self.session_id, seconds))
        return self

    def delete(self) -> None:
        """Delete the session."""
        self._bound().delete_session(self.session_id)


class AsyncSession(SessionInfo):
    """A session bound to the `AsyncQodClient` that fetched it."""

    _client: AsyncQodClient | None = PrivateAttr(default=None)

    def _bound(self) -> AsyncQodClient:
        if self._client is None:
            msg = "this session is not bound to a client; use await client.get_session(...)"
            raise RuntimeError(msg)
        return self._client

    async def refresh(self) -> AsyncSession:
        """Fetch the current state in place; returns self."""
        _update(self, await self._bound().get_session(self.session_id))
        return self

    async def extend(self, seconds: int) -> AsyncSession:
        """Add `seconds` (capped by the profile's maxDuration); updates self."""
        _update(self, await self._bound().extend_session(self.session_id, seconds))
        return self

    async def delete(self) -> None:
        """Delete the session."""
        await self._bound().delete_session(self.session_id)
