"""`Classroom`: one sandbox for a whole class, a key per student, and the instructor's controls.

    with Classroom(students=30, roster="roster.csv") as room:   # the roster file is 0600
        room.url                     # give it, and each student their key, to the class
        room.overview()              # per student: sessions by status, requests, errors, 429s, notifications
        room.stage("terminate", profile="QOS_L")   # the network ends every QOS_L session now

Over HTTP (instructor key only): `GET /_classroom/overview`, `POST /_classroom/events`.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..models import ProfileStatus, QosStatus
from ..sandbox import Sandbox, StatusChange
from ..sandbox.engine import EngineError
from .gate import Gate
from .roster import Roster

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Classroom", "StagedEvent"]


class StagedEvent(BaseModel):
    """Something the instructor makes happen, for the whole class or one student."""

    kind: Literal[
        "terminate", "fail_provisioning", "drop_notifications", "delay_notifications", "speed", "profile_status"
    ]
    """terminate: end the live sessions (of `profile`, of `student`); fail_provisioning: sessions
    with `profile` end NETWORK_TERMINATED; drop/delay_notifications: the next `count`; speed: the
    clock's; profile_status: make `profile` ACTIVE, INACTIVE or DEPRECATED."""
    student: str | None = None
    """Only this student's sessions (terminate)."""
    profile: str | None = None
    """The profile concerned."""
    count: int = Field(default=1, ge=1)
    """How many notifications."""
    seconds: float = Field(default=2.0, ge=0)
    """Real seconds, for delay_notifications."""
    speed: float | None = Field(default=None, gt=0)
    """The clock's new speed."""
    status: ProfileStatus | None = None
    """The profile's new status."""


class Classroom:
    """A sandbox for a class: `students` (a number, or names), each with an API key and a rate limit.

    Parameters:
        roster: write `name,api_key` lines here (mode 0600); the keys are shown nowhere else.
        rate: requests a second each key may make (beyond: 429 with Retry-After).
    """

    def __init__(
        self,
        students: int | Sequence[str] = 30,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 10.0,
        rate: float = 10.0,
        roster: str | os.PathLike[str] | None = None,
        seed: int = 0,
    ) -> None:
        self.roster = Roster.numbered(students) if isinstance(students, int) else Roster(list(students))
        self.gate = Gate(self.roster, rate)
        self._owners: dict[str, str] = {}  # session id -> student, kept after the session is gone
        self._lock = threading.Lock()
        self.sandbox = Sandbox(host, port, speed=speed, seed=seed, gate=self.gate, routers=[self._router], reuse=False)
        self.sandbox.engine.subscribe(self._owned)
        self.roster_path = self.roster.write(roster) if roster is not None else None

    def __repr__(self) -> str:
        return f"<Classroom {self.url} {len(self.roster.names)} students, rate {self.gate.rate:g}/s, keys ***>"

    @property
    def url(self) -> str:
        """What the students give their client or dashboard."""
        return self.sandbox.url

    def stop(self) -> None:
        """Stop the sandbox."""
        self.sandbox.stop()

    def __enter__(self) -> Classroom:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- the instructor's view -----------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """Per student: sessions by status, requests, errors by code, 429s, notifications; and every session."""
        sessions = self.sandbox.engine.sessions()
        notified: dict[str, Counter[str]] = {name: Counter() for name in self.roster.names}
        with self._lock:
            owners = dict(self._owners)
        for delivery in self.sandbox.deliveries():
            owner = owners.get(delivery.session_id)
            if owner in notified:
                notified[owner][delivery.outcome.value] += 1
        students = []
        for name in self.roster.names:
            tally = self.gate.tally[name]
            mine = Counter(s.status.value for s in sessions if s.owner == name)
            students.append({
                "name": name, "sessions": dict(mine), "requests": tally.requests, "limited": tally.limited,
                "errors": dict(tally.errors),
                "notifications": {"delivered": notified[name]["delivered"],
                                  "failed": sum(n for k, n in notified[name].items() if k != "delivered")},
            })  # fmt: skip
        every = [{**s.info(), "owner": s.owner} for s in sessions]
        for session in every:
            session.pop("sink", None)  # a student's sink may be a relay channel: a secret
        return {"students": students, "sessions": every}

    def stage(self, kind: str, **what: Any) -> dict[str, Any]:
        """Make something happen for the class (see `StagedEvent`); returns what it did."""
        event = StagedEvent.model_validate({"kind": kind, **what})
        sandbox = self.sandbox
        if event.kind == "terminate":
            ended = [str(s.id) for s in sandbox.engine.sessions()
                     if s.status is not QosStatus.UNAVAILABLE and (event.profile in (None, s.profile))
                     and (event.student in (None, s.owner))]  # fmt: skip
            for session_id in ended:
                sandbox.terminate(session_id)
            return {"terminated": ended}
        if event.kind == "fail_provisioning":
            sandbox.fail_provisioning(profile=_needed(event.profile, "profile"))
        elif event.kind == "drop_notifications":
            sandbox.drop_notifications(event.count)
        elif event.kind == "delay_notifications":
            sandbox.delay_notifications(event.seconds, event.count)
        elif event.kind == "speed":
            sandbox.speed = _needed(event.speed, "speed")
        else:
            name = _needed(event.profile, "profile")
            if name not in sandbox.engine.profiles:
                raise EngineError(404, "NOT_FOUND", f"No profile {name!r}.")
            status = _needed(event.status, "status")
            sandbox.engine.profiles[name] = sandbox.engine.profiles[name].model_copy(update={"status": status})
        return {"staged": event.kind}

    # -- the wiring ------------------------------------------------------------------------------

    def _owned(self, change: StatusChange) -> None:
        if change.owner is not None:
            with self._lock:
                self._owners[str(change.session_id)] = change.owner

    def _router(self, _: Sandbox) -> APIRouter:
        router = APIRouter(prefix="/_classroom", tags=["Classroom (instructor key only)"])

        @router.get("/overview", summary="Every student's sessions, requests, errors, 429s and notifications")
        async def overview() -> JSONResponse:
            return JSONResponse(self.overview())

        @router.post("/events", summary="Stage an event for the class or one student")
        async def events(body: StagedEvent) -> JSONResponse:
            return JSONResponse(self.stage(**body.model_dump(exclude_none=True)))

        return router


def _needed(value: Any, name: str) -> Any:
    if value is None:
        raise EngineError(400, "INVALID_ARGUMENT", f"{name} is required for this event.")
    return value
