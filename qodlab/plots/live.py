"""`TimelinePlot`: a live plotly FigureWidget of the sessions' status, and of their links under it.

Where plotly's widget cannot render (a JupyterHub kernel whose server has no plotly or anywidget
extension, VS Code offline or behind a proxy, Colab), the same timeline is shown as a picture
(`timeline_png`) that needs nothing but core ipywidgets. The kernel can tell: once plotly.js has
drawn the figure, the browser sends its layout back (`_js2py_layoutDelta`). If none has come
`detect_after` seconds after the view was shown, or on a frontend known not to render it (Colab),
or when asked (`renderer="png"`), the view switches to the picture, redrawn by the pump at most
twice a second while anything is live, with a line saying why and how to get the interactive one.
"""

from __future__ import annotations

import base64
import copy
import functools
import html
import os
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from .._jsonschema import without_iri_grammar
from ..models import QosProfile, SessionInfo
from ..notebook.extras import require_notebook_extra
from .colors import COLORS, EDGE, LINE_COLORS, NOTE, NOW, PROMISE
from .frame import EMPTY, ENDINGS, Timeline, iso_times, timeline_frame
from .metrics import MAX_DEVICES, MetricsSource, known_sessions, metric_rows, missing
from .static import LivePicture

if TYPE_CHECKING:
    from ..eventlog import EventLog
    from ..notifications import StatusEvent

__all__ = ["EMPTY", "LINE_COLORS", "TICK_FORMATS", "Groups", "Renderer", "Sessions", "TimelinePlot", "frontend"]

Renderer = Literal["auto", "widget", "png"]
PNG_INTERVAL = 0.5  # seconds between two redraws of the picture: at most twice a second
ROW_PX, FRAME_PX = 16, 200  # the live figure's least height a row; its title, axis, legend (up to 5 lines)
PNG_ROWS = 30  # the newest sessions the picture shows (every row of 1,000 took 10 s to draw)
HOW_TO = (
    "For the interactive plot, install the plotly and anywidget extensions where the Jupyter server runs "
    "(pip install plotly anywidget in the server's environment), then reload the page."
)


# plotly draws its text and grid in the colours of its template; in a dark JupyterLab they follow the
# theme instead (the hover labels keep plotly's colours: they sit on the trace's own colour).
_AXES = ".qodlab-timeline .main-svg"
FIGURE_STYLE = f"""<style>
{_AXES} .xaxislayer-above text, {_AXES} .yaxislayer-above text, {_AXES} .infolayer text,
{_AXES} .annotation-text {{fill: var(--jp-ui-font-color1, #2a3f5f) !important}}
{_AXES} .gridlayer path, {_AXES} .zerolinelayer path {{stroke: var(--jp-border-color2, #ebf0f8) !important}}
</style>"""


def frontend() -> tuple[str | None, bool]:
    """(the frontend, if the kernel can tell, whether it is known not to render plotly's widget)."""
    if "google.colab" in sys.modules:
        return "Google Colab", True  # custom widgets need its widget manager; plotly's is reported not to work
    if "VSCODE_PID" in os.environ or "VSCODE_CWD" in os.environ:
        return "VS Code", False  # renders it when anywidget's JavaScript can be fetched: the detection decides
    return None, False


Sessions = Mapping[str, SessionInfo] | Callable[[], Mapping[str, SessionInfo]]
Groups = Mapping[str, str] | Callable[[], Mapping[str, str]]
# The time axis at each zoom level: plotly.js writes what follows "\n" (the date) under the first tick
# and wherever it changes, so ticks read at any span (a multi-day log never reads 00:00 six times).
TICK_FORMATS = (
    {"dtickrange": [None, 1000], "value": "%H:%M:%S.%L\n%b %-d, %Y"},
    {"dtickrange": [1000, 60000], "value": "%H:%M:%S\n%b %-d, %Y"},
    {"dtickrange": [60000, 86399000], "value": "%H:%M\n%b %-d, %Y"},  # (a day apart: the dates alone)
    {"dtickrange": [86400000, "M1"], "value": "%b %-d\n%Y"},
    {"dtickrange": ["M1", None], "value": "%b\n%Y"},
)
_ANCHOR = "now"  # the name of the invisible traces that keep every x axis a date axis


class TimelinePlot:
    """A plotly FigureWidget of a log's session timelines; `update()` redraws it from the log.

    Parameters:
        sessions: the sessions' SessionInfo by id (or a callable giving them, e.g. a Workbench's
            `infos`), so rows read `+3672…567 · QOS_L` instead of an id.
        metrics: a sandbox (or a callable, or one device's DataFrame) whose link metrics are drawn
            in rows under the timeline, sharing its time axis: the devices of the newest sessions
            (up to six), known from `sessions` and what a sandbox knows of the sessions it served;
            where none is known, the rows say what to pass.
        profiles: the catalogue, for the promises drawn while sessions are up (a sandbox's by default).
        groups: each session's group by id (or a callable giving them, e.g. a classroom's
            owners): rows are grouped by it and labelled `student-01 · +3672…567 · QOS_L`.

    Give it to a `Pump` (or call `update()` yourself): redraws replace the traces' data in one
    batch, on a fixed set of traces, so memory stays flat however many redraws happen.
    """

    def __init__(
        self,
        log: EventLog,
        now: Callable[[], datetime] | None = None,
        height: int | None = None,
        axis_title: str = "time (UTC)",
        *,
        sessions: Sessions | None = None,
        metrics: MetricsSource | None = None,
        profiles: Mapping[str, QosProfile] | None = None,
        groups: Groups | None = None,
        title: str | None = None,
        renderer: Renderer = "auto",
        detect_after: float = 10.0,
    ) -> None:
        require_notebook_extra("qodlab.TimelinePlot (the live timeline; qodlab.timeline_png draws one without it)")
        import ipywidgets as w

        self.log = log
        self.now = now
        self.sessions = sessions
        self.groups = groups
        self.metrics = metrics
        engine = getattr(metrics, "engine", None)
        self.profiles: Mapping[str, QosProfile] = profiles or (engine.profiles if engine is not None else {})
        self.redraws = 0
        rows = 3 if metrics is not None else 1
        self._height = height or (360 if rows == 1 else 560)
        figure = _timeline_figure(rows, axis_title, title, self._height)
        self.widget = _figure_widget_class()(figure)
        """plotly's FigureWidget (the interactive timeline)."""
        self.picture = w.HTML("")
        self.picture.add_class("qodlab-timeline-picture")
        self.note = w.HTML("")
        self.view = w.VBox([w.HTML(FIGURE_STYLE, layout={"height": "0px"}), self.widget])
        """What to display: the FigureWidget, or the picture where it cannot render."""
        self.view.add_class("qodlab-timeline")
        self._png_at = 0.0
        self._png_key = -1
        self._empty_span = False  # whether the empty timeline's axes were given their span around now
        self._picture = LivePicture(PNG_ROWS, dpi=80)  # its figure and background, kept between redraws
        self._watch_rendering(renderer, detect_after)
        self.update()

    def _watch_rendering(self, renderer: Renderer, detect_after: float) -> None:
        """Start as the widget or the picture, and listen for the browser's sign that it drew the widget."""
        self.rendered = False
        """Whether a browser has drawn the interactive figure (it sent its layout back)."""
        self.poke: Callable[[], None] | None = None
        """A pump's `poke`: the switch to the picture happens on the pump's thread."""
        self.detect_after = detect_after
        self.renderer: Literal["widget", "png"] = "widget"
        self.reason: str | None = None
        """Why the timeline is a picture (None while interactive)."""
        self.frontend, blind = frontend()
        self._wanted: str | None = None  # a switch to the picture asked for, with its reason
        self._timer: threading.Timer | None = None
        self.widget.observe(self._drawn, names=["_js2py_layoutDelta", "_js2py_traceDeltas"])
        self.widget.on_state_request = self._connected
        if renderer == "png":
            self._switch("the picture was asked for (renderer='png')")
        elif renderer == "auto" and blind:
            self._switch(f"{self.frontend} does not render plotly's widget")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        self.shown()
        display(self.view)  # type: ignore[no-untyped-call]

    def shown(self) -> None:
        """The view is on a page now: unless the figure is drawn within `detect_after` s, use the picture."""
        if self.renderer == "widget" and not self.rendered and self._timer is None:
            self._timer = threading.Timer(self.detect_after, self._undrawn)
            self._timer.daemon = True
            self._timer.start()

    def _connected(self) -> None:
        """A page asked for the widgets' whole state (Voila after running the notebook, a reload): it
        gets `detect_after` seconds of its own to draw the figure."""
        timer = self._timer
        if timer is not None and not self.rendered and self.renderer == "widget":
            timer.cancel()
            self._timer = None
            self.shown()

    def _drawn(self, change: Any) -> None:
        if change.get("new") is not None:
            self.rendered = True

    def _undrawn(self) -> None:
        if self.rendered:
            return
        where = f" in {self.frontend}" if self.frontend else ""
        self._wanted = f"plotly's widget did not render{where} within {self.detect_after:g} s"
        if self.poke is not None:
            self.poke()  # the pump switches (one thread writes to widgets)
        else:
            self.update()

    def _switch(self, reason: str) -> None:
        self.renderer, self.reason, self._wanted = "png", reason, None
        self.note.value = (
            f"<small style='color:var(--qodlab-muted, #595959)'>The timeline is a picture here: {html.escape(reason)}. "
            f"{html.escape(HOW_TO)}</small>"
        )
        self.view.children = [self.view.children[0], self.note, self.picture]
        self._png_at, self._png_key = 0.0, -1

    def __call__(self, batch: list[StatusEvent]) -> None:
        """Pump view: redraw after a batch of events."""
        self.update()

    def update(self) -> None:
        """Redraw from the log's current intervals (and the metrics source)."""
        if self._wanted is not None:
            self._switch(self._wanted)
        if self.renderer == "png":  # the figure's model stays current too (a page that renders it later, tests)
            self._draw_picture()
        sessions = self._sessions()
        groups = self.groups() if callable(self.groups) else self.groups
        timeline = timeline_frame(self.log.intervals(), self.now() if self.now else None, sessions, groups)
        series: list[Any] = []
        targets: Any = None
        lacking = None
        if self.metrics is not None:
            series, targets = metric_rows(self.metrics, timeline, sessions, self.profiles)
            lacking = missing(self.metrics, timeline, sessions)
        traces = list(self.widget.data)
        rows = 3 if self.metrics is not None else 1
        anchors, traces = traces[:rows], traces[rows:]
        bars, traces = traces[:2], traces[2:]
        endings, lines = traces[: len(ENDINGS)], traces[len(ENDINGS) :]
        with self.widget.batch_update():
            _draw_anchors(anchors, timeline)
            _draw_statuses(bars, endings, timeline)
            if self.metrics is not None:
                self._draw_metrics(lines, series, targets)
            self._draw_axes(timeline, rows)
            layout = self.widget.layout
            notes = _notes(timeline.x_range is None, lacking)
            if tuple(a.text for a in layout.annotations) != tuple(n["text"] for n in notes):
                layout.annotations = notes
            layout.shapes = _now_line(timeline)
        self.redraws += 1

    def _draw_axes(self, timeline: Timeline, rows: int) -> None:
        """The rows' labels and the figure's height, and the time axes' span (around now while empty)."""
        layout = self.widget.layout
        empty = timeline.x_range is None
        if tuple(timeline.labels) != tuple(layout.yaxis.categoryarray or ()):
            layout.yaxis.categoryarray = timeline.labels
            # every row named: plotly.js thinned the labels to every 3rd to 5th at 50 rows; the
            # figure grows to ROW_PX a row in its status panel (half of it with the link rows)
            share = 1.0 if rows == 1 else 0.47
            layout.height = max(self._height, round(FRAME_PX + ROW_PX * len(timeline.labels) / share))
        for axis in [layout.xaxis, layout.yaxis]:
            axis.visible = not empty
        if timeline.x_range is not None:
            span = [_iso(timeline.x_range[0]), _iso(timeline.x_range[1])]
            layout.xaxis.range = span
            if rows > 1:  # the link rows' axes too (each was set while empty)
                self.widget.update_xaxes(range=span)
            self._empty_span = False
        elif not self._empty_span:  # the link rows' axis shows: a minute either side of now, not plotly's
            minute = timedelta(minutes=1)  # milliseconds around it; set once, so an idle empty dashboard
            self.widget.update_xaxes(range=[_iso(timeline.now - minute), _iso(timeline.now + minute)])
            self._empty_span = True  # sends nothing a tick and Jupyter's culler sees its kernel idle

    def _draw_picture(self) -> None:
        """The picture, at most every PNG_INTERVAL seconds (a redraw sooner is skipped: the next catches up)."""
        if time.monotonic() - self._png_at < PNG_INTERVAL:
            return
        statuses = self.log.df.groupby("session_id", observed=True)["qos_status"].last() if len(self.log) else None
        live = statuses is not None and bool((statuses != "UNAVAILABLE").any())
        if not live and self._png_key == len(self.log):
            return  # nothing new and nothing live: the picture stands
        sessions = self.sessions() if callable(self.sessions) else (self.sessions or {})
        groups = self.groups() if callable(self.groups) else self.groups
        now = self.now() if self.now else None
        png = self._picture.png(
            self.log,
            now,
            sessions=dict(sessions),
            metrics=self.metrics,
            profiles=self.profiles,
            groups=dict(groups) if groups else None,
        )
        summary = ", ".join(f"{n} {s}" for s, n in statuses.value_counts().items() if n) if statuses is not None else ""
        alt = f"QoS session status timeline: {summary or 'no sessions yet'}"
        self.picture.value = (
            f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}' alt='{html.escape(alt)}' "
            f"title='{html.escape(alt)}' style='max-width:100%'><div class='qodlab-timeline-summary' "
            f"style='font-size:12px;color:var(--jp-ui-font-color1, #333)'>{html.escape(alt)}</div>"
        )
        self._png_at, self._png_key = time.monotonic(), len(self.log)
        self.redraws += 1

    def _sessions(self) -> Mapping[str, SessionInfo]:
        """The sessions given, and what a sandbox metrics source knows of those it served (devices, profiles)."""
        sessions = self.sessions() if callable(self.sessions) else self.sessions
        return known_sessions(self.metrics, sessions, self.log.sessions() if self.metrics is not None else ())

    @staticmethod
    def _draw_metrics(lines: list[Any], series: list[Any], targets: Any) -> None:
        device_lines, promise = lines[: 2 * MAX_DEVICES], lines[2 * MAX_DEVICES :]
        for i in range(MAX_DEVICES):
            down, late = device_lines[2 * i], device_lines[2 * i + 1]
            if i < len(series):
                frame = series[i].frame
                times = iso_times(frame["time"])
                for trace, column in ((down, "downlink_mbps"), (late, "latency_ms")):
                    trace.x, trace.y = times, frame[column].to_numpy(dtype=float)
                    trace.name = series[i].label
                    trace.hovertemplate = f"{series[i].label}: %{{y:.1f}} {trace.meta}<extra></extra>"
                if not down.showlegend:  # the device's name in the legend, once for its two lines
                    down.showlegend = True
            elif len(down.x) or len(late.x):  # (assigning [] to an empty trace still costs a message)
                down.x = down.y = late.x = late.y = []
                down.showlegend = False
        promise[0].x, promise[0].y = targets.x, targets.downlink
        promise[1].x, promise[1].y = targets.x, targets.latency


@functools.cache
def _figure_widget_class() -> type[Any]:
    """plotly's FigureWidget, whose whole state is the figure as it is now.

    plotly sends each change as a one-off restyle or relayout message and keeps the synced snapshot
    of the figure (`_widget_data`, `_widget_layout`) from when it was built or displayed itself. A
    view that connects later asks for every widget's whole state and got that old snapshot: Voila
    renders a page after the notebook ran, a reloaded page reconnects, and a figure inside a box is
    never displayed itself. The classroom view's browser test showed no bars and the old title.

    plotly's widget imports nbformat, hence jsonschema, whose optional `rfc3987-syntax` (installed
    wherever JupyterLab is) compiles 38 grammars at import: 2 to 4 s of every dashboard's first paint
    (Voila included) for an IRI check nothing here uses. It is kept out of that import
    (`qodlab._jsonschema.without_iri_grammar`).
    """
    with without_iri_grammar():
        import plotly.graph_objects as go

        go.FigureWidget  # noqa: B018  # plotly imports it lazily: now, without the grammar

    class LiveFigureWidget(go.FigureWidget):  # type: ignore[misc]
        on_state_request: Callable[[], None] | None = None  # a page connecting (see TimelinePlot._connected)

        def get_state(self, key: Any = None, drop_defaults: bool = False) -> Any:
            if key is None and self.on_state_request is not None:
                self.on_state_request()
            if key is None and "_data" in self.__dict__:  # (not while plotly builds it: it has no figure yet)
                # the snapshot, set without a change message: this answer carries it
                self._trait_values["_widget_data"] = copy.deepcopy(self._data)
                self._trait_values["_widget_layout"] = copy.deepcopy(self._layout_obj._props)
            return super().get_state(key, drop_defaults)

    return LiveFigureWidget


def _timeline_figure(rows: int, axis_title: str, title: str | None, height: int) -> Any:
    """The empty figure: the status panel (and the link's two rows), with every trace a redraw fills."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.5, 0.25, 0.25][:rows]
    )
    # Trace 0 (and one per metrics row) anchors its x axis as a date axis (see `update`).
    for row in range(1, rows + 1):
        figure.add_trace(_anchor(go), row=row, col=1)
    _add_status_traces(figure, go)
    if rows > 1:
        _add_metric_traces(figure, go)
    figure.update_yaxes(autorange="reversed", title_text="session", automargin=True, dtick=1, row=1, col=1)
    figure.update_xaxes(type="date", tickformatstops=list(TICK_FORMATS))
    figure.update_xaxes(title_text=axis_title, row=rows, col=1)
    title = title or "QoS session status" + (" and the link" if rows > 1 else "")
    figure.update_layout(
        template="plotly_white",  # transparent below: the page shows through; FIGURE_STYLE recolours the rest
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        barmode="overlay",
        height=height,
        autosize=True,  # as wide as its cell: plotly.js kept its default 700 px in a 1,000 px JupyterLab cell
        margin={"l": 150, "r": 20, "t": 40, "b": 40},
        # under the time axis, not beside the title: on a narrow page its entries wrapped up into the title
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yanchor": "bottom", "yref": "container"},
        title={"text": title, "font": {"size": 14}, "x": 0, "xref": "paper", "y": 0.99},
    )
    return figure


def _add_status_traces(figure: Any, go: Any) -> None:
    """The status panel's traces: a bar trace for REQUESTED and AVAILABLE, a marker trace per ending."""
    for status in ("REQUESTED", "AVAILABLE"):
        bar = go.Bar(name=status, orientation="h", marker_color=COLORS[status], hoverinfo="text", x=[], y=[], base=[])
        figure.add_trace(bar, row=1, col=1)
    for reason, (symbol, _, words) in ENDINGS.items():
        marker = {"symbol": symbol, "size": 10, "color": COLORS["UNAVAILABLE"], "line": {"width": 1, "color": EDGE}}
        figure.add_trace(
            go.Scatter(
                name=f"UNAVAILABLE: {words}", x=[], y=[], mode="markers", hoverinfo="text", marker=marker, meta=reason
            ),
            row=1,
            col=1,
        )


def _add_metric_traces(figure: Any, go: Any) -> None:
    """The link rows' traces: downlink and latency lines for each of MAX_DEVICES devices, then the promises."""
    for i in range(MAX_DEVICES):
        for row, unit in ((2, "Mbps"), (3, "ms")):
            figure.add_trace(
                go.Scatter(
                    name="",
                    x=[],
                    y=[],
                    mode="lines",
                    line={"color": LINE_COLORS[i], "width": 1.2},
                    showlegend=False,
                    legendgroup=f"device{i}",
                    meta=unit,
                    hovertemplate="%{y:.1f} " + unit,
                ),
                row=row,
                col=1,
            )
    for row, name in ((2, "profile's target minimum rate"), (3, "profile's delay budget")):
        figure.add_trace(
            go.Scatter(
                name=name,
                x=[],
                y=[],
                mode="lines",
                line={"color": PROMISE, "dash": "dash"},
                hoverinfo="skip",
                showlegend=row == 2,
                legendgroup="promise",
            ),
            row=row,
            col=1,
        )
    figure.update_yaxes(title_text="downlink (Mbps)", row=2, col=1)
    figure.update_yaxes(title_text="latency (ms)", row=3, col=1)


def _draw_anchors(anchors: list[Any], timeline: Timeline) -> None:
    """Each x axis's invisible anchor at now, so the axis stays a date axis.

    plotly.js forgets an axis type whenever a trace's x or y is restyled (it re-guesses it from the
    first trace with x data), and bar lengths are plain numbers: without an anchor trace holding a
    time, the live axis turns linear. The browser test checks it.
    """
    for anchor in anchors:  # moved only while something is live: an idle dashboard sends nothing a tick,
        if timeline.live or not anchor.x:  # so Jupyter's culler sees its kernel idle (voila.json)
            anchor.x = [_iso(timeline.now)]
        anchor.y = [None] if anchor is not anchors[0] else (timeline.labels[:1] or [None])


def _draw_statuses(bars: list[Any], endings: list[Any], timeline: Timeline) -> None:
    """The status panel: each status's bars, and each ending's markers."""
    for trace in bars:
        part = timeline.bars[trace.name]
        trace.y = part["label"].to_numpy(dtype=object)
        # Bases as ISO strings, which a date axis reads as times; lengths in ms on a date axis.
        trace.base = iso_times(part["start"])
        trace.x = (part["seconds"] * 1000).to_numpy(dtype=float)
        trace.hovertext = part["hover"].to_numpy(dtype=object)
    for trace in endings:
        part = timeline.endings[trace.meta]
        trace.x = iso_times(part["time"])
        trace.y = part["label"].to_numpy(dtype=object)
        trace.hovertext = part["hover"].to_numpy(dtype=object)


def _notes(empty: bool, lacking: str | None) -> list[dict[str, Any]]:
    """The figure's notes: that it is empty, and in each link row what it needs (never an empty panel)."""
    note = {"text": EMPTY, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.8}
    notes: list[dict[str, Any]] = [{**note, "font": {"size": 13, "color": NOTE}}] if empty else []
    if lacking is not None:
        text = "<br>".join(textwrap.wrap(lacking, 110))
        font = {"size": 11, "color": NOTE}
        notes += [
            {
                "text": text,
                "showarrow": False,
                "x": 0.5,
                "y": 0.5,
                "xref": f"x{row} domain",
                "yref": f"y{row} domain",
                "font": font,
            }
            for row in (2, 3)
        ]
    return notes


def _now_line(timeline: Timeline) -> list[dict[str, Any]]:
    """A dotted line at now while something is live (none otherwise)."""
    if not timeline.live:
        return []
    now = _iso(timeline.now)
    line = {"color": NOW, "dash": "dot", "width": 1}
    return [{"type": "line", "xref": "x", "yref": "paper", "x0": now, "x1": now, "y0": 0, "y1": 1, "line": line}]


def _anchor(go: Any) -> Any:
    return go.Scatter(
        name=_ANCHOR, x=[], y=[], mode="markers", marker={"opacity": 0}, hoverinfo="skip", showlegend=False
    )


def _iso(when: datetime) -> str:
    """A time as plotly's date axes read it: UTC, no offset."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
