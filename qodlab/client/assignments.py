"""Assignments returned by the clients (QoS Provisioning): AssignmentInfo plus `refresh()`, `revoke()`, `wait_for()`.

An assignment holds a QoS profile for a device until it is revoked or the network ends it: no
duration, no extend. `revoke()` may be accepted before it is done (202: AVAILABLE /
DELETE_REQUESTED while under way); `refresh()` then shows it end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import PrivateAttr

from ..models import AssignmentInfo, QosStatus, SessionInfo
from .waiting import Target, wait_async, wait_sync

if TYPE_CHECKING:
    from ..eventlog import EventLog
    from ..receiving.listener import Listener
    from .clients import AsyncQodClient, QodClient

__all__ = ["Assignment", "AsyncAssignment", "as_session_info"]


def as_session_info(assignment: AssignmentInfo) -> SessionInfo:
    """An assignment as the panels, the timeline and the Watcher see a session: no duration, no expiry."""
    return SessionInfo.model_construct(
        session_id=assignment.assignment_id,
        duration=0,
        qos_status=assignment.status,
        status_info=assignment.status_info,
        started_at=assignment.started_at,
        expires_at=None,
        device=assignment.device,
        qos_profile=assignment.qos_profile,
        sink=assignment.sink,
    )


def _update(target: AssignmentInfo, fresh: AssignmentInfo | None) -> None:
    if fresh is not None:
        for name in AssignmentInfo.model_fields:
            setattr(target, name, getattr(fresh, name))


class Assignment(AssignmentInfo):
    """An assignment bound to the `QodClient` that fetched it."""

    _client: QodClient | None = PrivateAttr(default=None)

    def _bound(self) -> QodClient:
        if self._client is None:
            msg = "this assignment is not bound to a client; use client.get_assignment(...)"
            raise RuntimeError(msg)
        return self._client

    def refresh(self) -> Assignment:
        """Fetch the current state in place; returns self."""
        _update(self, self._bound().get_assignment(self.assignment_id))
        return self

    def revoke(self) -> bool:
        """Revoke it; True while the revocation is under way (202, this object then shows it), False once done."""
        answer = self._bound().revoke_assignment(self.assignment_id)
        _update(self, answer)
        return answer is not None

    def wait_for(
        self,
        status: QosStatus | str,
        timeout: float = 30.0,
        *,
        log: EventLog | Listener | None = None,
        interval: float = 1.0,
        progress: bool = False,
    ) -> Assignment:
        """Wait until the assignment is `status`; returns self, refreshed. As `Session.wait_for`.

        Waiting for UNAVAILABLE after a revocation under way (202) ends when it is done; a 404 (a
        revoked assignment the provider forgot) counts as UNAVAILABLE.
        """
        target = Target(self, "assignment", "assignment_id", "status")
        wait_sync(target, self.refresh, status, timeout, log, interval, progress)
        return self


class AsyncAssignment(AssignmentInfo):
    """An assignment bound to the `AsyncQodClient` that fetched it."""

    _client: AsyncQodClient | None = PrivateAttr(default=None)

    def _bound(self) -> AsyncQodClient:
        if self._client is None:
            msg = "this assignment is not bound to a client; use await client.get_assignment(...)"
            raise RuntimeError(msg)
        return self._client

    async def refresh(self) -> AsyncAssignment:
        """Fetch the current state in place; returns self."""
        _update(self, await self._bound().get_assignment(self.assignment_id))
        return self

    async def revoke(self) -> bool:
        """Revoke it; True while the revocation is under way (202), False once done."""
        answer = await self._bound().revoke_assignment(self.assignment_id)
        _update(self, answer)
        return answer is not None

    async def wait_for(
        self,
        status: QosStatus | str,
        timeout: float = 30.0,
        *,
        log: EventLog | Listener | None = None,
        interval: float = 1.0,
        progress: bool = False,
    ) -> AsyncAssignment:
        """`Assignment.wait_for`, awaited."""
        target = Target(self, "assignment", "assignment_id", "status")
        await wait_async(target, self.refresh, status, timeout, log, interval, progress)
        return self
