"""`ClassroomView`: the instructor's live view of a class, for a notebook or a projector (Voila).

A table with a row per student, one timeline with a row per session grouped by student, and the
controls that stage events for the class or one student. The model is an `Instructor` (all the
HTTP); an `Instructor` thread reads the classroom every `interval` seconds and pokes the pump,
which redraws at most five times a second however fast the class works.
"""

from __future__ import annotations

import html
import os
from typing import Any

import ipywidgets as w

from ..classroom.instructor import Instructor
from ..errors import QodError, describe
from ..models import ProfileStatus, QosStatus
from ..notebook.pump import Pump, PumpState
from ..plots import COLORS, TimelinePlot
from ..plots.live import Renderer

__all__ = ["EVENTS", "ClassroomView", "classroom_view"]

EVENTS = {  # what the instructor can stage: its kind, and the fields it reads
    "terminate": ("The network ends the live sessions now", ("student", "profile")),
    "fail_provisioning": ("The next sessions fail to start", ("student", "profile", "count")),
    "drop_notifications": ("Drop the next notifications", ("student", "count")),
    "delay_notifications": ("Delay the next notifications", ("student", "count", "seconds")),
    "speed": ("Change the clock's speed", ("speed",)),
    "profile_status": ("Change a profile's status", ("profile", "status")),
}
_EVERYONE = "the whole class"
_ROW_HEIGHT = 22  # pixels per timeline row


class ClassroomView(w.VBox):
    """The class at a glance: students, every session's timeline, and staged events.

    Parameters:
        source: the classroom's URL (with `instructor_key`), or an `Instructor` already made.
        interval: real seconds between two reads of the classroom.
    """

    def __init__(
        self,
        source: str | Instructor,
        instructor_key: str | None = None,
        *,
        interval: float = 1.0,
        pump: Pump | None = None,
        plot: Renderer = "auto",
        **kwargs: Any,
    ) -> None:
        if isinstance(source, Instructor):
            self.instructor = source
        elif instructor_key:
            self.instructor = Instructor(source, instructor_key, interval=interval)
        else:
            msg = "ClassroomView needs the instructor's key (the last line of the roster)"
            raise ValueError(msg)
        self.pump = pump or Pump(interval=0.2, tick=1.0)  # at most 5 redraws a second
        teacher = self.instructor
        self.header = w.HTML()
        self.table = w.HTML()
        self.table.add_class("qodlab-students")
        self.timeline = TimelinePlot(
            teacher.log,
            now=teacher.now,
            sessions=teacher.infos,
            groups=teacher.owners,
            axis_title="classroom clock (UTC)",
            title="The class's sessions, by student",
            renderer=plot,
        )
        self.timeline.poke = self.pump.poke
        self.stager = StagePanel(teacher, self.pump.poke)
        for view in (self._render, self.timeline):
            self.pump.add_view(view)
        teacher.on_change(self.pump.poke)
        teacher.refresh()
        self.stager.load()
        tabs = w.Tab([self.table, self.stager])
        tabs.titles = ("Students", "Stage an event")
        super().__init__([self.header, tabs, self.timeline.view], **kwargs)
        self.add_class("qodlab-classroom")
        teacher.start()
        self.pump.start()
        self.pump.poke()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.timeline.shown()  # on a page now (a projector's Voila): does plotly's widget render there?
        return super()._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Stop reading the classroom and redrawing (the classroom itself keeps running)."""
        if self.pump.state is PumpState.RUNNING:
            self.instructor.on_change(self.pump.poke, remove=True)
            self.instructor.stop()
            self.pump.stop()
        super().close()

    def _render(self, _: list[Any]) -> None:
        teacher = self.instructor
        self.header.value = _header(teacher)
        self.table.value = student_table(teacher.students())
        rows = len(teacher.owners()) or 1
        height = max(360, 140 + _ROW_HEIGHT * rows)
        if self.timeline.widget.layout.height != height:
            self.timeline.widget.layout.height = height


class StagePanel(w.VBox):
    """Pick an event, for whom, and its details; Stage sends it and says what happened."""

    def __init__(self, instructor: Instructor, poke: Any) -> None:
        self.instructor = instructor
        self.poke = poke
        self.kind = w.Dropdown(options=[(words, kind) for kind, (words, _) in EVENTS.items()], description="Event")
        self.student = w.Dropdown(options=[_EVERYONE], description="For")
        self.profile = w.Dropdown(options=[("any profile", "")], description="Profile")
        self.count = w.BoundedIntText(value=3, min=1, max=10_000, description="How many")
        self.seconds = w.BoundedFloatText(value=5.0, min=0, max=3600, description="Delay (s)")
        self.speed = w.BoundedFloatText(value=10.0, min=0.01, max=10_000, description="Speed")
        self.status = w.Dropdown(options=[s.value for s in ProfileStatus], value="INACTIVE", description="Status")
        self.button = w.Button(description="Stage", icon="bolt", button_style="warning")
        self.button.add_class("qodlab-stage")
        self.result = w.HTML()
        self._profiles: list[str] = []
        self.fields = {
            "student": self.student,
            "profile": self.profile,
            "count": self.count,
            "seconds": self.seconds,
            "speed": self.speed,
            "status": self.status,
        }
        self.kind.observe(lambda _: self._show_fields(), "value")
        self.button.on_click(lambda _: self.stage())
        super().__init__([self.kind, *self.fields.values(), self.button, self.result])
        for control in (self.kind, *self.fields.values()):
            control.layout.width = "420px"
            control.style.description_width = "90px"
        self._show_fields()

    def load(self) -> None:
        """Fill the students and profiles (from the classroom)."""
        self.student.options = [_EVERYONE, *(s["name"] for s in self.instructor.students())]
        try:
            profiles = self.instructor.profiles()
        except QodError as exc:
            self.result.value = _red(f"Could not load the profiles: {describe(exc)}")
            return
        self._profiles = profiles
        self._show_fields()

    def stage(self) -> dict[str, Any] | None:
        """Send the event the controls describe; what the classroom did, or None (the reason shown)."""
        kind = self.kind.value
        wanted = EVENTS[kind][1]
        what = {name: self.fields[name].value for name in wanted}
        if what.get("student") == _EVERYONE:
            what["student"] = None
        if not what.get("profile"):
            what["profile"] = None
        try:
            done = self.instructor.stage(kind, **what)
        except QodError as exc:
            self.result.value = _red(f"Refused: {describe(exc)}")
            return None
        self.result.value = f"<span style='color:var(--qodlab-ok, #1b6e20)'>{html.escape(_done(done))}</span>"
        self.poke()
        return done

    def _show_fields(self) -> None:
        wanted = EVENTS[self.kind.value][1]
        for name, field in self.fields.items():
            field.layout.display = None if name in wanted else "none"
        named = [(p, p) for p in self._profiles]
        self.profile.options = named if self.kind.value == "profile_status" else [("any profile", ""), *named]


def student_table(students: list[dict[str, Any]]) -> str:
    """The students as an HTML table: sessions by status, requests, 429s, errors, notifications."""
    head = ("student", *(s.value for s in QosStatus), "requests", "429s", "errors", "notified", "failed")
    cells = "".join(f"<th style='padding:2px 8px;text-align:left'>{h}</th>" for h in head)
    rows = [f"<tr>{cells}</tr>"]
    for s in students:
        statuses = [_count(s["sessions"].get(status.value, 0), COLORS[status.value]) for status in QosStatus]
        errors = ", ".join(f"{html.escape(code)}: {n}" for code, n in sorted(s["errors"].items())) or "·"
        notes = s["notifications"]
        values = [
            f"<b>{html.escape(s['name'])}</b>",
            *statuses,
            str(s["requests"]),
            _warn(s["limited"]),
            errors,
            str(notes["delivered"]),
            _warn(notes["failed"]),
        ]
        rows.append("<tr>" + "".join(f"<td style='padding:2px 8px'>{v}</td>" for v in values) + "</tr>")
    if not students:
        rows.append("<tr><td colspan='10'><i>No students yet.</i></td></tr>")
    return f"<table class='qodlab-student-table' style='border-collapse:collapse'>{''.join(rows)}</table>"


def classroom_view(
    url: str | None = None, instructor_key: str | None = None, *, interval: float = 1.0, **kwargs: Any
) -> ClassroomView:
    """The instructor's live view of the classroom at `url` (see `ClassroomView`).

    Without arguments it reads $QODLAB_CLASSROOM (the URL) and $QODLAB_INSTRUCTOR_KEY, so a
    projector's page (`voila projector.ipynb`, one cell: `qodlab.classroom_view()`) holds no key.
    """
    url = url or os.environ.get("QODLAB_CLASSROOM")
    instructor_key = instructor_key or os.environ.get("QODLAB_INSTRUCTOR_KEY")
    if not url or not instructor_key:
        msg = "give the classroom's URL and the instructor's key, or set $QODLAB_CLASSROOM and $QODLAB_INSTRUCTOR_KEY"
        raise ValueError(msg)
    return ClassroomView(url, instructor_key, interval=interval, **kwargs)


def _header(teacher: Instructor) -> str:
    sessions = teacher.overview["sessions"]
    live = sum(s["qosStatus"] != QosStatus.UNAVAILABLE.value for s in sessions)
    speed = f" &middot; clock at {teacher.speed:g}x" if teacher.speed is not None else ""
    problem = f" &middot; {_red(teacher.error)}" if teacher.error else ""
    return (
        f"<h3 style='margin:4px 0'>qodlab classroom</h3><small>{html.escape(teacher.url)} &middot; "
        f"{len(teacher.students())} students &middot; {live} live sessions of {len(sessions)}{speed}{problem}</small>"
    )


def _count(n: int, color: str) -> str:
    return f"<span style='color:{color};font-weight:bold'>{n}</span>" if n else "·"


def _warn(n: int) -> str:
    return f"<span style='color:var(--qodlab-error, #b3261e)'>{n}</span>" if n else "0"


def _red(text: str) -> str:
    return f"<span style='color:var(--qodlab-error, #b3261e)'>{html.escape(text)}</span>"


def _done(done: dict[str, Any]) -> str:
    if "terminated" in done:
        return f"Terminated {len(done['terminated'])} sessions."
    return f"Staged: {done.get('staged', '')}."
