"""One timeline update with 1,000 sessions and 10,000 events, and memory as events keep coming.

Times `TimelinePlot.update()` (intervals from the log, then the traces' data replaced in one
batch) against a baseline in the same process: the usual notebook approach of building a new
plotly figure with one bar trace per session. Then the same with rows labelled by device and
profile and the link-metrics rows on (three devices' downlink and latency from the sandbox's link
model, and the profiles' targets under 1,000 sessions). Budget: 100 ms per update; aim: 50 ms.
Then what `metrics=sandbox` without `sessions=` adds to a redraw (the devices, from what the
sandbox knows of 1,000 sessions). Then redraws many times while events keep arriving, and reports
the memory held beyond the log's own growth.

    python benchmarks/timeline.py [--sessions 1000] [--events 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import statistics
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from qodlab import Device, EventLog, SessionInfo, StatusEvent
from qodlab.models import QosStatus, StatusInfo
from qodlab.plots import COLORS, TimelinePlot, timeline_png
from qodlab.plots.live import PNG_ROWS
from qodlab.plots.metrics import known_sessions
from qodlab.plots.static import LivePicture
from qodlab.sandbox import Sandbox
from qodlab.sandbox.engine import StatusChange
from qodlab.sandbox.link import Links
from qodlab.sandbox.profiles import default_profiles

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
STATUSES = [(QosStatus.AVAILABLE, None), (QosStatus.UNAVAILABLE, StatusInfo.DELETE_REQUESTED)]


def fill(log: EventLog, sessions: int, events: int, start: int = 0) -> None:
    for i in range(start, start + events):
        status, info = STATUSES[(i // sessions) % 2]
        log.append(StatusEvent(
            event_id=f"e{i}", session_id=f"session-{i % sessions:05d}", qos_status=status, status_info=info,
            event_time=T0 + timedelta(seconds=i), type="t", source="bench", shape="cloudevent-v1", raw={},
        ), "{}")  # fmt: skip


def infos(sessions: int) -> dict[str, SessionInfo]:
    """What a Workbench knows of each session: its device and profile (three devices take turns)."""
    return {
        f"session-{i:05d}": SessionInfo.model_validate({
            "sessionId": f"00000000-0000-4000-8000-{i:012d}", "duration": 600, "qosStatus": "AVAILABLE",
            "device": {"phoneNumber": f"+3670000{i % 3:04d}"}, "qosProfile": ("QOS_L", "QOS_M", "QOS_E")[i % 3],
        })
        for i in range(sessions)
    }  # fmt: skip


def link_source(seed: int = 1):  # type: ignore[no-untyped-def]
    """A metrics source over the sandbox's link model, for any times (the log's are in the past)."""
    links = Links(default_profiles(), seed=seed)

    def metrics(device: Device, start: datetime, end: datetime) -> pd.DataFrame:
        frame = pd.DataFrame(links.samples(device.identifiers()[0], start.timestamp(), end.timestamp()))
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        return frame

    return metrics


def known(sessions: int) -> None:
    """What a redraw with `metrics=sandbox` adds: the devices of the log's sessions from the sandbox."""
    with Sandbox(speed=60, reuse=False) as sandbox:
        ids = [str(uuid.UUID(int=i)) for i in range(sessions)]
        for i, sid in enumerate(ids):
            sandbox.links.record(StatusChange(
                session_id=uuid.UUID(sid), qos_status=QosStatus.AVAILABLE, status_info=None, time=0.0, sink=None,
                flavor="cloudevent-v1", correlator=None, device=("phoneNumber", f"+3670000{i % 3:04d}"),
                profile="QOS_L",
            ))  # fmt: skip
        first = timed(lambda: known_sessions(sandbox, None, ids), 1)
        given = sandbox.known_sessions()
        again = timed(lambda: known_sessions(sandbox, None, ids), 10)
        dashboard = timed(lambda: known_sessions(sandbox, given, ids), 10)
    print(f"  metrics=sandbox, no sessions=: the devices of {sessions} sessions from the sandbox: first "
          f"{first:.1f} ms, then {again:.2f} ms a redraw; with sessions= (a dashboard) {dashboard:.2f} ms")  # fmt: skip


@contextlib.contextmanager
def bars_as_patches() -> Iterator[None]:
    """The picture's bars drawn as before issue 35: `axes.barh`, a patch per bar (the baseline)."""
    from qodlab.plots import static

    real = static._status

    def old_status(axes: Any, timeline: Any) -> None:
        for status, part in timeline.bars.items():
            if len(part):
                axes.barh(part["row"].to_numpy(), part["seconds"].to_numpy() / 86400, left=static._nums(part["start"]),
                          color=COLORS[status], height=0.6)  # fmt: skip
        empty = {status: part.iloc[:0] for status, part in timeline.bars.items()}
        real(axes, dataclasses.replace(timeline, bars=empty))  # the rest as it is: markers, now, labels, legend

    static._status = old_status  # type: ignore[assignment]
    try:
        yield
    finally:
        static._status = real  # type: ignore[assignment]


def naive(log: EventLog) -> go.Figure:
    """The baseline: a new figure, one trace per session and status."""
    frame = log.intervals()
    figure = go.Figure()
    for (session, status), part in frame.groupby(["session_id", "qos_status"], observed=True):
        end = part["end"].fillna(part["start"].max())
        figure.add_trace(go.Bar(
            y=[session] * len(part), base=part["start"], x=(end - part["start"]).dt.total_seconds() * 1000,
            orientation="h", marker_color=COLORS[str(status)], showlegend=False,
        ))  # fmt: skip
    return figure


def timed(action, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    log = EventLog()
    fill(log, args.sessions, args.events)
    now = T0 + timedelta(seconds=args.events)
    plot = TimelinePlot(log, now=lambda: now)
    ours = timed(plot.update, 10)
    baseline = timed(lambda: naive(log), 3)
    print(f"{args.sessions} sessions, {args.events} events, {len(log.intervals())} intervals")
    labelled = TimelinePlot(log, now=lambda: now, sessions=infos(args.sessions), metrics=link_source(),
                            profiles=default_profiles())  # fmt: skip
    full = timed(labelled.update, 10)
    print(f"  TimelinePlot.update()              median {ours:8.1f} ms")
    print(f"  ... with device/profile rows and the link-metrics rows on: median {full:8.1f} ms "
          f"(budget 100 ms, aim 50 ms)")  # fmt: skip
    print(f"  baseline: new figure, trace/session median {baseline:8.1f} ms   ({baseline / ours:.1f}x slower than")
    print(f"            the plain update, {baseline / full:.1f}x slower than the one with metrics rows)")
    # The picture where plotly's widget cannot render: one redraw of the live picture (the newest
    # PNG_ROWS rows, fixed margins) beside the widget's update, and the full static drawing of every row.
    # Old and new take turns (the machine's load moves): old = the whole figure built, drawn and encoded
    # on each redraw with a patch per bar (barh), as before issue 35; then the same with the bars as
    # collections; new = LivePicture, the figure kept and its text drawn once, "now" 0.5 s later each time.
    known_rows = infos(args.sessions)
    picture = LivePicture(PNG_ROWS, dpi=80)
    moving = iter(now + timedelta(seconds=i / 2) for i in range(10**6))
    picture.png(log, next(moving), sessions=known_rows)  # its first redraw builds the figure
    olds, collections, news = [], [], []
    for _ in range(5):
        with bars_as_patches():
            olds.append(timed(lambda: timeline_png(log, now, sessions=known_rows, max_rows=PNG_ROWS, dpi=80), 1))
        collections.append(timed(lambda: timeline_png(log, now, sessions=known_rows, max_rows=PNG_ROWS, dpi=80), 1))
        news.append(timed(lambda: picture.png(log, next(moving), sessions=known_rows), 3))
    old_png, mid_png, live_png = (statistics.median(t) for t in (olds, collections, news))
    every_row = timed(lambda: timeline_png(log, now, sessions=infos(args.sessions)), 1)
    print(f"  the picture's redraw (newest {PNG_ROWS} rows, LivePicture) median {live_png:8.1f} ms   "
          f"({live_png / ours:.1f}x the widget's update; at most twice a second: "
          f"{min(1.0, live_png / 500):.0%} of a core at worst)")  # fmt: skip
    print(f"  old: the figure rebuilt each redraw, a patch per bar (barh, before issue 35) median {old_png:8.1f} ms "
          f"(new = {live_png / old_png:.2f} of old, {old_png / live_png:.1f}x faster; target <= 1/3)")  # fmt: skip
    print(f"  ... rebuilt each redraw with the bars as collections median {mid_png:8.1f} ms "
          f"({mid_png / live_png:.1f}x new; figure built {picture.rebuilds} time(s) "
          f"in {1 + 3 * len(news)} redraws)")  # fmt: skip
    print(
        f"  timeline_png of every row (a report)  {every_row:8.1f} ms   ({every_row / live_png:.0f}x the live picture)"
    )
    known(args.sessions)

    # Memory: redraw 200 times with no new events (must stay flat), then while events keep coming.
    gc.collect()
    tracemalloc.start()
    for _ in range(20):
        plot.update()
    gc.collect()
    settled = tracemalloc.get_traced_memory()[0]
    for _ in range(200):
        plot.update()
    gc.collect()
    flat = tracemalloc.get_traced_memory()[0]
    print(
        f"  200 redraws, no new events: {(flat - settled) / 1024:+.1f} KiB "
        f"({(flat - settled) / 200:+.0f} bytes per redraw)"
    )
    log_before = tracemalloc.get_traced_memory()[0]
    for round_ in range(50):
        fill(log, args.sessions, 200, start=args.events + round_ * 200)
        plot.update()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - log_before
    reference = EventLog()
    gc.collect()
    snapshot = tracemalloc.get_traced_memory()[0]
    fill(reference, args.sessions, 50 * 200, start=10**7)
    reference_growth = tracemalloc.get_traced_memory()[0] - snapshot
    print(
        f"  50 redraws while 10,000 more events arrive: {grown / 1024:+.0f} KiB in all, "
        f"{grown / 10_000:.0f} bytes per new event (the log keeps about {reference_growth / 10_000:.0f} of them;"
    )
    print("  the rest is the plot's arrays, which hold one bar per interval): growth follows the data, not redraws")
    tracemalloc.stop()


if __name__ == "__main__":
    main()
