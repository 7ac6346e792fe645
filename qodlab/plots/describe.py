"""`describe`: what a drawn timeline shows, read back from the figure as plain data.

A picture is tested by what it shows, not by its existence: tests and notebooks assert that tick
labels are distinct, row labels whole and distinct, and every panel has data. `describe` reads a
matplotlib Figure, a PNG from `timeline_png` (which carries its figure's description, read when
it was drawn), a plotly figure or FigureWidget, or a `TimelinePlot`, into::

    {"title": str, "rows": [...], "xticks": [...], "panels": [
        {"ylabel": str, "rows": [row labels], "xticks": [tick labels], "xoffset": str,
         "points": int, "lines": [line names], "legend": [entries], "texts": [notes]}, ...]}

Panels run top to bottom; the top-level `rows` are the first panel's and `xticks` the bottom
one's. `points` counts what is drawn from data: bars, markers and line samples (not the "now"
line). A plotly figure's ticks are laid out by plotly.js in the browser: its `xticks` are the
formats its date axis uses at each zoom level (`tickformatstops`), each naming the date.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

__all__ = ["describe"]

PNG_KEY = "qodlab"  # the text chunk of a timeline PNG that holds its description


def describe(figure: Any, drawn: bool = False) -> dict[str, Any]:
    """What `figure` shows (see the module's docstring); `drawn`: a matplotlib figure already drawn."""
    if isinstance(figure, bytes | bytearray):
        return _from_png(bytes(figure))
    widget = getattr(figure, "widget", None)  # a TimelinePlot
    if widget is not None and hasattr(widget, "layout"):
        figure = widget
    if hasattr(figure, "get_axes"):
        return _matplotlib(figure, drawn)
    if hasattr(figure, "layout") and hasattr(figure, "data"):
        return _plotly(figure)
    msg = f"describe() reads a matplotlib Figure, a timeline PNG, a plotly figure or a TimelinePlot, not {type(figure)}"
    raise TypeError(msg)


def _from_png(png: bytes) -> dict[str, Any]:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        text = getattr(image, "text", {}).get(PNG_KEY)
    if text is None:
        msg = "this PNG carries no description: describe() reads the ones timeline_png draws"
        raise ValueError(msg)
    return dict(json.loads(text))


def _summary(panels: list[dict[str, Any]], title: str) -> dict[str, Any]:
    return {
        "title": title,
        "rows": panels[0]["rows"] if panels else [],
        "xticks": panels[-1]["xticks"] if panels else [],
        "panels": panels,
    }


# -- matplotlib -----------------------------------------------------------------------------------


def _matplotlib(figure: Any, drawn: bool) -> dict[str, Any]:
    if not drawn:
        figure.canvas.draw()
    panels = [_mpl_axes(ax) for ax in figure.get_axes() if ax.get_visible()]
    axes = figure.get_axes()
    title = figure.get_suptitle() or ((axes[0].get_title(loc="left") or axes[0].get_title()) if axes else "")
    return _summary(panels, title)


def _mpl_axes(ax: Any) -> dict[str, Any]:
    from matplotlib.ticker import ScalarFormatter

    def shown(labels: Any) -> list[str]:
        return [t.get_text() for t in labels if t.get_visible() and t.get_text()]

    legend = ax.get_legend()
    axis_on = ax.axison
    numeric = isinstance(ax.yaxis.get_major_formatter(), ScalarFormatter)  # rows: labels set by hand
    return {
        "ylabel": ax.get_ylabel(),
        "rows": shown(ax.get_yticklabels()) if axis_on and not numeric else [],
        "xticks": shown(ax.get_xticklabels()) if axis_on else [],
        "xoffset": ax.xaxis.get_offset_text().get_text() if axis_on else "",
        "points": _mpl_points(ax),
        "lines": [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")],
        "legend": [t.get_text() for t in legend.get_texts()] if legend is not None else [],
        "texts": [t.get_text() for t in ax.texts],
    }


def _mpl_points(ax: Any) -> int:
    drawn_bars = [c for c in ax.collections if c.get_gid() == "bars"]  # static.py draws a status's bars as one
    bars = sum(len(container) for container in ax.containers) + sum(len(c.get_paths()) for c in drawn_bars)
    markers = sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() != "bars")
    samples = 0
    for line in ax.get_lines():
        if line.get_gid() == "now":
            continue
        samples += int(np.isfinite(np.asarray(line.get_ydata(), dtype=float)).sum())
    return int(bars + markers + samples)


# -- plotly ---------------------------------------------------------------------------------------


def _plotly(figure: Any) -> dict[str, Any]:
    layout = figure.layout
    names = sorted({trace.yaxis or "y" for trace in figure.data}, key=_axis_number)
    domains = {name: tuple(layout[_axis_key(name)].domain or (0, 1)) for name in names}
    names.sort(key=lambda name: -domains[name][1])  # top to bottom
    panels = []
    for name in names:
        yaxis = layout[_axis_key(name)]
        traces = [t for t in figure.data if (t.yaxis or "y") == name and t.name != "now"]
        xname = next((t.xaxis or "x" for t in traces), "x")
        xaxis = layout[_axis_key(xname)]
        panels.append(
            {
                "ylabel": (yaxis.title.text or "") if yaxis.title else "",
                "rows": [str(r) for r in (yaxis.categoryarray or ())],
                "xticks": _plotly_ticks(xaxis) if xaxis.showticklabels is not False else [],
                "xoffset": "",
                "points": sum(_count(t.x) for t in traces),
                "lines": [
                    t.name for t in traces if t.type == "scatter" and t.mode == "lines" and _count(t.x) and t.name
                ],
                "legend": [t.name for t in traces if t.showlegend is not False and t.name],
                "texts": [a.text for a in layout.annotations if _annotation_axis(a, names[0]) == name],
            }
        )
    title = (layout.title.text or "") if layout.title else ""
    return _summary(panels, title)


def _plotly_ticks(axis: Any) -> list[str]:
    if axis.ticktext:
        return [str(t) for t in axis.ticktext]
    return [stop.value for stop in axis.tickformatstops or ()] or ([axis.tickformat] if axis.tickformat else [])


def _count(values: Any) -> int:
    return sum(1 for v in values if v is not None) if values is not None else 0


def _axis_number(name: str) -> int:
    return int(name[1:] or 1)


def _axis_key(name: str) -> str:
    return f"{name[0]}axis{name[1:]}"


def _annotation_axis(annotation: Any, top: str) -> str:
    ref = annotation.yref or "paper"
    return top if ref == "paper" else ref.split(" ")[0]
