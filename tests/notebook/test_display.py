"""What a cell ending with a qodlab object shows, through IPython's own display formatter.

Each object gives a short text (identity and state, never a secret) and an HTML card whose
status is a badge that says its word; the palette's contrasts and its distinctness under
colour-vision deficiencies are computed here (coloraide: WCAG 2.1 contrast, Machado et al.'s
simulation, CIEDE2000).
"""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from coloraide import Color
from IPython.core.formatters import DisplayFormatter

from qodlab import EventLog, Listener, QodClient, Relay, Sandbox
from qodlab.client.clients import create_request
from qodlab.errors import ApiError, InvalidRequest, WaitTimeout
from qodlab.notebook.display import STYLE, docs_link
from qodlab.notebook.palette import BADGE_TEXT, STATUS, TEXT
from qodlab.notebook.workbench import Workbench

from ..conftest import PHONE, session_fields
from ..eventlog.test_eventlog import event

FORMATTER = DisplayFormatter()


def shown(obj: object) -> tuple[str, str]:
    """What Jupyter receives for `obj` at the end of a cell: its text/plain and text/html."""
    data, _ = FORMATTER.format(obj)
    return data["text/plain"], data.get("text/html", "")


def visible(page: str) -> str:
    """An HTML fragment's text, without its stylesheet and tags."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", page, flags=re.S))


def test_session_is_one_short_line_and_a_card(sandbox: Sandbox, client: QodClient) -> None:
    fields = session_fields(sink="http://127.0.0.1:9/hook", token="sink-s3cret", duration=3600)
    session = client.create_session(**fields)  # six real seconds to see it AVAILABLE (600x)
    session.wait_for("AVAILABLE", timeout=10)
    text, page = shown(session)
    assert text.startswith(f"<Session {session.session_id} QOS_L AVAILABLE {PHONE} ") and text.endswith(" s left>")
    assert len(text) < 120, text  # was pydantic's 480 characters
    left = re.search(r"(?:(\d+) min )?(\d+) s left>$", text)
    assert left and int(left.group(1) or 0) * 60 + int(left.group(2)) <= 3600  # on the sandbox's clock (600x)
    assert 'class="qodlab-status"' in page and ">AVAILABLE</span>" in page  # the word beside the colour
    words = visible(page)
    assert str(session.session_id) in words and "QOS_L" in words and PHONE in words and "time left" in words
    for secret in ("sink-s3cret", "127.0.0.1:9/hook"):  # the sink and its token are not shown
        assert secret not in text + page
    sandbox.terminate(session.session_id)
    text, page = shown(session.refresh())
    assert "UNAVAILABLE (NETWORK_TERMINATED)" in text and "left" not in text
    assert ">UNAVAILABLE</span>" in page and "NETWORK_TERMINATED" in visible(page)


def test_assignment_shows_profile_status_device(client: QodClient) -> None:
    assignment = client.assign_qos(device={"phoneNumber": PHONE}, qos_profile="QOS_L")
    text, page = shown(assignment)
    assert text.startswith(f"<Assignment {assignment.assignment_id} QOS_L ") and text.endswith(f" {PHONE}>")
    assert f">{assignment.status.value}</span>" in page and "QOS_L" in visible(page)
    assignment.revoke()


def test_event_log_says_how_many_of_how_many() -> None:
    log = EventLog()
    assert shown(log)[0] == "<EventLog 0 events, 0 sessions>"
    assert "no events yet" in visible(shown(log)[1])
    log.append(event("a", "REQUESTED", 0))
    text, page = shown(log)
    assert text == "<EventLog 1 event, 1 session>"  # not "1 sessions"
    assert "all of them" in visible(page) and "REQUESTED 1" in visible(page)
    for i in range(1, 120):
        log.append(event(f"s{i % 3}", "AVAILABLE", i))
    text, page = shown(log)
    assert text == "<EventLog 120 events, 4 sessions>"
    assert "the last 50 of 120 events" in visible(page)
    assert page.count("<tr>") - page.count("<th>events") >= 50  # the card's rows, the header, 50 events
    assert "REQUESTED 1, AVAILABLE 119" in visible(page)


def test_sandbox_card_links_its_api_docs(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QODLAB_LINK", raising=False)
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    text, page = shown(sandbox)
    assert text == f"<Sandbox {sandbox.url} speed=600 running>"
    href = re.search(r'<a href="([^"]+)"', page)
    assert href and href.group(1) == f"{sandbox.url}/docs"
    page_there = httpx.get(href.group(1))
    assert page_there.status_code == 200  # the link works, and so does the schema its page asks for beside it
    schema = re.search(r"url: '([^']+)'", page_there.text)
    assert schema and schema.group(1) == "openapi.json"
    assert httpx.get(urljoin(href.group(1), schema.group(1))).json()["info"]["title"] == "qodlab sandbox"
    behind_proxy = urljoin("https://hub.example/user/ada/proxy/8123/docs", schema.group(1))
    assert behind_proxy == "https://hub.example/user/ada/proxy/8123/openapi.json"  # FastAPI's page said /openapi.json
    assert "speed" in visible(page) and "0 sessions" in visible(page)
    with sandbox.client() as c:
        c.create_session(**session_fields(duration=3600))  # alive for six real seconds at 600x
    assert re.search(r"1 session, 1 (REQUESTED|AVAILABLE)", visible(shown(sandbox)[1]))


def test_docs_link_goes_through_jupyter_server_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Binder and JupyterHub the browser cannot reach the kernel's 127.0.0.1: jupyter-server-proxy can."""
    monkeypatch.delenv("QODLAB_LINK", raising=False)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    assert docs_link("http://127.0.0.1:8123") == "/user/ada/proxy/8123/docs"
    monkeypatch.setenv("QODLAB_LINK", "https://hub.example/{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}{path}")
    assert docs_link("http://127.0.0.1:8123", "/redoc") == "https://hub.example//user/ada/proxy/8123/redoc"
    monkeypatch.setenv("QODLAB_LINK", "{NOT_SET}/{port}")  # a template naming what is missing: the plain URL
    assert docs_link("http://127.0.0.1:8123") == "http://127.0.0.1:8123/docs"


def test_servers_and_clients_show_no_secret() -> None:
    token, key = "listener-t0ken-s3cret", "api-k3y-s3cret"
    with (
        Sandbox(speed=600, api_key=key, reuse=False) as sandbox,
        Listener(EventLog(), token=token) as listener,
        Relay() as relay,
        sandbox.client() as client,
    ):
        channel = relay.new_channel()
        for obj, title in ((listener, "Listener"), (relay, "Relay"), (client, "QodClient"), (sandbox, "Sandbox")):
            text, page = shown(obj)
            assert f"<b>{title}</b>" in page
            assert "running" in visible(page) or title == "QodClient"
            for secret in (token, key, channel.rsplit("/", 1)[1]):
                assert secret not in text + page, (title, secret)
        assert "bearer ***" in visible(shown(client)[1])
        assert "0 notifications" in visible(shown(listener)[1])
        assert "0 channels" in visible(shown(relay)[1])  # a name is not a channel until a listener follows it


def test_workbench_is_not_an_object_at_an_address(sandbox: Sandbox, client: QodClient) -> None:
    bench = Workbench(client, EventLog(), sandbox=sandbox, notifications="poll", poll_interval=0.2)
    try:
        assert shown(bench)[0] == f"<Workbench {client.base_url} 0 sessions followed, notifications: poll>"
        outcome = bench.create(create_request(**session_fields()))
        assert outcome.ok, outcome.error
        text, page = shown(bench)
        assert " 1 session followed" in text and "object at 0x" not in text
        assert 'class="qodlab-status"' in page and "polling every 0.2 s" in visible(page)
    finally:
        bench.close()


# -- colours --------------------------------------------------------------------------------------

THEMES = Path(__import__("jupyterlab").__file__).parent / "themes" / "@jupyterlab"


def theme_backgrounds(name: str) -> list[str]:
    """JupyterLab's page and panel backgrounds in one of its themes, read from its stylesheet."""
    css = (THEMES / f"theme-{name}-extension" / "index.css").read_text()
    found = []
    for var in ("--jp-layout-color0", "--jp-layout-color1"):
        value = re.search(rf"{var}:\s*([^;]+);", css)
        assert value, var
        hexes = re.findall(r"#[0-9a-fA-F]{3,6}\b", value.group(1))  # var(--md-grey-900, #212121): the fallback
        found.append(hexes[-1] if hexes else value.group(1).strip())
    return found


def contrast(fg: str, bg: str) -> float:
    return float(Color(fg).contrast(Color(bg), method="wcag21"))


def test_every_text_colour_reads_in_both_themes() -> None:
    light, dark = theme_backgrounds("light"), theme_backgrounds("dark")
    assert light == ["white", "white"] or all(Color(c).luminance() > 0.8 for c in light)
    assert all(Color(c).luminance() < 0.05 for c in dark), dark
    for name, (on_light, on_dark) in TEXT.items():
        for bg in light:
            assert contrast(on_light, bg) >= 4.5, (name, on_light, bg)
        for bg in dark:
            assert contrast(on_dark, bg) >= 4.5, (name, on_dark, bg)
        assert f"--qodlab-{name}: {on_dark};" in STYLE  # the dark value is what a dark page gets


def test_badges_read_at_least_4_5_to_1() -> None:
    for status, color in STATUS.items():
        assert contrast(BADGE_TEXT[status], color) >= 4.5, status


@pytest.mark.parametrize("deficiency", [None, "deutan", "protan", "tritan"])
def test_status_colours_stay_apart_under_colour_vision_deficiencies(deficiency: str | None) -> None:
    """Machado et al. (2009) at full severity; CIEDE2000 over 20 is two colours nobody confuses."""
    seen = [Color(c) if deficiency is None else Color(c).filter(deficiency, method="machado") for c in STATUS.values()]
    nearest = min(a.delta_e(b, method="2000") for a, b in combinations(seen, 2))
    assert nearest >= 20, (deficiency, nearest)


def test_widgets_name_no_fixed_text_colour() -> None:
    """A fixed text colour is the light theme's only: each is a variable with its light value as fallback."""
    package = Path(__import__("qodlab").__file__).parent
    for path in [*(package / "widgets").glob("*.py"), package / "plots" / "live.py"]:
        fixed = re.findall(r"(?<![-\w])color:\s*#[0-9a-fA-F]{3,6}", path.read_text())
        assert not fixed, (path.name, fixed)


def test_an_error_kept_as_a_value_is_a_card_with_its_facts_and_no_credential() -> None:
    def words(error: Exception) -> str:
        return " ".join(visible(shown(error)[1]).split())

    key = "api-k3y-s3cret"
    with (
        Sandbox(speed=600, api_key=key, reuse=False) as guarded,
        QodClient(guarded.url, token="wrong-" + key) as bad,
        pytest.raises(ApiError) as refused,
    ):
        bad.list_profiles()
    text, page = shown(refused.value)
    assert "<b>Unauthenticated</b>" in page and key not in text + page
    assert words(refused.value) == (
        "Unauthenticated message Request not authenticated due to missing, invalid, or expired credentials. "
        "status 401 code UNAUTHENTICATED request POST /qos-profiles/v1/retrieve-qos-profiles"
    )
    with pytest.raises(InvalidRequest) as invalid:
        create_request(**{**session_fields(), "duration": -5})
    assert "takes whole seconds" in words(invalid.value) and "field duration" in words(invalid.value)
    waited = WaitTimeout("not AVAILABLE within 1 s", "abc", "AVAILABLE", "REQUESTED")
    assert words(waited).endswith("id abc awaited AVAILABLE last seen REQUESTED")
