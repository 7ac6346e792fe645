"""One timeline update with 1,000 sessions and 10,000 events, and memory as events keep coming.

Times `TimelinePlot.update()` (intervals from the log, then the traces' data replaced in one
batch) against a baseline in the same process: the usual notebook approach of building a new
plotly figure with one bar trace per session. Then redraws many times while events keep
arriving, and reports the memory held beyond the log's own growth.

    python benchmarks/timeline.py [--sessions 1000] [--events 10000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go

from qodlab import EventLog, StatusEvent
from qodlab.models import QosStatus, StatusInfo
from qodlab.plots import COLORS, TimelinePlot

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
STATUSES = [(QosStatus.AVAILABLE, None), (QosStatus.UNAVAILABLE, StatusInfo.DELETE_REQUESTED)]


def fill(log: EventLog, sessions: int, events: int, start: int = 0) -> None:
    for i in range(start, start + events):
        status, info = STATUSES[(i // sessions) % 2]
        log.append(StatusEvent(
            event_id=f"e{i}", session_id=f"session-{i % sessions:05d}", qos_status=status, status_info=info,
            event_time=T0 + timedelta(seconds=i), type="t", source="bench", shape="cloudevent-v1", raw={},
        ), "{}")  # fmt: skip


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
    print(f"  TimelinePlot.update()              median {ours:8.1f} ms")
    print(f"  baseline: new figure, trace/session median {baseline:8.1f} ms   ({baseline / ours:.1f}x slower)")

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
