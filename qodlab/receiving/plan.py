"""`plan()`: how notifications arrive (direct, through a relay, or by polling) and the sentence that says why.

The one place this is decided: `dashboard()` asks it which listener to start, a `Workbench` which
way to take (and again when the provider refuses a sink), and its header shows the sentence. It is
pure: the caller gathers the facts (the listener, its relay and that relay's answer to the probe,
the provider's answer to a sink) and `plan()` reads them, in this order; "auto" takes the first
way that fits, a person's own choice is kept or refused:

| fact                                                      | "auto"                   | chosen                   |
|-----------------------------------------------------------|--------------------------|--------------------------|
| the provider refused a sink (422)                         | poll, saying so          | kept: each error shown   |
| the relay refuses the content type of this API's notifications | poll, saying so     | "relay": InvalidRequest  |
| "poll" chosen                                             |                          | poll                     |
| no relay                                                  |                          | "relay": InvalidRequest  |
| no listener                                               |                          | "direct": InvalidRequest |
| the listener follows a relay                              | relay, and a safety net  | as chosen                |
| the provider reaches the listener (this machine, its public URL) | direct            | as chosen                |
| a relay could be opened (`dashboard()`, no listener yet)  | relay, and a safety net  | as chosen                |
| none of these                                             | poll                     | as chosen                |

The safety net is polling for what the relay missed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal, get_args

from ..errors import InvalidRequest

__all__ = ["CHOICES", "Notifications", "Plan", "Reason", "Way", "checked", "plan"]

Notifications = Literal["auto", "direct", "relay", "poll"]
"""How a person asks for notifications to arrive: `auto` lets `plan()` choose."""
CHOICES: tuple[str, ...] = get_args(Notifications)
"""The values `notifications=` takes."""
Way = Literal["direct", "relay", "poll"]
"""How notifications arrive: POSTed to the listener, POSTed to a relay it follows, or polled."""
Reason = Literal["chosen", "reachable", "relay", "relay refuses", "sink refused", "unreachable"]
"""Why a way was taken: the person's choice, or which fact made `auto` take it."""


@dataclass(frozen=True)
class Plan:
    """The way notifications arrive, and why, in words."""

    way: Way
    """Direct, relay or poll (never auto)."""
    sentence: str
    """The way in words, for the person (the dashboard's header, `Workbench.how`)."""
    reason: Reason
    """What decided it: the person's choice, or the fact that made `auto` take it."""
    safety_net: bool = False
    """Whether it also polls, for what a relay missed (a relay `auto` took)."""


def checked(choice: str) -> Notifications:
    """`choice` if `notifications=` takes it; else InvalidRequest naming the field, with what it takes.

    A typo is refused as itself before anything starts (`dashboard()` asks first), not by a branch
    of `plan()` that would blame a missing listener.
    """
    if choice not in CHOICES:
        near = difflib.get_close_matches(str(choice), CHOICES, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        msg = f"notifications={choice!r}: {hint}it takes " + ", ".join(repr(c) for c in CHOICES)
        raise InvalidRequest(msg, "notifications")
    return choice  # type: ignore[return-value]


def plan(
    choice: Notifications = "auto",
    *,
    local: bool = False,
    listener: str | None = None,
    public: bool = False,
    relay: Literal["followed", "offered"] | None = None,
    relay_refusal: str | None = None,
    sink_refused: str | None = None,
    interval: float = 5.0,
    release: str = "",
) -> Plan:
    """How notifications arrive, from the facts (no I/O: the caller has them).

    Parameters:
        choice: the person's choice, `notifications=`.
        local: the provider runs on this machine (a sandbox, an API on loopback): it can POST to a
            listener here.
        listener: the listener's words for how notifications reach it (`Listener.how`); None when
            there is none.
        public: the listener has a public URL the provider can reach.
        relay: "followed" when the listener follows a relay channel; "offered" when one could be
            opened for the listener about to be started (the API's `/_relay/`, `$QODLAB_RELAY`).
        relay_refusal: the relay's answer to the probe, when it refuses the content type this
            API's notifications come with (`Refusal`, in words).
        sink_refused: the error code with which the provider refused a sink, once it has.
        interval: real seconds between two polls of a session.
        release: the API's release, named in the error a refusing relay gives "relay".

    Raises:
        InvalidRequest: `notifications` (the field) is none of `CHOICES`, or cannot be done: "direct" with no listener,
            "relay" with no relay or with a relay that refuses this API's notifications.
    """
    checked(choice)
    polling = f"polling every {interval:g} s"
    if choice == "auto" and sink_refused is not None:
        return Plan("poll", f"{polling}: the API delivers none (422 {sink_refused})", "sink refused")
    if relay_refusal is not None and choice in ("auto", "relay"):
        if choice == "relay":
            msg = (
                f"notifications='relay': {relay_refusal}, which QoD {release} notifications are sent as, so "
                f"none would come through it. Run `qodlab relay` where the network can reach it and set "
                f"$QODLAB_RELAY to its URL (then Listener(relay=True)), or use notifications='auto' or 'poll'"
            )
            raise InvalidRequest(msg, "notifications")
        # a provider retrying into a refusal helps nobody: no sink, polling
        return Plan("poll", f"{relay_refusal}: notifications come by {polling}", "relay refuses")
    if choice == "poll":
        return Plan("poll", f"{polling}, as chosen", "chosen")
    if choice == "relay" and relay is None:
        msg = "notifications='relay' needs a listener that follows a relay: Listener(relay=...)"
        raise InvalidRequest(msg, "notifications")
    if choice != "auto" and listener is None:
        msg = f"notifications={choice!r} needs a listener"
        raise InvalidRequest(msg, "notifications")
    if choice != "auto":
        return Plan(choice, listener or "", "chosen")
    if listener is not None and relay == "followed":
        return Plan("relay", f"{listener}, {polling} as a safety net", "relay", safety_net=True)
    if listener is not None and (local or public):
        return Plan("direct", listener, "reachable")
    if listener is not None and relay == "offered":
        return Plan("relay", f"{listener}, {polling} as a safety net", "relay", safety_net=True)
    return Plan("poll", f"{polling}: no public URL", "unreachable")
