"""Sessions returned by the clients: SessionInfo plus `refresh()`, `extend()`, `delete()`, `wait_for()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import PrivateAttr

from ..models import QosStatus, SessionInfo
from .waiting import Target, wait_async, wait_sync

if TYPE_CHECKING:
    from ..eventlog import EventLog
    from ..receiving.listener import Listener
    from .clients import AsyncQodClient, QodClient

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

    def wait_for(
        self,
        status: QosStatus | str,
        timeout: float = 30.0,
        *,
        log: EventLog | Listener | None = None,
        interval: float = 1.0,
        progress: bool = False,
    ) -> Session:
        """Wait until the session is `status` (REQUESTED, AVAILABLE, UNAVAILABLE); returns self, refreshed.

        With `log=` (an EventLog or a Listener) it returns on the status's notification; otherwise it
        polls the API (0.05 s at first, doubling up to `interval`). Raises `WaitTimeout` after `timeout`
        seconds, saying what status it was in, and `WaitError` at once when the session is past the
        status (UNAVAILABLE while AVAILABLE was awaited). With `progress=True` the cell shows the status
        so far and the time left while it waits, and nothing once it returns.
        """
        target = Target(self, "session", "session_id", "qos_status")
        wait_sync(target, self.refresh, status, timeout, log, interval, progress)
        return self


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

    async def wait_for(
        self,
        status: QosStatus | str,
        timeout: float = 30.0,
        *,
        log: EventLog | Listener | None = None,
        interval: float = 1.0,
        progress: bool = False,
    ) -> AsyncSession:
        """`Session.wait_for`, awaited: the event loop runs on while it waits."""
        target = Target(self, "session", "session_id", "qos_status")
        await wait_async(target, self.refresh, status, timeout, log, interval, progress)
        return self
