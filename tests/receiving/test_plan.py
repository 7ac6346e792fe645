"""`plan()`: every branch, one row each, from the facts alone (no server is started)."""

from __future__ import annotations

from typing import Any

import pytest

from qodlab.errors import InvalidRequest
from qodlab.receiving.plan import Plan, plan

DIRECT = "direct to 127.0.0.1:8765, token checked"
RELAYED = "relay via relay.example.org, token checked"
SMEE = "smee.io refuses application/cloudevents+json (HTTP 415)"
NET = ", polling every 5 s as a safety net"

CASES: list[tuple[str, dict[str, Any], Plan]] = [
    # auto
    ("a sandbox's listener", {"local": True, "listener": DIRECT}, Plan("direct", DIRECT, "reachable")),
    ("a listener with a public URL", {"listener": DIRECT, "public": True}, Plan("direct", DIRECT, "reachable")),
    (
        "a listener following a relay",
        {"listener": RELAYED, "relay": "followed"},
        Plan("relay", RELAYED + NET, "relay", safety_net=True),
    ),
    (
        "a followed relay before a local listener",
        {"local": True, "listener": RELAYED, "relay": "followed"},
        Plan("relay", RELAYED + NET, "relay", safety_net=True),
    ),
    (
        "a relay that could be opened",
        {"listener": "", "relay": "offered"},
        Plan("relay", NET, "relay", safety_net=True),
    ),
    (
        "a local listener before a relay that could be opened",
        {"local": True, "listener": "", "relay": "offered"},
        Plan("direct", "", "reachable"),
    ),
    (
        "a real network, a listener it cannot reach",
        {"listener": DIRECT},
        Plan("poll", "polling every 5 s: no public URL", "unreachable"),
    ),
    ("no listener", {"local": True}, Plan("poll", "polling every 5 s: no public URL", "unreachable")),
    (
        "a relay refusing this API's notifications",
        {"listener": RELAYED, "relay": "followed", "relay_refusal": SMEE},
        Plan("poll", f"{SMEE}: notifications come by polling every 5 s", "relay refuses"),
    ),
    (
        "the provider refused a sink",
        {"local": True, "listener": DIRECT, "sink_refused": "EVENT_NOTIFICATIONS_NOT_SUPPORTED", "interval": 0.2},
        Plan(
            "poll", "polling every 0.2 s: the API delivers none (422 EVENT_NOTIFICATIONS_NOT_SUPPORTED)", "sink refused"
        ),
    ),
    (
        "a refused sink says more than a refusing relay",
        {"listener": RELAYED, "relay": "followed", "relay_refusal": SMEE, "sink_refused": "X"},
        Plan("poll", "polling every 5 s: the API delivers none (422 X)", "sink refused"),
    ),
    # chosen
    ("direct, chosen", {"choice": "direct", "listener": DIRECT}, Plan("direct", DIRECT, "chosen")),
    (
        "direct, chosen, kept when the provider refuses a sink",
        {"choice": "direct", "local": True, "listener": DIRECT, "sink_refused": "X"},
        Plan("direct", DIRECT, "chosen"),
    ),
    (
        "direct, chosen, through a refusing relay",
        {"choice": "direct", "listener": RELAYED, "relay": "followed", "relay_refusal": SMEE},
        Plan("direct", RELAYED, "chosen"),
    ),
    (
        "relay, chosen, no safety net",
        {"choice": "relay", "local": True, "listener": RELAYED, "relay": "followed"},
        Plan("relay", RELAYED, "chosen"),
    ),
    (
        "relay, chosen, could be opened",
        {"choice": "relay", "listener": "", "relay": "offered"},
        Plan("relay", "", "chosen"),
    ),
    (
        "poll, chosen",
        {"choice": "poll", "local": True, "listener": DIRECT, "interval": 2},
        Plan("poll", "polling every 2 s, as chosen", "chosen"),
    ),
    (
        "poll, chosen, beside a refusing relay",
        {"choice": "poll", "listener": RELAYED, "relay": "followed", "relay_refusal": SMEE},
        Plan("poll", "polling every 5 s, as chosen", "chosen"),
    ),
]


@pytest.mark.parametrize(("facts", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_the_plan_follows_from_the_facts(facts: dict[str, Any], expected: Plan) -> None:
    assert plan(**facts) == expected


IMPOSSIBLE: list[tuple[str, dict[str, Any], str]] = [
    ("direct with no listener", {"choice": "direct", "local": True}, "notifications='direct' needs a listener"),
    (
        "relay with no relay",
        {"choice": "relay", "listener": DIRECT},
        "notifications='relay' needs a listener that follows a relay: Listener(relay=...)",
    ),
    ("relay with no listener", {"choice": "relay", "relay": "offered"}, "notifications='relay' needs a listener"),
    (
        "relay through a relay that refuses",
        {"choice": "relay", "listener": RELAYED, "relay": "followed", "relay_refusal": SMEE, "release": "1.1.0"},
        f"notifications='relay': {SMEE}, which QoD 1.1.0 notifications are sent as",
    ),
    (
        "a typo, with a listener",
        {"choice": "polling", "local": True, "listener": DIRECT},
        "notifications='polling': did you mean 'poll'? it takes 'auto', 'direct', 'relay', 'poll'",
    ),
    ("a value it does not take", {"choice": "bogus"}, "notifications='bogus': it takes 'auto', 'direct', 'relay'"),
]


@pytest.mark.parametrize(("facts", "says"), [case[1:] for case in IMPOSSIBLE], ids=[case[0] for case in IMPOSSIBLE])
def test_an_impossible_choice_is_an_invalid_request_naming_the_field(facts: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        plan(**facts)
    assert refused.value.field == "notifications" and str(refused.value).startswith(says)


def test_a_refusing_relay_says_what_to_do_instead() -> None:
    with pytest.raises(InvalidRequest) as refused:
        plan("relay", listener=RELAYED, relay="followed", relay_refusal=SMEE, release="1.1.0")
    message = str(refused.value)
    assert "`qodlab relay`" in message and "$QODLAB_RELAY" in message and "'poll'" in message


def test_the_old_path_still_names_the_type() -> None:
    from qodlab.notebook import workbench
    from qodlab.receiving import plan as module

    assert workbench.Notifications is module.Notifications


def test_a_dashboard_given_a_typo_says_what_notifications_takes() -> None:
    """Before any server starts: the dashboard asks the plan first."""
    pytest.importorskip("ipywidgets")
    from qodlab.widgets.dashboard import dashboard

    with pytest.raises(InvalidRequest, match="did you mean 'relay'"):
        dashboard(notifications="realy")  # type: ignore[arg-type]
