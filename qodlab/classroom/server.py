"""`Classroom`: one sandbox for a whole class, a key per student, and the instructor's controls.

    with Classroom(students=30, roster="roster.csv") as room:   # the roster file is 0600
        room.url                     # give it, and each student their key, to the class
        room.overview()              # per student: sessions by status, requests, errors, 429s, notifications
        room.stage("terminate", profile="QOS_L")   # the network ends every QOS_L session now

Over HTTP (instructor key only): `GET /_classroom/overview`, `GET /_classroom/changes?after=N` (the
class's status changes, for the instructor's timeline), `POST /_classroom/events`.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .._net.http import is_loopback
from ..client.keywords import checked
from ..models import ProfileStatus, QosStatus
from ..sandbox import Sandbox, StatusChange
from ..sandbox.clock import rfc3339
from ..sandbox.faults import NoticeFaultKind
from ..sandbox.refusals import EngineError, as_api_error
from .gate import CLASSROOM, Gate
from .history import History
from .roster import INSTRUCTOR, Roster

if TYPE_CHECKING:
    from types import TracebackType

    from ..widgets import ClassroomView

__all__ = ["Classroom", "StagedEvent"]


class StagedEvent(BaseModel):
    """Something the instructor makes happen, for the whole class or one student."""

    kind: Literal[
        "terminate", "fail_provisioning", "drop_notifications", "delay_notifications", "speed", "profile_status"
    ]
    """terminate: the network ends the live sessions now; fail_provisioning: the next `count` sessions
    end NETWORK_TERMINATED instead of AVAILABLE; drop/delay_notifications: the next `count`
    notifications; speed: the clock's (the whole class); profile_status: make `profile` ACTIVE,
    INACTIVE or DEPRECATED (the whole class)."""
    student: str | None = None
    """Only this student's sessions or notifications (None: the whole class)."""
    profile: str | None = None
    """Only sessions with this profile (terminate, fail_provisioning); the profile to change (profile_status)."""
    count: int = Field(default=1, ge=1)
    """How many sessions or notifications."""
    seconds: float = Field(default=2.0, ge=0)
    """Real seconds, for delay_notifications."""
    speed: float | None = Field(default=None, gt=0)
    """The clock's new speed."""
    status: ProfileStatus | None = None
    """The profile's new status."""


CLASS_WIDE = ("speed", "profile_status")
"""Events that change the one network everybody shares: no `student`."""


class Classroom:
    """A sandbox for a class: `students` (a number, or names), each with an API key and a rate limit.

    Parameters:
        roster: write `name,api_key` lines here (mode 0600); the keys are shown nowhere else.
        rate: requests a second each key may make (beyond: 429 with Retry-After).
        auth: "oidc" gives each student an OAuth client (its id is the student's name, its secret
            on the roster line) whose access tokens name them, instead of a key; the instructor
            keeps a key. `room.url` is also the OpenID issuer.
        allowed_hosts: host names the room is reached by (served on a LAN by name; `qodlab._net.hosts`).
        loopback_sinks: students' sinks may be on this machine's loopback (default: only when the room is
            served on loopback, every student on this machine); private_sinks: on private addresses (the LAN).
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
        auth: Literal["key", "oidc"] = "key",
        allowed_hosts: Sequence[str] = (),
        loopback_sinks: bool | None = None,
        private_sinks: bool = False,
    ) -> None:
        self.roster = Roster.numbered(students) if isinstance(students, int) else Roster(list(students))
        self.auth = auth
        self.gate = Gate(self.roster, rate)
        self._owners: dict[str, str] = {}  # session id -> student, kept after the session is gone
        self._lock = threading.Lock()
        self.history = History()
        """Every status change with its owner, numbered (`GET /_classroom/changes`)."""
        self.sandbox = Sandbox(
            host,
            port,
            speed=speed,
            seed=seed,
            gate=self.gate,
            routers=[self._router],
            reuse=False,
            auth=auth,
            allowed_hosts=allowed_hosts,
            # a student's sink on the instructor's loopback reaches the instructor's own services: allowed only
            # where every student is on this machine (served on loopback), or where the instructor says so
            loopback_sinks=is_loopback(host) if loopback_sinks is None else loopback_sinks,
            private_sinks=private_sinks,
        )
        if self.sandbox.provider is not None:  # each student an OAuth client, the roster's secret its secret
            for student in self.roster.students:
                self.sandbox.provider.register(student.name, student.key)
            self.gate.provider = self.sandbox.provider
        self.sandbox.engine.subscribe(self._owned)
        self.sandbox.engine.subscribe(self.history.record)
        self.roster_path = self.roster.write(roster, oauth=auth == "oidc") if roster is not None else None

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

    def view(self, **kwargs: Any) -> ClassroomView:
        """The instructor's live view of this classroom (`qodlab.widgets.ClassroomView`)."""
        from ..widgets import ClassroomView

        return ClassroomView(self.url, self.roster.key(INSTRUCTOR), **kwargs)

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
            students.append(
                {
                    "name": name,
                    "sessions": dict(mine),
                    "requests": tally.requests,
                    "limited": tally.limited,
                    "errors": dict(tally.errors),
                    "notifications": {
                        "delivered": notified[name]["delivered"],
                        "failed": sum(n for k, n in notified[name].items() if k != "delivered"),
                    },
                }
            )
        every = [{**s.info(), "owner": s.owner, "createdAt": rfc3339(s.created_at)} for s in sessions]
        for session in every:
            session.pop("sink", None)  # a student's sink may be a relay channel: a secret
        clock = {"now": rfc3339(self.sandbox.clock.now()), "speed": self.sandbox.speed}
        return {"students": students, "sessions": every, "clock": clock}

    def stage(self, kind: str, **what: Any) -> dict[str, Any]:
        """Make something happen for the class (see `StagedEvent`); returns what it did.

        Raises what the same request to `/_classroom/events` raises (NotFound for an unknown student, ...).
        """
        with checked(), as_api_error():
            return self._stage(StagedEvent.model_validate({"kind": kind, **what}))

    def _stage(self, event: StagedEvent) -> dict[str, Any]:
        sandbox, student = self.sandbox, event.student
        if student is not None and student not in self.roster.names:
            raise EngineError(404, "NOT_FOUND", f"No student {student!r} in this class.")
        if student is not None and event.kind in CLASS_WIDE:
            raise EngineError(400, "INVALID_ARGUMENT", f"{event.kind} changes the network the whole class shares.")
        if event.kind == "terminate":
            ended = [
                str(s.id)
                for s in sandbox.engine.sessions()
                if s.status is not QosStatus.UNAVAILABLE
                and (event.profile in (None, s.profile))
                and (student in (None, s.owner))
            ]
            for session_id in ended:  # the engine's own: a refusal here is this request's (CAMARA error)
                sandbox.engine.terminate(uuid.UUID(session_id))
            return {"staged": event.kind, "terminated": ended}
        if event.kind == "fail_provisioning":
            if event.profile is not None:
                self._profile(event.profile)
            sandbox.faults.fail_next_provisioning(event.count, event.profile, student)
        elif event.kind in ("drop_notifications", "delay_notifications"):
            fault = NoticeFaultKind.DROP if event.kind == "drop_notifications" else NoticeFaultKind.DELAY
            sandbox.faults.add_notice_fault(fault, event.count, event.seconds, student)
        elif event.kind == "speed":
            sandbox.speed = _needed(event.speed, "speed")
        else:
            name = self._profile(_needed(event.profile, "profile"))
            status = _needed(event.status, "status")
            sandbox.engine.profiles[name] = sandbox.engine.profiles[name].model_copy(update={"status": status})
        return {"staged": event.kind}

    def _profile(self, name: str) -> str:
        if name not in self.sandbox.engine.profiles:
            raise EngineError(404, "NOT_FOUND", f"No profile {name!r}.")
        return name

    # -- the wiring ------------------------------------------------------------------------------

    def _owned(self, change: StatusChange) -> None:
        if change.owner is not None:
            with self._lock:
                self._owners[str(change.session_id)] = change.owner

    def _router(self, _: Sandbox) -> APIRouter:
        router = APIRouter(prefix=CLASSROOM, tags=["Classroom (instructor key only)"])

        @router.get("/overview", summary="Every student's sessions, requests, errors, 429s and notifications")
        async def overview() -> JSONResponse:
            return JSONResponse(self.overview())

        @router.get("/changes", summary="The class's status changes numbered above `after`, with their owners")
        async def changes(after: int = Query(0, ge=0), limit: int = Query(10_000, ge=1, le=10_000)) -> JSONResponse:
            return JSONResponse(self.history.after(after, limit))

        @router.post("/events", summary="Stage an event for the class or one student")
        async def events(body: StagedEvent) -> JSONResponse:
            return JSONResponse(self._stage(body))

        return router


def _needed(value: Any, name: str) -> Any:
    if value is None:
        raise EngineError(400, "INVALID_ARGUMENT", f"{name} is required for this event.")
    return value
