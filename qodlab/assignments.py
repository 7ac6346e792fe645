"""Assignments returned by the clients (QoS Provisioning): AssignmentInfo plus `refresh()` and `revoke()`.

An assignment holds a QoS profile for a device until it is revoked or the network ends it: no
duration, no extend. `revoke()` may be accepted before it is done (202: AVAILABLE /
DELETE_REQUESTED while under way); `refresh()` then shows it end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import PrivateAttr

from .models import AssignmentInfo, SessionInfo

if TYPE_CHECKING:
    from .client import AsyncQodClient, QodClient

__all__ = ["Assignment", "AsyncAssignment", "as_session_info"]


def as_session_info(assignment: AssignmentInfo) -> SessionInfo:
    """An assignment as the panels, the timeline and the Watcher see a session: no duration, no expiry."""
    return SessionInfo.model_construct(
        session_id=assignment.assignment_id, duration=0, qos_status=assignment.status,
        status_info=assignment.status_info, started_at=assignment.started_at, expires_at=None,
        device=assignment.device, qos_profile=assignment.qos_profile, sink=assignment.sink,
    )  # fmt: skip


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
