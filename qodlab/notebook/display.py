"""How objects a notebook cell ends with show themselves: a short text and a small HTML card.

The card uses JupyterLab's CSS variables with fallbacks (Voila, Notebook, a static page). Coloured
text is `var(--qodlab-NAME, light value)`: `STYLE` sets the dark values on a dark page's body
(JupyterLab's `data-jp-theme-light="false"`, VS Code's `vscode-dark`), as xarray's repr does, and
without it the light value holds. A status is a badge: its colour and its word, so that the word
says it where colours do not. Nothing here reads a secret: callers pass what may be shown.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .palette import BADGE_TEXT, GREY, STATUS, TEXT

if TYPE_CHECKING:
    from ..models import AssignmentInfo, Device, SessionInfo

__all__ = ["STYLE", "badge", "card", "device_text", "docs_link", "plural", "time_left", "var"]


def var(name: str) -> str:
    """A text colour of `palette.TEXT` as CSS: the dark value under a dark theme (given `STYLE` on the page)."""
    return f"var(--qodlab-{name}, {TEXT[name][0]})"


def _style() -> str:
    dark = " ".join(f"--qodlab-{name}: {pair[1]};" for name, pair in TEXT.items())
    return f"""<style>
body[data-jp-theme-light="false"], body.vscode-dark, html[theme="dark"] {{{dark}}}
.qodlab-card {{color: var(--jp-content-font-color1, #1f1f1f); background: var(--jp-layout-color0, transparent);
  border: 1px solid var(--jp-border-color2, #d0d0d0); border-radius: 4px; padding: 6px 10px;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 13px; max-width: 60em}}
.qodlab-card table {{border-collapse: collapse; margin-top: 4px}}
.qodlab-card th {{color: {var("muted")}; font-weight: normal; text-align: left; padding: 1px 12px 1px 0}}
.qodlab-card td {{text-align: left; padding: 1px 0}}
.qodlab-card a {{color: {var("link")}}}
.qodlab-muted {{color: {var("muted")}}}
.qodlab-status {{padding: 1px 6px; border-radius: 3px; font-weight: bold; font-size: 12px}}
</style>"""


STYLE = _style()
"""The stylesheet each card carries: light values, and dark ones under a dark theme."""


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 session`, `2 sessions`, `0 sessions`."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def badge(status: str) -> str:
    """A status as a coloured badge that also says the status in words."""
    color, text = STATUS.get(status, GREY), BADGE_TEXT.get(status, "#ffffff")
    return f'<span class="qodlab-status" style="background:{color};color:{text}">{html.escape(status)}</span>'


def card(title: str, rows: Iterable[tuple[str, str]], *, status: str | None = None, note: str = "") -> str:
    """An HTML card: a title (and a status badge), then rows of name and value (values are HTML)."""
    head = f"<b>{html.escape(title)}</b>" + (f" {badge(status)}" if status else "")
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    tail = f'<div class="qodlab-muted">{note}</div>' if note else ""
    return f'{STYLE}<div class="qodlab-card">{head}<table>{body}</table>{tail}</div>'


def device_text(device: Device | None) -> str:
    """A device in a few characters: its phone number, else its other identifier."""
    if device is None:
        return "(from the token)"
    if device.phone_number:
        return device.phone_number
    if device.network_access_identifier:
        return device.network_access_identifier
    ipv4, ipv6 = getattr(device, "ipv4_address", None), getattr(device, "ipv6_address", None)
    if ipv4 is not None:
        return str(ipv4.public_address)
    return str(ipv6) if ipv6 else "(no identifier)"


def time_left(expires_at: datetime | None, now: datetime | None = None) -> str:
    """`4 min 10 s left`, `ended`, or `` when there is no expiry (an assignment, a session not started)."""
    if expires_at is None:
        return ""
    seconds = int((expires_at - (now or datetime.now(UTC))).total_seconds())
    if seconds <= 0:
        return "expired"
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs} s left" if minutes else f"{secs} s left"


def session_rows(info: SessionInfo, now: datetime | None = None) -> list[tuple[str, str]]:
    """A session's card rows (no sink: its URL may carry a capability)."""
    rows = [
        ("id", str(info.session_id)),
        ("profile", str(info.qos_profile or "")),
        ("device", device_text(info.device)),
        ("duration", f"{info.duration} s"),
    ]
    if info.status_info:
        rows.append(("ended by", info.status_info.value))
    left = time_left(info.expires_at, now) if info.qos_status.value != "UNAVAILABLE" else ""
    if left:
        rows.append(("time left", left))
    return [(k, html.escape(v)) for k, v in rows]


def session_text(kind: str, info: SessionInfo, now: datetime | None = None) -> str:
    """`<Session 5d1c… QOS_L AVAILABLE +3672… 4 min 10 s left>`."""
    left = time_left(info.expires_at, now) if info.qos_status.value != "UNAVAILABLE" else ""
    ended = f" ({info.status_info.value})" if info.status_info else ""
    parts = [
        str(info.session_id),
        str(info.qos_profile or ""),
        info.qos_status.value + ended,
        device_text(info.device),
        left,
    ]
    return f"<{kind} " + " ".join(p for p in parts if p) + ">"


def assignment_rows(info: AssignmentInfo) -> list[tuple[str, str]]:
    """An assignment's card rows: it has no duration; it holds until revoked."""
    rows = [("id", str(info.assignment_id)), ("profile", info.qos_profile), ("device", device_text(info.device))]
    if info.status_info:
        rows.append(("ended by", info.status_info.value))
    if info.started_at:
        rows.append(("since", info.started_at.isoformat(timespec="seconds")))
    return [(k, html.escape(v)) for k, v in rows]


def assignment_text(kind: str, info: AssignmentInfo) -> str:
    """`<Assignment 5d1c… QOS_L AVAILABLE +3672…>`."""
    ended = f" ({info.status_info.value})" if info.status_info else ""
    return f"<{kind} {info.assignment_id} {info.qos_profile} {info.status.value}{ended} {device_text(info.device)}>"


def docs_link(url: str, path: str = "/docs") -> str:
    """Where a browser reaches `url`'s `path` from the notebook's page, as dask builds its dashboard link.

    `$QODLAB_LINK` is a template (`{scheme}`, `{host}`, `{port}`, `{path}` and any environment variable),
    e.g. `{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}{path}`. Without it, inside JupyterHub or Binder
    (`$JUPYTERHUB_SERVICE_PREFIX` set) the server is reached through jupyter-server-proxy's
    `proxy/{port}` under the user's prefix, since the browser cannot reach the kernel's 127.0.0.1;
    elsewhere the URL itself.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    fields = {
        **os.environ,
        "scheme": parts.scheme,
        "host": parts.hostname or "",
        "port": str(parts.port or ""),
        "path": path,
    }
    template = os.environ.get("QODLAB_LINK")
    if template is None and os.environ.get("JUPYTERHUB_SERVICE_PREFIX"):
        template = "{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}{path}"
    if template is None:
        return url.rstrip("/") + path
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError):
        return url.rstrip("/") + path


def link(href: str, text: str | None = None) -> str:
    """An HTML link opening in a new tab."""
    return f'<a href="{html.escape(href)}" target="_blank" rel="noopener">{html.escape(text or href)}</a>'


def server_rows(url: str, state: str, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """The rows every server's card starts with: where and in what state."""
    return [("url", html.escape(url)), ("state", html.escape(state)), *extra]
