"""Live panels: `SessionsPanel`, `EventLogView`, `SandboxPanel`.

Each is a view: `render(batch)` redraws it from the workbench (the pump calls it, and is the only
caller), and its buttons call the workbench, then `poke` the pump for a redraw.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..errors import ServerStopped
from ..models import QosStatus
from ..notebook.palette import BADGE_TEXT, GREY
from ..notebook.workbench import ActionResult, Tracked, Workbench
from ..plots import COLORS

if TYPE_CHECKING:
    from ..notifications import StatusEvent

__all__ = ["EventLogView", "SandboxPanel", "SessionsPanel"]

Poke = Callable[[], None]


def _badge(status: str, info: str | None) -> str:
    color, text = COLORS.get(status, GREY), BADGE_TEXT.get(status, "#ffffff")  # text >= 4.5:1 on the colour
    suffix = f" / {html.escape(info)}" if info else ""
    return (
        f'<span class="qodlab-status" style="background:{color};color:{text};padding:1px 6px;'
        f'border-radius:8px;font-size:90%">{html.escape(status)}</span>{suffix}'
    )


def _error(label: w.HTML, outcome: ActionResult) -> None:
    label.value = (
        ""
        if outcome.ok
        else f'<span style="color:var(--qodlab-error, #b3261e)">{html.escape(outcome.error or "")}</span>'
    )


def _fixed(pixels: int) -> dict[str, str]:
    """A column that keeps its width: a narrow page wraps the dashboard instead of squeezing labels."""
    return {"width": f"{pixels}px", "flex": "0 0 auto"}


class _Row(w.HBox):
    """One session: id, profile, status, time left, Extend by N seconds, Delete, Refresh."""

    def __init__(self, panel: SessionsPanel, session_id: str) -> None:
        self.session_id = session_id
        self.name = w.HTML(f"<code>{session_id[:8]}</code>", layout=_fixed(80))
        self.profile = w.HTML(layout=_fixed(60))
        self.status = w.HTML(layout=_fixed(260))
        self.left = w.HTML(layout=_fixed(80))
        self.seconds = w.BoundedIntText(value=60, min=1, max=86400, tooltip="seconds to add", layout=_fixed(70))
        self.extend = w.Button(description="Extend", icon="clock-o", layout=_fixed(90))
        self.delete = w.Button(description="Delete", icon="trash", button_style="danger", layout=_fixed(90))
        self.refresh = w.Button(description="", icon="refresh", tooltip="Refresh", layout=_fixed(40))
        self.extend.add_class("qodlab-extend")
        self.delete.add_class("qodlab-delete")
        self.extend.on_click(lambda _: panel.act(self.session_id, "extend", self.seconds.value))
        self.delete.on_click(lambda _: panel.act(self.session_id, "delete"))
        self.refresh.on_click(lambda _: panel.act(self.session_id, "refresh"))
        super().__init__(
            [self.name, self.profile, self.status, self.left, self.seconds, self.extend, self.delete, self.refresh]
        )
        self.add_class("qodlab-session-row")
        self.add_class(f"qodlab-session-{session_id}")

    def show(self, tracked: Tracked, seconds_left: float | None, assignment: bool = False) -> None:
        info = tracked.info
        if assignment:  # until revoked: nothing to extend, Delete revokes
            self.delete.description, self.extend.layout.display, self.seconds.layout.display = "Revoke", "none", "none"
            self.add_class("qodlab-assignment-row")
        self.profile.value = html.escape(info.qos_profile or "")
        self.status.value = _badge(info.qos_status.value, info.status_info.value if info.status_info else None)
        self.left.value = f"{seconds_left:.0f} s left" if seconds_left is not None else ""
        if assignment:
            self.left.value = "until revoked" if info.qos_status is not QosStatus.UNAVAILABLE else ""
        live = info.qos_status is not QosStatus.UNAVAILABLE
        self.extend.disabled = info.qos_status is not QosStatus.AVAILABLE
        self.delete.disabled = (
            not live and info.status_info is not None and info.status_info.value == "DELETE_REQUESTED"
        )


class SessionsPanel(w.VBox):
    """The sessions the workbench follows, with their status, time left and actions."""

    def __init__(self, workbench: Workbench, poke: Poke | None = None, **kwargs: Any) -> None:
        self.workbench = workbench
        self.poke = poke or (lambda: None)
        self.message = w.HTML("")
        self.rows: dict[str, _Row] = {}
        self.table = w.VBox([])
        self.empty = w.HTML("<i>No sessions yet: create one, or follow one by its id.</i>")
        self.session_id = w.Text(placeholder="a session id, to follow a session created elsewhere", layout=_fixed(380))
        self.follow = w.Button(description="Follow", icon="eye", layout=_fixed(90))
        self.session_id.add_class("qodlab-follow-id")
        self.follow.add_class("qodlab-follow")
        self.follow.on_click(lambda _: self.follow_session(self.session_id.value))
        super().__init__(
            [
                w.HTML("<b>Sessions</b>"),
                self.message,
                self.empty,
                self.table,
                w.HBox([self.session_id, self.follow]),
            ],
            **kwargs,
        )
        self.add_class("qodlab-sessions")

    def follow_session(self, session_id: str) -> ActionResult:
        """Retrieve a session by its id and list it here from now on (or say why not)."""
        if not session_id.strip():
            outcome = ActionResult(error="Give a session id to follow.")
            _error(self.message, outcome)
            return outcome
        outcome = self.act(session_id, "refresh")  # shows its error; the workbench trims the id
        if outcome.ok:
            self.session_id.value = ""
        return outcome

    def act(self, session_id: str, action: str, seconds: int = 0) -> ActionResult:
        """Run a row's action through the workbench, then ask for a redraw."""
        if action == "extend":
            outcome = self.workbench.extend(session_id, seconds)
        elif action == "delete":
            outcome = self.workbench.delete(session_id)
        else:
            outcome = self.workbench.refresh(session_id)
        _error(self.message, outcome)
        self.poke()
        return outcome

    def render(self, batch: list[StatusEvent] | None = None) -> None:
        """Redraw from the workbench (pump view)."""
        tracked = self.workbench.sessions()
        for item in tracked:
            sid = str(item.info.session_id)
            row = self.rows.get(sid)
            if row is None:
                row = self.rows[sid] = _Row(self, sid)
            row.show(item, self.workbench.seconds_left(item.info), self.workbench.is_assignment(sid))
        order = [self.rows[str(t.info.session_id)] for t in tracked]
        if list(self.table.children) != order:
            self.table.children = order
        self.empty.layout.display = "none" if order else None


class EventLogView(w.VBox):
    """The newest events first (bounded), filters by session and status, rejections, CSV export."""

    def __init__(self, workbench: Workbench, max_rows: int = 30, **kwargs: Any) -> None:
        self.workbench = workbench
        self.max_rows = max_rows
        self.session = w.Dropdown(options=[("all sessions", "")], description="session")
        self.status = w.Dropdown(
            options=[("any status", "")] + [(s.value, s.value) for s in QosStatus], description="status"
        )
        self.table = w.HTML("")
        self.table.add_class("qodlab-event-table")
        self.rejected = w.HTML("")
        self.rejected.add_class("qodlab-rejections")
        self.path = w.Text(value="events.csv", description="export to", layout={"width": "300px"})
        self.export = w.Button(description="Export CSV", icon="download")
        self.exported = w.HTML("")
        self.export.on_click(lambda _: self.export_csv())
        for field in (self.session, self.status):
            field.observe(lambda _: self.render(), names="value")
        super().__init__(
            [
                w.HBox([self.session, self.status]),
                self.table,
                w.HTML("<b>Rejected notifications</b>"),
                self.rejected,
                w.HBox([self.path, self.export]),
                self.exported,
            ],
            **kwargs,
        )
        self.add_class("qodlab-event-log")

    def export_csv(self) -> str:
        """Write the whole log to the path field's file."""
        path = self.workbench.log.to_csv(self.path.value)
        self.exported.value = f"Wrote {len(self.workbench.log)} events to <code>{html.escape(str(path))}</code>"
        return str(path)

    def render(self, batch: list[StatusEvent] | None = None) -> None:
        """Redraw from the log (pump view)."""
        log = self.workbench.log
        known = [("all sessions", "")] + [(sid[:8], sid) for sid in log.sessions()]
        if len(known) != len(self.session.options):
            self.session.options = known
        columns = ("event_time", "received_at", "session_id", "qos_status", "status_info", "shape")
        records = log.recent(self.max_rows, self.session.value or None, self.status.value or None, columns)
        cells = "".join(
            f"<tr><td>{_clock(r['event_time'])}</td><td>{_clock(r['received_at'])}</td>"
            f"<td><code>{html.escape(str(r['session_id'])[:8])}</code></td>"
            f"<td>{_badge(str(r['qos_status']), r['status_info'])}</td><td>{html.escape(str(r['shape']))}</td></tr>"
            for r in records
        )
        self.table.value = (
            f"<table style='border-spacing:10px 2px'><tr>{_HEADINGS}{cells}"
            f"</table><small>{len(log)} events in all (times in UTC)</small>"
        )
        listener = self.workbench.listener
        try:
            rejections = listener.recent_rejections(10) if listener is not None else []
        except ServerStopped as exc:  # its listener stopped or replaced: say so, once per redraw, not a traceback
            self.rejected.value = f"<i>{html.escape(str(exc))}</i>"
            return
        self.rejected.value = (
            "<i>none</i>"
            if not rejections
            else "<table>"
            + "".join(
                f"<tr><td>{r.time:%H:%M:%S}</td><td>{r.status}</td><td>{html.escape(r.reason)}</td></tr>"
                for r in rejections
            )
            + "</table>"
        )


_HEADINGS = (
    "<th title='the time the notification states, on the API&#39;s clock'>event time</th>"
    "<th title='when the listener received it, on this machine&#39;s clock'>received</th>"
    "<th>session</th><th>status</th><th>shape</th></tr>"
)


def _clock(when: Any) -> str:
    """A time of day for a table cell; blank when there is none."""
    return "" if when is None else f"{when:%H:%M:%S}"


class SandboxPanel(w.VBox):
    """Teaching controls: clock speed, network termination, notification faults, listener off and on."""

    def __init__(self, workbench: Workbench, poke: Poke | None = None, **kwargs: Any) -> None:
        if workbench.sandbox is None:
            msg = "SandboxPanel needs a workbench with a sandbox"
            raise ValueError(msg)
        self.workbench = workbench
        self.sandbox = workbench.sandbox
        self.poke = poke or (lambda: None)
        self.speed = w.FloatLogSlider(
            value=self.sandbox.speed, base=10, min=0, max=3.6, step=0.1, description="clock speed", readout_format=".0f"
        )
        self.speed.observe(lambda change: setattr(self.sandbox, "speed", change["new"]), names="value")
        self.target = w.Dropdown(options=[], description="session")
        self.terminate = w.Button(description="Terminate by network", icon="bolt", button_style="warning")
        self.count = w.BoundedIntText(value=1, min=1, max=100, description="next N", layout={"width": "160px"})
        self.delay = w.BoundedFloatText(value=3.0, min=0, max=600, description="delay (s)", layout={"width": "160px"})
        self.drop = w.Button(description="Drop")
        self.delay_button = w.Button(description="Delay")
        self.duplicate = w.Button(description="Duplicate")
        self.listener_button = w.ToggleButton(value=False, description="Stop listener", icon="power-off")
        self.status = w.HTML("")
        self.terminate.on_click(lambda _: self._terminate())
        self.drop.on_click(lambda _: self._fault(lambda: self.sandbox.drop_notifications(self.count.value), "drop"))
        self.delay_button.on_click(
            lambda _: self._fault(lambda: self.sandbox.delay_notifications(self.delay.value, self.count.value), "delay")
        )
        self.duplicate.on_click(
            lambda _: self._fault(lambda: self.sandbox.duplicate_notifications(self.count.value), "duplicate")
        )
        self.listener_button.observe(lambda change: self.set_listener(not change["new"]), names="value")
        super().__init__(
            [
                w.HTML("<b>Sandbox</b>"),
                self.speed,
                w.HBox([self.target, self.terminate]),
                w.HTML("Next notifications:"),
                w.HBox([self.count, self.delay]),
                w.HBox([self.drop, self.delay_button, self.duplicate]),
                self.listener_button,
                self.status,
            ],
            **kwargs,
        )
        self.add_class("qodlab-sandbox-panel")

    def _terminate(self) -> None:
        if not self.target.value:
            return
        try:
            self.sandbox.terminate(self.target.value)
            self.status.value = f"The network terminated {self.target.value[:8]}."
        except Exception as exc:  # an already-ended session: say so, no traceback
            self.status.value = f'<span style="color:var(--qodlab-error, #b3261e)">{html.escape(str(exc))}</span>'
        self.poke()

    def _fault(self, action: Callable[[], None], what: str) -> None:
        try:
            action()
        except Exception as exc:  # a stopped or replaced sandbox (ServerStopped names its replacement): say so
            self.status.value = f'<span style="color:var(--qodlab-error, #b3261e)">{html.escape(str(exc))}</span>'
            return
        done = {"drop": "dropped", "delay": "delayed", "duplicate": "duplicated"}[what]
        self.status.value = f"The next {self.count.value} notification(s) will be {done}."

    def set_listener(self, running: bool) -> None:
        """Stop or start the listener (the sandbox retries what it could not deliver)."""
        listener = self.workbench.listener
        if listener is None:
            return
        if running:
            listener.start()
            self.status.value = "Listener running again: retried notifications arrive."
        else:
            listener.stop()
            self.status.value = "Listener stopped: the sandbox retries with backoff."
        self.listener_button.description = "Stop listener" if running else "Start listener"

    def render(self, batch: list[StatusEvent] | None = None) -> None:
        """Redraw (pump view): the sessions a termination can target."""
        options = [
            (str(t.info.session_id)[:8], str(t.info.session_id))
            for t in self.workbench.sessions()
            if t.info.qos_status is not QosStatus.UNAVAILABLE
        ]
        if options != list(self.target.options):
            self.target.options = options
