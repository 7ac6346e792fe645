"""`Instructor`: the instructor's side of a classroom over HTTP, the model behind `ClassroomView`.

It reads `GET /_classroom/overview` (students and sessions) and `GET /_classroom/changes` (every
status change after the last one read) and turns the changes into events of an `EventLog`, so the
same timeline as a student's draws the whole class; it stages events with `POST /_classroom/events`.
It works from any machine that reaches the classroom: a projector's Voila page included.

    teacher = Instructor(room.url, room.roster.key("instructor")).start()   # reads once a second
    teacher.students()        # one row per student
    teacher.stage("terminate", profile="QOS_L")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .. import apis
from ..errors import ApiError, QodError, TransportError, describe
from ..eventlog import EventLog
from ..models import QosStatus, SessionInfo, StatusInfo
from ..notifications import StatusEvent

__all__ = ["CHANGE_TYPE", "Instructor"]

CHANGE_TYPE = "qodlab.classroom-change"
"""The event type of what the instructor's log records (shape `poll`: read from the classroom, not notified)."""


class Instructor:
    """The overview, the class's status changes as an event log, and staged events.

    Parameters:
        interval: real seconds between two reads once started.
        log: where the class's status changes go (a new in-memory log by default).
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        interval: float = 1.0,
        log: EventLog | None = None,
        cafile: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.interval = interval
        self.log = log if log is not None else EventLog()
        self.overview: dict[str, Any] = {"students": [], "sessions": []}
        """The last overview read (students, sessions with owners, the clock)."""
        self.error: str | None = None
        """Why the last read failed (a wrong key, the classroom gone), or None."""
        self.reads = 0
        headers = {"authorization": f"Bearer {key}"}
        self._http = httpx.Client(base_url=self.url, headers=headers, verify=cafile or True, transport=transport)
        self._after = 0
        self._offered: set[str] = set()  # event ids already given to the log
        self._infos: dict[str, SessionInfo] = {}  # kept after a session is deleted: its row stays labelled
        self._owners: dict[str, str] = {}
        self._clock: tuple[datetime, float, float] | None = None  # its now, its speed, our monotonic then
        self._callbacks: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "following" if self._thread is not None else "idle"
        return f"<Instructor {self.url} {len(self.overview['students'])} students, key=*** {state}>"

    # -- reading -----------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Read the overview and the changes since the last read; False (and `error`) if it could not."""
        try:
            overview = self._get("/_classroom/overview")
            changes = self._changes()
        except QodError as exc:
            self.error = describe(exc)
            return False
        self.error = None
        self.overview = overview
        clock = overview.get("clock")
        if clock:
            self._clock = (datetime.fromisoformat(clock["now"]), float(clock["speed"]), time.monotonic())
        for session in overview["sessions"]:
            self._infos[session["sessionId"]] = SessionInfo.model_validate(session)
        for entry in [*overview["sessions"], *changes]:
            if entry.get("owner"):
                self._owners[entry["sessionId"]] = entry["owner"]
        events = [_requested(s) for s in overview["sessions"]]
        events += [e for change in changes for e in (_requested(change), _changed(change))]
        new = [e for e in events if e is not None and e.event_id not in self._offered]
        self._offered.update(e.event_id for e in new)
        self.log.append_many([(event, None) for event in new])
        self.reads += 1
        return True

    def students(self) -> list[dict[str, Any]]:
        """One row per student: name, sessions by status, requests, 429s, errors, notifications."""
        return list(self.overview["students"])

    def infos(self) -> dict[str, SessionInfo]:
        """The class's sessions by id (a timeline's row labels)."""
        return dict(self._infos)

    def owners(self) -> dict[str, str]:
        """Each session's student (a timeline's groups), the students in the roster's order."""
        rank = {student["name"]: i for i, student in enumerate(self.overview["students"])}
        return dict(sorted(self._owners.items(), key=lambda item: rank.get(item[1], len(rank))))

    def now(self) -> datetime:
        """The classroom's clock, run on from the last read at its speed."""
        if self._clock is None:
            return datetime.now(UTC)
        then, speed, read_at = self._clock
        return then + timedelta(seconds=(time.monotonic() - read_at) * speed)

    @property
    def speed(self) -> float | None:
        """The classroom clock's speed at the last read."""
        return self._clock[1] if self._clock is not None else None

    def profiles(self) -> list[str]:
        """The names of the classroom's QoS profiles."""
        answer = self._call("POST", f"{apis.default().profiles_path}/retrieve-qos-profiles", json={})
        return [p["name"] for p in answer]

    # -- acting ------------------------------------------------------------------------------

    def stage(self, kind: str, **what: Any) -> dict[str, Any]:
        """Stage an event (`qodlab.classroom.StagedEvent`'s fields); raises ApiError when refused."""
        body = {"kind": kind, **{k: v for k, v in what.items() if v is not None}}
        done: dict[str, Any] = self._call("POST", "/_classroom/events", json=body)
        self.refresh()
        return done

    # -- following ---------------------------------------------------------------------------

    def on_change(self, callback: Callable[[], None], remove: bool = False) -> None:
        """Call `callback()` after every read in the background (a pump's `poke`)."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def start(self) -> Instructor:
        """Read every `interval` seconds in a thread (a no-op when it does)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="qodlab-instructor", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading, and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._http.close()

    def __enter__(self) -> Instructor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            for callback in list(self._callbacks):
                callback()
            self._stop.wait(self.interval)

    def _changes(self) -> list[dict[str, Any]]:
        changes: list[dict[str, Any]] = []
        for _ in range(100):  # pages of 10,000: a long class is read in a few calls
            page = self._get("/_classroom/changes", params={"after": self._after})
            changes += page["changes"]
            self._after = page["next"]
            if not page["changes"]:
                break
        return changes

    def _get(self, path: str, **kwargs: Any) -> Any:
        return self._call("GET", path, **kwargs)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            msg = f"cannot reach the classroom at {self.url}: {exc}"
            raise TransportError(msg) from exc
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response.json()


def _requested(session: dict[str, Any]) -> StatusEvent | None:
    """REQUESTED at the session's creation (the engine publishes no change for it)."""
    if not session.get("createdAt"):
        return None
    sid = session["sessionId"]
    raw = {"sessionId": sid, "qosStatus": "REQUESTED", "owner": session.get("owner")}
    return _event(f"classroom:{sid}:REQUESTED", sid, QosStatus.REQUESTED, None, session["createdAt"], raw)


def _changed(change: dict[str, Any]) -> StatusEvent:
    sid, info = change["sessionId"], change.get("statusInfo")
    raw = {k: v for k, v in change.items() if k != "seq" and v is not None}
    status = QosStatus(change["qosStatus"])
    return _event(
        f"classroom:{sid}:{status.value}:{info or ''}",
        sid,
        status,
        StatusInfo(info) if info else None,
        change["time"],
        raw,
    )


def _event(
    event_id: str, sid: str, status: QosStatus, info: StatusInfo | None, at: str, raw: dict[str, Any]
) -> StatusEvent:
    return StatusEvent(
        event_id=event_id,
        session_id=sid,
        qos_status=status,
        status_info=info,
        event_time=datetime.fromisoformat(at),
        type=CHANGE_TYPE,
        source="qodlab-classroom",
        shape="poll",
        raw=raw,
    )
