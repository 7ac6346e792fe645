"""`timeline_png`: the same drawing as `TimelinePlot`, as a PNG (matplotlib's object API on Agg).

The time axis reads at any span (matplotlib's `AutoDateLocator` and `ConciseDateFormatter`: times
within a day, dates where the span crosses days, the date or year it leaves out beside the axis).
Each PNG carries what it shows (`describe`), read back from the drawn figure, in a text chunk.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InvalidRequest
from ..models import QosProfile, SessionInfo
from .colors import COLORS, EDGE, LINE_COLORS, NOTE, NOW, PROMISE
from .frame import EMPTY, ENDINGS, Timeline, timeline_frame
from .metrics import MetricsSource, known_sessions, metric_rows, missing

if TYPE_CHECKING:
    from ..eventlog import EventLog

__all__ = ["timeline_figure", "timeline_png"]


def timeline_png(
    log: EventLog,
    now: datetime | None = None,
    width: float = 9.0,
    axis_title: str = "time (UTC)",
    *,
    sessions: Mapping[str, SessionInfo] | None = None,
    metrics: MetricsSource | None = None,
    profiles: Mapping[str, QosProfile] | None = None,
    groups: Mapping[str, str] | None = None,
    max_rows: int | None = None,
    dpi: int = 100,
) -> bytes:
    """The timeline (and, given `metrics`, the link under it) as a PNG: no pyplot, no display.

    Rows are labelled by device and profile from `sessions` and, when `metrics` is a sandbox, from
    what it knows of the sessions it served. `max_rows` keeps the newest sessions' rows only (a
    live picture: at 1,000 sessions every row took 10 s to draw), and says how many it left out in
    the title. `qodlab.plots.describe(png)` reads back what the picture shows.

    Raises InvalidRequest (field `sessions`) when `metrics` is given but no session on the timeline
    has a known device: its link rows would be empty.
    """
    figure = timeline_figure(
        log,
        now,
        width,
        axis_title,
        sessions=sessions,
        metrics=metrics,
        profiles=profiles,
        groups=groups,
        max_rows=max_rows,
        dpi=dpi,
    )
    return _png(figure)


def timeline_figure(
    log: EventLog,
    now: datetime | None = None,
    width: float = 9.0,
    axis_title: str = "time (UTC)",
    *,
    sessions: Mapping[str, SessionInfo] | None = None,
    metrics: MetricsSource | None = None,
    profiles: Mapping[str, QosProfile] | None = None,
    groups: Mapping[str, str] | None = None,
    max_rows: int | None = None,
    dpi: int = 100,
    say_missing: bool = False,
) -> Any:
    """`timeline_png`'s drawing as a matplotlib Figure (on an Agg canvas), to adjust or save yourself.

    `say_missing`: write what the link rows lack in them instead of raising (the live picture).
    """
    sessions = known_sessions(metrics, sessions, log.sessions())
    timeline = timeline_frame(log.intervals(), now, sessions, groups)
    lacking = missing(metrics, timeline, sessions) if metrics is not None else None
    if lacking is not None and not say_missing:
        raise InvalidRequest(lacking, "sessions")
    timeline, hidden = _kept(timeline, max_rows)
    return _figure(
        timeline,
        hidden,
        width,
        axis_title,
        sessions=sessions,
        metrics=metrics,
        profiles=profiles,
        lacking=lacking,
        live=max_rows is not None,
        dpi=dpi,
    )


def _kept(timeline: Timeline, max_rows: int | None) -> tuple[Timeline, int]:
    """The timeline with its newest `max_rows` rows, and how many it left out."""
    if max_rows is None or len(timeline.labels) <= max_rows:
        return timeline, 0
    return _newest(timeline, max_rows), len(timeline.labels) - max_rows


def _figure(
    timeline: Timeline,
    hidden: int,
    width: float,
    axis_title: str,
    *,
    sessions: Mapping[str, SessionInfo],
    metrics: MetricsSource | None,
    profiles: Mapping[str, QosProfile] | None,
    lacking: str | None,
    live: bool,
    dpi: int,
) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    engine = getattr(metrics, "engine", None)
    profiles = profiles or (engine.profiles if engine is not None else {})
    series, targets = metric_rows(metrics, timeline, sessions, profiles) if metrics is not None else ([], None)
    rows = len(timeline.labels)
    status_height = 1.2 + 0.32 * max(1, rows)
    heights = [status_height] + ([1.6, 1.6] if metrics is not None else [])
    inches = sum(heights) + (1.2 if metrics is not None else 0.6)  # the title; and the link panels' legends
    figure = Figure(figsize=(width, min(inches, 40)), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    _status(axes[0], timeline)
    if metrics is not None:
        _metrics(axes[1], axes[2], series, targets)
        if lacking is not None:
            _say(axes[1:], lacking)
    bottom = axes[-1]
    if timeline.x_range is None:
        axes[0].text(0.5, 0.5, EMPTY, ha="center", va="center", transform=axes[0].transAxes, color=NOTE)
        for ax in axes:
            ax.set_axis_off()
    else:
        _time_axis(bottom, timeline.x_range)
        bottom.set_xlabel(axis_title)
    title = "QoS session status" + (" and the link" if metrics is not None else "")
    title += f"\nthe newest {len(timeline.labels)} sessions of {len(timeline.labels) + hidden}" if hidden else ""
    figure.suptitle(title, fontsize=11, x=0.01, ha="left")  # the figure's: the legend sits above the axes, right
    _lay_out(figure, inches, live)
    return figure


def _say(axes: Any, text: str) -> None:
    """Write `text` across each of `axes` (what a link row needs, instead of an empty panel)."""
    for ax in axes:
        ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=NOTE, fontsize=7, wrap=True)


def _lay_out(figure: Any, height: float, live: bool) -> None:
    """Fit the axes in the figure, `height` inches tall: tightly, or for a live picture with fixed margins."""
    if not live:
        figure.tight_layout()
    else:  # a live picture: fixed margins (tight_layout draws the whole figure once more, ~40% of the time)
        figure.subplots_adjust(left=0.24, right=0.98, top=1 - 0.75 / height, bottom=0.5 / height, hspace=0.5)


def _time_axis(bottom: Any, x_range: tuple[datetime, datetime]) -> None:
    """The bottom axes' limits and date ticks (the axes share them)."""
    from matplotlib.dates import HOURLY, MINUTELY, SECONDLY, AutoDateLocator

    bottom.set_xlim(*(_num(t) for t in x_range))
    bottom.xaxis_date()
    locator = AutoDateLocator(minticks=5, maxticks=9)  # type: ignore[no-untyped-call]
    # matplotlib's steps of 1 then 5 seconds (or minutes) left two ticks in view over 10 s or 13 min;
    # with 2 between them there are at least three at any span. A last step of a minute (an hour, a
    # day) where its own ran out: over 4.5 minutes or 4.6 days it warned "unable to pick an interval"
    locator.intervald[SECONDLY] = [1, 2, 5, 10, 15, 30, 60]
    locator.intervald[MINUTELY] = [1, 2, 5, 10, 15, 30, 60]
    locator.intervald[HOURLY] = [1, 2, 3, 4, 6, 12, 24]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(_ticks(locator, *x_range))


def _png(figure: Any) -> bytes:
    """The figure drawn once, as a PNG whose `qodlab` text chunk holds `describe(figure)` (JSON, ASCII)."""
    figure.canvas.draw()
    return _encoded(figure)


def _encoded(figure: Any, compress_level: int = 6) -> bytes:
    """What the figure's canvas holds (drawn), as a PNG carrying `describe(figure)`.

    `compress_level` 3 (the live picture) encodes in 2/3 of the time of zlib's default 6, 3% larger."""
    import json

    from matplotlib.image import imsave

    from .describe import describe

    what = json.dumps(describe(figure, drawn=True), ensure_ascii=True)
    buffer = io.BytesIO()
    # what savefig does for a PNG, without drawing again: the description needs the drawn tick labels
    imsave(
        buffer,
        figure.canvas.buffer_rgba(),
        format="png",
        origin="upper",
        dpi=figure.dpi,
        metadata={"Software": "qodlab", "qodlab": what},
        pil_kwargs={"compress_level": compress_level},
    )
    return buffer.getvalue()


class LivePicture:
    """The live timeline's picture, redrawn (`TimelinePlot` where plotly's widget cannot render).

    Its figure is kept while its rows, title and panels stay the same: what does not move (row
    labels, legend, title, frame) is drawn once and kept as a background; a redraw restores it and
    draws only the bars, markers, "now" line and time axes over it (Agg's `restore_region`, as
    matplotlib's blitting does). Rebuilding the figure each time took 3x as long, most of it
    laying out and rendering the same text. With `metrics`, the link panels change on every redraw:
    the picture is drawn whole.
    """

    def __init__(self, max_rows: int, dpi: int = 80) -> None:
        self.max_rows, self.dpi = max_rows, dpi
        self._figure: Any = None
        self._key: tuple[Any, ...] | None = None
        self._background: Any = None
        self._marks: list[Any] = []
        self.rebuilds = 0  # how many times the figure was built (tests, benchmarks)

    def png(
        self,
        log: EventLog,
        now: datetime | None = None,
        *,
        sessions: Mapping[str, SessionInfo] | None = None,
        metrics: MetricsSource | None = None,
        profiles: Mapping[str, QosProfile] | None = None,
        groups: Mapping[str, str] | None = None,
    ) -> bytes:
        if metrics is not None:
            return _png(
                timeline_figure(
                    log,
                    now,
                    sessions=sessions,
                    metrics=metrics,
                    profiles=profiles,
                    groups=groups,
                    max_rows=self.max_rows,
                    dpi=self.dpi,
                    say_missing=True,
                )
            )
        given = sessions or {}
        timeline, hidden = _kept(timeline_frame(log.intervals(), now, given, groups), self.max_rows)
        key = (tuple(timeline.labels), hidden, timeline.x_range is None)
        if key != self._key:
            self._build(timeline, hidden, given)
            self._key = key
        figure = self._figure
        canvas = figure.canvas
        canvas.restore_region(self._background)
        axes = figure.get_axes()
        for mark in self._marks:
            mark.remove()
        self._marks = _marks(axes[0], timeline)
        if timeline.x_range is not None:
            _time_axis(axes[-1], timeline.x_range)
        for mark in self._marks:
            axes[0].draw_artist(mark)
        for ax in axes:
            if ax.axison:
                ax.draw_artist(ax.xaxis)
        return _encoded(figure, compress_level=3)

    def _build(self, timeline: Timeline, hidden: int, sessions: Mapping[str, SessionInfo]) -> None:
        """A new figure, drawn without what moves, kept as the background."""
        figure = _figure(
            timeline,
            hidden,
            9.0,
            "time (UTC)",
            sessions=sessions,
            metrics=None,
            profiles=None,
            lacking=None,
            live=True,
            dpi=self.dpi,
        )
        axes = figure.get_axes()
        moving = list(axes[0].collections) + [line for line in axes[0].get_lines() if line.get_gid() == "now"]
        for artist in moving:
            artist.remove()
        for ax in axes:
            ax.xaxis.set_visible(False)
        figure.canvas.draw()
        self._background = figure.canvas.copy_from_bbox(figure.bbox)
        for ax in axes:
            ax.xaxis.set_visible(True)
        self._figure, self._marks = figure, []
        self.rebuilds += 1


def _ticks(locator: Any, start: datetime, end: datetime) -> Any:
    """matplotlib's concise dates, with every tick label distinct: seconds ticks read `17:10:40`, not `40`
    (a minute and a half read 40, 50, 17:11, 10, 20, 30, 40), and where the span crosses midnight
    each time says its day under it (hours ticks over days read 06:00 on each), months their year."""
    from matplotlib.dates import ConciseDateFormatter

    day = "\n%b %d" if start.date() != end.date() else ""
    year = "\n%Y" if start.year != end.year else ""
    formats = ["%Y", "%b" + year, "%b %d", "%H:%M" + day, "%H:%M" + day, "%H:%M:%S.%f" + day]
    return ConciseDateFormatter(locator, formats=formats)  # type: ignore[no-untyped-call]


def _newest(timeline: Timeline, rows: int) -> Timeline:
    """The same timeline with only its last `rows` rows (the newest sessions), renumbered from 0."""
    first = len(timeline.labels) - rows

    def kept(part: pd.DataFrame) -> pd.DataFrame:
        part = part[part["row"] >= first].copy()
        part["row"] -= first
        return part

    return replace(
        timeline,
        labels=timeline.labels[first:],
        sessions=timeline.sessions[first:],
        bars={status: kept(part) for status, part in timeline.bars.items()},
        endings={reason: kept(part) for reason, part in timeline.endings.items()},
    )


def _status(axes: Any, timeline: Any) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    _marks(axes, timeline)
    handles: list[Any] = [Patch(color=COLORS[s], label=s) for s in timeline.bars]
    for _, marker, words in ENDINGS.values():
        handles.append(
            Line2D(
                [],
                [],
                marker=marker,
                linestyle="",
                color=COLORS["UNAVAILABLE"],
                markeredgecolor=EDGE,
                label=f"ended: {words}",
            )
        )
    axes.set_yticks(range(len(timeline.labels)), timeline.labels, fontsize=8)
    if timeline.labels:
        axes.set_ylim(len(timeline.labels) - 0.5, -0.5)
    axes.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, frameon=False, fontsize=7)


def _marks(axes: Any, timeline: Any) -> list[Any]:
    """What moves from one redraw to the next: the bars, the end markers and the "now" line."""
    marks = [
        axes.add_collection(_bars(part, COLORS[status]), autolim=False)
        for status, part in timeline.bars.items()
        if len(part)
    ]
    for reason, (_, marker, _words) in ENDINGS.items():
        part = timeline.endings[reason]
        if len(part):
            marks.append(
                axes.scatter(
                    _nums(part["time"]),
                    part["row"].to_numpy(),
                    marker=marker,
                    s=60,
                    color=COLORS["UNAVAILABLE"],
                    edgecolors=EDGE,
                    linewidths=0.8,
                    zorder=3,
                )
            )
    if timeline.live:
        marks.append(axes.axvline(_num(timeline.now), color=NOW, linestyle=":", linewidth=1, gid="now"))
    return marks


def _bars(part: pd.DataFrame, color: str) -> Any:
    """One status's bars as one collection (`gid="bars"`, which `describe` counts): `barh` made a patch per
    bar and updated the data limits for each, half of a 30-row live picture's redraw."""
    from matplotlib.collections import PolyCollection

    left, rows = _nums(part["start"]), part["row"].to_numpy(dtype=float)
    right = left + part["seconds"].to_numpy() / 86400
    low, high = rows - 0.3, rows + 0.3
    corners = np.stack([np.column_stack(c) for c in ((left, low), (left, high), (right, high), (right, low))], axis=1)
    return PolyCollection(list(corners), facecolors=color, edgecolors="none", gid="bars")


def _metrics(down: Any, late: Any, series: list[Any], targets: Any) -> None:
    for i, device in enumerate(series):
        frame = device.frame
        if len(frame):
            down.plot(
                _nums(frame["time"]), frame["downlink_mbps"].to_numpy(), color=LINE_COLORS[i], lw=1, label=device.label
            )
            late.plot(
                _nums(frame["time"]), frame["latency_ms"].to_numpy(), color=LINE_COLORS[i], lw=1, label=device.label
            )
    x = _nums(pd.Series(pd.to_datetime(targets.x, utc=True)))  # None (the gaps) become NaT, then NaN
    for ax, values, what in (
        (down, targets.downlink, "profile's target minimum rate"),
        (late, targets.latency, "delay budget"),
    ):
        if len(x) and not np.isnan(values).all():
            ax.plot(x, values, color=PROMISE, ls="--", lw=1.2, label=what)  # NaN breaks the line between sessions
    down.set_ylabel("downlink (Mbps)", fontsize=8)
    late.set_ylabel("latency (ms)", fontsize=8)
    if series or len(targets.x):  # each legend above its panel, where no line can run under it
        handles = down.get_lines()
        down.legend(handles=handles, ncol=min(4, len(handles)), **_ABOVE)
        budget = [line for line in late.get_lines() if line.get_label() == "delay budget"]  # devices: see above
        if budget:
            late.legend(handles=budget, **_ABOVE)


_ABOVE: dict[str, Any] = {"loc": "lower left", "bbox_to_anchor": (0.0, 1.0), "fontsize": 7, "frameon": False}


def _nums(times: pd.Series) -> Any:
    from matplotlib.dates import date2num

    return date2num(pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy())  # type: ignore[no-untyped-call]


def _num(when: datetime) -> float:
    from matplotlib.dates import date2num

    return float(date2num(pd.Timestamp(when).tz_convert(None).to_datetime64()))  # type: ignore[no-untyped-call]
