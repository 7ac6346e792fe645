"""Session status timelines: a live plotly `TimelinePlot` and a static `timeline_png`.

Both draw the same thing from `EventLog.intervals()`: one row per session, a coloured bar per
status interval (REQUESTED, AVAILABLE, UNAVAILABLE; statusInfo in the hover), and a "now" line.
Open intervals run to "now"; an UNAVAILABLE one is drawn as a short marker, since the session has
ended.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .models import QosStatus

if TYPE_CHECKING:
    from .eventlog import EventLog
    from .notifications import StatusEvent

__all__ = ["COLORS", "TimelinePlot", "timeline_frame", "timeline_png"]

COLORS = {
    QosStatus.REQUESTED.value: "#f2a93b",  # amber: asked for, not yet provided
    QosStatus.AVAILABLE.value: "#2ca02c",  # green: the network provides it
    QosStatus.UNAVAILABLE.value: "#d62728",  # red: ended
}
_ENDED_WIDTH = 0.02  # share of the visible span an ended (UNAVAILABLE) marker takes
_ANCHOR = "now"  # the name of the invisible trace that keeps the live x axis a date axis


@dataclass(frozen=True)
class Bars:
    """What a timeline draws, per status: rows, starts, lengths and hover texts."""

    labels: list[str]  # one per session, top to bottom
    by_status: dict[str, pd.DataFrame]  # columns: row, label, start, seconds, hover
    now: datetime


def timeline_frame(intervals: pd.DataFrame, now: datetime | None = None) -> Bars:
    """Turn status intervals into bars: open ones end at `now`, ended ones are short markers."""
    latest = intervals["start"].max() if len(intervals) else None
    wall = datetime.now(UTC)
    now = now or (max(wall, latest.to_pydatetime()) if latest is not None and not pd.isna(latest) else wall)
    now_ts = pd.Timestamp(now)
    order = list(dict.fromkeys(intervals["session_id"].astype(str)))
    rows = {sid: i for i, sid in enumerate(order)}
    frame = intervals.assign(session=intervals["session_id"].astype(str))
    start = frame["start"]
    span = (now_ts - start.min()).total_seconds() if len(frame) else 0.0
    ended_seconds = max(0.001, span * _ENDED_WIDTH)
    end = frame["end"].fillna(now_ts)
    seconds = (end - start).dt.total_seconds().to_numpy(dtype=float)
    is_ended = (frame["qos_status"].astype(str) == QosStatus.UNAVAILABLE.value).to_numpy()
    seconds = np.where(is_ended & frame["end"].isna().to_numpy(), ended_seconds, np.maximum(seconds, 0.0))
    info = frame["status_info"].astype(object).where(frame["status_info"].notna(), "")
    hover = (
        frame["session"] + "<br>" + frame["qos_status"].astype(str)
        + np.where(info != "", " / " + info.astype(str), "")
        + "<br>from " + start.dt.strftime("%H:%M:%S") + " for " + pd.Series(seconds).round(1).astype(str).values + " s"
    )  # fmt: skip
    table = pd.DataFrame({
        "row": frame["session"].map(rows).to_numpy(), "label": frame["session"].str.slice(0, 8).to_numpy(),
        "start": start.to_numpy(), "seconds": seconds, "hover": hover.to_numpy(),
        "status": frame["qos_status"].astype(str).to_numpy(),
    })  # fmt: skip
    by_status = {status: table[table["status"] == status] for status in COLORS}
    return Bars([sid[:8] for sid in order], by_status, now)


class TimelinePlot:
    """A plotly FigureWidget of a log's session timelines; `update()` redraws it from the log.

    Give it to a `Pump` (or call `update()` yourself): redraws replace the traces' data in one
    batch, so memory stays flat however many redraws happen.
    """

    def __init__(
        self,
        log: EventLog,
        now: Callable[[], datetime] | None = None,
        height: int = 360,
        axis_title: str = "time (UTC)",
    ) -> None:
        import plotly.graph_objects as go

        self.log = log
        self.now = now
        self.redraws = 0
        # Trace 0 anchors the x axis as a date axis (see `update`); then one bar trace per status.
        anchor = go.Scatter(
            name=_ANCHOR, x=[], y=[], mode="markers", marker={"opacity": 0}, hoverinfo="skip", showlegend=False
        )
        self.widget = go.FigureWidget(
            data=[anchor] + [
                go.Bar(name=status, orientation="h", marker_color=color, hoverinfo="text", x=[], y=[], base=[])
                for status, color in COLORS.items()
            ],
            layout=go.Layout(
                barmode="overlay", height=height, margin={"l": 90, "r": 20, "t": 40, "b": 40},
                xaxis={"type": "date", "title": axis_title}, yaxis={"autorange": "reversed", "title": "session"},
                legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"},
                title={"text": "QoS session status", "font": {"size": 14}, "x": 0, "xref": "paper", "y": 0.98},
            ),
        )  # fmt: skip
        self.widget.add_class("qodlab-timeline") if hasattr(self.widget, "add_class") else None
        self.update()

    def __call__(self, batch: list[StatusEvent]) -> None:
        """Pump view: redraw after a batch of events."""
        self.update()

    def update(self) -> None:
        """Redraw from the log's current intervals."""
        bars = timeline_frame(self.log.intervals(), self.now() if self.now else None)
        with self.widget.batch_update():
            # plotly.js forgets an axis type whenever a trace's x or y is restyled (it re-guesses it
            # from the first trace with x data), and bar lengths are plain numbers: without an
            # anchor trace holding a time, the live axis turns linear. The browser test checks it.
            anchor, *statuses = self.widget.data
            anchor.x = [_iso(bars.now)]
            anchor.y = bars.labels[:1] or [None]
            for trace in statuses:
                part = bars.by_status[trace.name]
                # Bases as ISO strings, which a date axis reads as times; the other columns as numpy
                # arrays, validated in bulk.
                trace.y = part["label"].to_numpy(dtype=object)
                trace.base = part["start"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").tolist() if len(part) else []
                trace.x = (part["seconds"] * 1000).to_numpy(dtype=float)  # lengths on a date axis: ms
                trace.hovertext = part["hover"].to_numpy(dtype=object)
            self.widget.layout.shapes = [{
                "type": "line", "xref": "x", "yref": "paper", "x0": _iso(bars.now), "x1": _iso(bars.now),
                "y0": 0, "y1": 1,
                "line": {"color": "#555", "dash": "dot", "width": 1},
            }]  # fmt: skip
            self.widget.layout.yaxis.categoryarray = bars.labels
        self.redraws += 1


def _iso(when: datetime) -> str:
    """A time as plotly's date axes read it: UTC, no offset."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def timeline_png(
    log: EventLog, now: datetime | None = None, width: float = 9.0, axis_title: str = "time (UTC)"
) -> bytes:
    """The timeline as a PNG, drawn with matplotlib's object API on Agg (no pyplot, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    bars = timeline_frame(log.intervals(), now)
    height = 1.4 + 0.35 * max(1, len(bars.labels))
    figure = Figure(figsize=(width, min(height, 40)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for status, part in bars.by_status.items():
        if len(part):
            starts = date2num(pd.to_datetime(part["start"], utc=True).dt.tz_localize(None).to_numpy())  # type: ignore[no-untyped-call]
            axes.barh(
                part["row"].to_numpy(),
                part["seconds"].to_numpy() / 86400,
                left=starts,
                color=COLORS[status],
                height=0.6,
            )
    axes.axvline(
        float(date2num(pd.Timestamp(bars.now).tz_convert(None).to_datetime64())),  # type: ignore[no-untyped-call]
        color="#555",
        linestyle=":",
        linewidth=1,
    )
    axes.set_yticks(range(len(bars.labels)), bars.labels)
    axes.set_ylim(len(bars.labels) - 0.5, -0.5)
    axes.xaxis_date()
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M:%S"))  # type: ignore[no-untyped-call]
    axes.set_xlabel(axis_title)
    axes.set_title("QoS session status", fontsize=11, loc="left")
    axes.legend(
        handles=[Patch(color=c, label=s) for s, c in COLORS.items()],
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=3,
        frameon=False,
        fontsize=8,
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
