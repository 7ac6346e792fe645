"""`dashboard()`: every widget wired together in one call."""

from __future__ import annotations

import contextlib
import html
import os
import warnings
from typing import Any
from urllib.parse import urlsplit

import httpx
import ipywidgets as w

from .._net.http import is_loopback
from ..client.clients import QodClient
from ..errors import InvalidRequest, RelayRefuses
from ..eventlog import EventLog
from ..notebook.display import STYLE
from ..notebook.pump import Pump, PumpState
from ..notebook.workbench import Workbench
from ..plots import TimelinePlot
from ..plots.live import Renderer
from ..receiving.listener import Listener
from ..receiving.plan import Notifications, Way, checked, plan
from ..relay import new_channel
from ..sandbox import Sandbox
from .forms import SessionForm
from .panels import EventLogView, SandboxPanel, SessionsPanel

__all__ = ["Dashboard", "dashboard"]


class Dashboard(w.VBox):
    """The form, the sessions, the live timeline, the event log and (on a sandbox) its controls."""

    def __init__(
        self, workbench: Workbench, pump: Pump | None = None, *, plot: Renderer = "auto", **kwargs: Any
    ) -> None:
        self.workbench = workbench
        self.started: list[Listener | QodClient] = []
        """What `dashboard()` started for this dashboard alone (its listener, its client): `close()` ends them."""
        self.pump = pump or Pump(tick=1.0)
        poke = self.pump.poke
        self.form = SessionForm(workbench, on_created=lambda _: poke())
        self.sessions = SessionsPanel(workbench, poke)
        clock = "time (UTC)" if workbench.sandbox is None else "sandbox clock (UTC; it runs at the sandbox's speed)"
        self.timeline = TimelinePlot(
            workbench.log,
            now=workbench.now,
            axis_title=clock,
            sessions=workbench.infos,
            metrics=workbench.sandbox,
            renderer=plot,
            groups=workbench.kinds,  # an assignment's row reads "assignment · …"
        )
        self.timeline.poke = poke
        self.events = EventLogView(workbench)
        self.sandbox_panel = SandboxPanel(workbench, poke) if workbench.sandbox is not None else None
        for view in (workbench.apply, self.sessions.render, self.timeline, self.events.render):
            self.pump.add_view(view)
        if self.sandbox_panel is not None:
            self.pump.add_view(self.sandbox_panel.render)
        workbench.log.on_event(self.pump.submit)
        tabs = w.Tab([self.events] + ([self.sandbox_panel] if self.sandbox_panel else []))
        tabs.titles = ("Event log",) + (("Sandbox",) if self.sandbox_panel else ())
        self.header = w.HTML(_header(workbench, self.timeline))
        self.pump.add_view(lambda _: setattr(self.header, "value", _header(workbench, self.timeline)))  # time left
        top = w.HBox([self.form, self.sessions], layout={"flex_flow": "row wrap", "grid_gap": "8px 24px"})
        # as wide as a session's row from the start (it wrapped below the form at the first Create); the form's
        # result wraps inside the form (width 0, min-width 100%: "Created <id> …" widened the form, moving a
        # panel beside it) in two 28 px lines held open (where the panel sits under the form, it pushed it down)
        self.sessions.layout.min_width = "810px"
        self.form.result.layout = {"width": "0px", "min_width": "100%", "min_height": "56px"}
        super().__init__([self.header, top, self.timeline.view, tabs], **kwargs)
        self.add_class("qodlab-dashboard")
        self.pump.start()
        self.pump.poke()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.timeline.shown()  # on a page now: the timeline learns whether plotly's widget renders there
        return super()._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Stop the pump, the polling, and the listener and client started for it alone; close the widgets
        (a sandbox keeps running: it may be shared)."""
        if self.pump.state is PumpState.RUNNING:
            self.workbench.log.on_event(self.pump.submit, remove=True)
            self.pump.stop()
        self.workbench.close()
        for started in self.started:
            if isinstance(started, Listener):
                started.stop()
            else:
                started.close()
        super().close()


def _header(workbench: Workbench, timeline: TimelinePlot | None = None) -> str:
    """The API, how it authenticates, how notifications arrive and any wait in progress (never a secret)."""
    client = workbench.client
    waiting = client.waiting
    wait = (
        f" &middot; <b class='qodlab-waiting' style='color:var(--qodlab-warn, #8a4b00)'>{html.escape(waiting)}</b>"
        if waiting
        else ""
    )
    return (
        f"{STYLE}<h3 style='margin:4px 0'>qodlab: Quality on Demand</h3><small>API {html.escape(client.base_url)}"
        f" &middot; <span class='qodlab-auth'>auth: {html.escape(client.authentication)}</span>"
        f" &middot; <span class='qodlab-notifications'>notifications: {html.escape(workbench.how)}</span>{wait}"
        f"{_timeline_state(timeline)}</small>"
    )


def dashboard(
    client: QodClient | None = None,
    listener: Listener | None = None,
    *,
    sandbox: Sandbox | None = None,
    speed: float = 10.0,
    url: str | None = None,
    api_key: str | None = None,
    auth: httpx.Auth | None = None,
    notifications: Notifications = "auto",
    poll_interval: float = 5.0,
    **kwargs: Any,
) -> Dashboard:
    """One widget with everything wired together.

    With no arguments it starts a listener and an event log of its own, and a sandbox at `speed` (the
    one an earlier `dashboard()` started, if it still runs), so it runs anywhere, Binder included
    (`plot="png"` draws the timeline as a picture from the start; by default it becomes one where
    plotly's widget does not render). It never takes or changes a sandbox or listener it did not
    start (a running `Sandbox(speed=60)` keeps its speed, a `Listener(log)` its log): pass yours as
    `sandbox=` (with auth="oidc" its client registers itself and takes two-legged tokens) and `listener=`. `url=` and
    `api_key=` (or `auth=`, e.g. a `qodlab.client.auth.ClientCredentials`) name another API (a classroom's):
    notifications come straight to a listener when it is on this machine, else through the relay
    a classroom serves at `/_relay/` (with polling as a safety net), else by polling.
    Given a client for a real API, no sandbox is started, and notifications come as
    `notifications` says (`Workbench`): with "auto", through a relay when $QODLAB_RELAY names one,
    else by polling, since a real network cannot reach this machine.
    """
    notifications = checked(notifications)  # a typo is refused before anything starts
    given = client, listener
    api = None  # the root of an API named by `url=`: a qodlab one serves a relay at `/_relay/`
    if client is None and sandbox is not None:
        client = sandbox.client()
    if client is None and url is not None:  # a classroom's, or any API at that root, with that key
        client, api = QodClient(url, token=api_key, auth=auth), url
    if client is None:
        sandbox = _own_sandbox(speed)
        client = sandbox.client()
    if listener is None:
        listener = _listener_for(notifications, sandbox, api)
    log = listener.log if listener is not None else EventLog()
    try:
        workbench = Workbench(client, log, listener, sandbox, notifications=notifications, poll_interval=poll_interval)
    except InvalidRequest:  # e.g. "relay" through a relay that refuses the API's notifications
        if listener is not None and listener is not given[1]:
            listener.stop()
        raise
    board = Dashboard(workbench, **kwargs)
    board.started += [made for made in (client, listener) if made is not None and all(made is not g for g in given)]
    return board


def _listener_for(notifications: Notifications, sandbox: Sandbox | None, url: str | None) -> Listener | None:
    """The listener `plan()` needs, started: direct on this machine, else through a relay, else none (polling).

    The relay is the one an API at `url` serves, if it does, else `$QODLAB_RELAY` (or, asked for, the
    default): a classroom (any qodlab sandbox) serves one at `/_relay/`, so a student's kernel on
    another machine (JupyterHub) follows a channel there, outbound only, and polls as a safety net.
    """
    local = sandbox is not None or (url is not None and is_loopback(urlsplit(url).hostname or ""))
    default = notifications == "relay" or default_relay_set()

    def way(relay: bool) -> Way:  # for a listener of its own, not started yet: its words are never shown
        return plan(notifications, local=local, listener="", relay="offered" if relay else None).way

    first = way(default or url is not None)
    if first != "relay":
        return Listener(EventLog(), reuse=False) if first == "direct" else None
    channel = None
    if url is not None:
        with contextlib.suppress(ValueError, httpx.HTTPError):  # else not a qodlab API: as for any other
            channel = new_channel(f"{url.rstrip('/')}/_relay", timeout=5.0)
    if channel is None and way(default) != "relay":
        return None
    with warnings.catch_warnings():  # the Workbench says what a refusing relay means for it
        warnings.simplefilter("ignore", RelayRefuses)
        return Listener(EventLog(), relay=channel or True, reuse=False)


_started: list[Sandbox] = []  # the sandbox dashboard() started, which the next dashboard() call may reuse


def _own_sandbox(speed: float) -> Sandbox:
    """The sandbox an earlier dashboard() started, at `speed`; else a new one. Never one the user started:
    its speed stays theirs (`Sandbox(...)` there would give or restart the user's own)."""
    if _started and _started[-1].running:
        _started[-1].speed = speed  # ours: shared only by dashboards
        return _started[-1]
    _started[:] = [Sandbox(speed=speed, reuse=False)]
    return _started[0]


def default_relay_set() -> bool:
    """Whether the user named a relay server ($QODLAB_RELAY)."""
    return bool(os.environ.get("QODLAB_RELAY"))


def _timeline_state(timeline: TimelinePlot | None) -> str:
    """The header's word on the timeline: a picture, and why; the frontend when the kernel can tell."""
    if timeline is None:
        return ""
    where = f" ({html.escape(timeline.frontend)})" if timeline.frontend else ""
    if timeline.renderer == "png":
        return f" &middot; <span class='qodlab-renderer'>timeline: a picture{where}</span>"
    return f" &middot; <span class='qodlab-renderer'>timeline: interactive{where}</span>" if where else ""
