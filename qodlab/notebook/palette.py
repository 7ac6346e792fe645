"""The colours qodlab draws with: session statuses, and text on light and dark pages.

The status colours stay apart under the common colour-vision deficiencies (CIEDE2000 distance at
least 23 between any two, simulated with Machado et al.'s matrices for deuteranopia, protanopia
and tritanopia: tests/notebook/test_display.py computes it; the earlier green and red were 4.6 apart for a
deuteranope) and differ in lightness, so that a grey print keeps them apart too. They are never the
only cue: a badge says its status, the timeline's legend and hover name it. A badge's text is black
or white, whichever reads at least 4.5:1 on it (WCAG AA).

Text colours come in a light and a dark set, each at least 4.5:1 on JupyterLab's backgrounds of
that kind (`--jp-layout-color0` and `--jp-layout-color1`); `display.STYLE` switches between them.
"""

from __future__ import annotations

__all__ = ["BADGE_TEXT", "GREY", "STATUS", "TEXT"]

STATUS = {
    "REQUESTED": "#f2b134",  # amber, light: asked for, not yet provided
    "AVAILABLE": "#2e7d32",  # green, middle: the network provides it
    "UNAVAILABLE": "#7b1fa2",  # purple, dark: ended (a red here met the green for a deuteranope)
}
GREY = "#616161"  # a status qodlab does not know
BADGE_TEXT = {"REQUESTED": "#000000", "AVAILABLE": "#ffffff", "UNAVAILABLE": "#ffffff"}

# name: (on a light page, on a dark page)
TEXT = {
    "muted": ("#595959", "#b0b0b0"),  # labels, notes
    "error": ("#b3261e", "#ff8a80"),
    "ok": ("#1b6e20", "#81c784"),
    "warn": ("#8a4b00", "#ffb74d"),
    "link": ("#0b5cad", "#8ab4f8"),
}
