"""Errors that say what to do: what a person gets wrong, and what they are told (issue 25, section 4).

Each test does what a person does (a typo, a forgotten token, a busy port) against real servers on
loopback, and checks the answer names the keyword or setting at fault and how to put it right,
inside the QodError tree.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qodlab import (
    Conflict,
    EventLog,
    InvalidArgument,
    InvalidRequest,
    Listener,
    NotFound,
    QodClient,
    QodError,
    Sandbox,
    TransportError,
    WaitTimeout,
    create_request,
)
from qodlab.classroom import INSTRUCTOR, Classroom, Roster

from .conftest import PHONE, qodlab_process, session_fields, wait_until

DEVICE = {"phoneNumber": PHONE}


@pytest.fixture
def lab() -> Iterator[Sandbox]:
    """A sandbox where sessions are AVAILABLE at once and notifications go out quickly."""
    with Sandbox(speed=60, provisioning_delay=0, retry_backoff=0.05, max_attempts=2, reuse=False) as sandbox:
        yield sandbox


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener(EventLog(), port=_free_port()) as running:
        yield running


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- values refused before anything is sent ------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"duration": 0}, "duration", "at least 1"),
        ({"duration": "ten"}, "duration", "whole seconds"),
        ({"application_server": "example.com"}, "application_server", "not a host name"),
        ({"qos_profile": "L"}, "qos_profile", "list_profiles()"),
        ({"device": {"phoneNumber": "12"}}, "device", "E.164"),
        ({"device_ports": {"ports": [70000]}}, "device_ports", "0 to 65535"),
        ({"sink_token": "t", "sink_token_expires": "tomorrow"}, "sink_token_expires", "RFC 3339"),
        ({"sink_tokn": "t"}, "sink_tokn", "did you mean sink_token?"),
        ({"duration": None}, "duration", "duration is required"),
    ],
)
def test_a_bad_keyword_is_named_with_what_it_takes(
    lab: Sandbox, change: dict[str, object], field: str, says: str
) -> None:
    fields = {k: v for k, v in {**session_fields(), **change}.items() if v is not None}
    with lab.client() as client, pytest.raises(InvalidRequest) as refused:
        client.create_session(**fields)
    error = refused.value
    assert isinstance(error, QodError) and isinstance(error, ValueError)
    assert error.field == field and says in str(error)
    assert str(error).startswith(field) or f"{field!r}" in str(error)
    assert "pydantic" not in str(error) and "errors.pydantic.dev" not in str(error)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # one error shown
    assert lab.engine.sessions() == []  # nothing was sent


def test_a_value_the_api_judges_is_still_its_answer(lab: Sandbox) -> None:
    with lab.client() as client, pytest.raises(InvalidArgument, match="QOS_L's range"):
        client.create_session(**session_fields(duration=10**9))


def test_every_call_refuses_in_the_same_words(lab: Sandbox) -> None:
    with lab.client() as client:
        session = client.create_session(**session_fields(duration=600))
        with pytest.raises(InvalidRequest, match=r"^seconds: .*at least 1") as extend:
            session.extend(0)
        assert extend.value.field == "seconds"
        with pytest.raises(InvalidRequest, match=r"E\.164") as retrieve:
            client.retrieve_sessions({"phoneNumber": "0"})
        assert retrieve.value.field == "device"
        with pytest.raises(InvalidRequest, match="ACTIVE, INACTIVE or DEPRECATED"):
            client.list_profiles(status="ON")
        with pytest.raises(InvalidRequest, match=r"did you mean sink\?") as typo:
            client.assign_qos(DEVICE, "QOS_M", sinc="https://example.com/x")
        assert typo.value.field == "sinc"
    assert create_request(**session_fields()).duration == 60  # the public helper: the same checks


def test_a_request_sent_again_with_another_field_takes_the_new_value(lab: Sandbox) -> None:
    request = create_request(**session_fields(duration=60))
    with lab.client() as client:
        again = client.create_session(request, duration=600, qos_profile="QOS_M")  # the cell re-run with changes
        assert (again.duration, again.qos_profile) == (600, "QOS_M")
        assert again.device.phone_number == request.device.phone_number
        again.delete()
    assert request.duration == 60 and create_request(request) is request  # the model itself is left as it was
    with pytest.raises(InvalidRequest, match="did you mean duration") as typo:
        create_request(request, duraton=600)
    assert typo.value.field == "duraton"
    with pytest.raises(InvalidRequest, match=r"^duration: ") as zero:
        create_request(request, duration=0)
    assert zero.value.field == "duration"


def test_the_async_client_refuses_the_same_way(lab: Sandbox) -> None:
    import asyncio

    async def attempt() -> InvalidRequest:
        async with lab.async_client() as client:
            try:
                await client.create_session(**session_fields(duration=0))
            except InvalidRequest as exc:
                return exc
        raise AssertionError("not refused")

    assert asyncio.run(attempt()).field == "duration"


# -- the sandbox's own methods -----------------------------------------------------------------------


def test_sandbox_methods_raise_what_the_api_raises(lab: Sandbox) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(NotFound, match=str(unknown)) as missing:
        lab.terminate(unknown)
    assert missing.value.status == 404 and missing.value.code == "NOT_FOUND"
    with pytest.raises(InvalidRequest, match="'abc' is not a session id"):
        lab.terminate("abc")
    with lab.client() as client:
        session = client.create_session(**session_fields(duration=600))  # ten real seconds to terminate it
    lab.terminate(session.id)
    with pytest.raises(Conflict, match="already UNAVAILABLE"):
        lab.terminate(session.id)
    with pytest.raises(InvalidRequest, match=r"E\.164") as device:
        lab.metrics({"phoneNumber": "12"})
    assert device.value.field == "device"
    with pytest.raises(InvalidRequest, match="speed must be above 0"):
        lab.speed = 0
    with pytest.raises(InvalidArgument, match="'not a url'"):
        lab.share_private_key_jwt("qodlab-client", "not a url")


def test_a_classroom_stage_raises_what_the_api_raises(tmp_path: Path) -> None:
    with Classroom(students=2, speed=60, roster=tmp_path / "roster.csv") as room:
        with pytest.raises(NotFound, match="'nobody'"):
            room.stage("terminate", student="nobody")
        with pytest.raises(InvalidRequest) as bogus:
            room.stage("explode")
        assert bogus.value.field == "kind" and "errors.pydantic.dev" not in str(bogus.value)
        assert room.stage("terminate") == {"staged": "terminate", "terminated": []}


@pytest.mark.parametrize(
    ("strict", "says", "never"),
    [
        (False, "or an http URL on loopback", "^https"),
        (True, "this API is strict", "^https"),
    ],
)
def test_a_bad_sink_is_told_what_this_mode_takes(strict: bool, says: str, never: str) -> None:
    with Sandbox(strict=strict, reuse=False) as sandbox, sandbox.client() as client:
        for sink in ("not a url", "ftp://x/y", "http://example.com/sink"):
            with pytest.raises(InvalidArgument) as refused:
                client.create_session(**session_fields(sink))
            error = refused.value
            assert error.code == "INVALID_SINK" and says in error.message and repr(sink) in error.message
            assert never not in error.message  # no regular expression quoted at a person
        if not strict:
            client.create_session(**session_fields("http://127.0.0.1:9/qod"))  # loopback http: allowed here


# -- the sink-token trap ---------------------------------------------------------------------------


def test_sink_listener_fills_its_url_and_token(lab: Sandbox, listener: Listener) -> None:
    with lab.client() as client:
        session = client.create_session(**session_fields(sink=listener))
        assert session.sink == listener.url
        assert listener.log.wait_for(session.id, "AVAILABLE", timeout=10).session_id == session.id
        assignment = client.assign_qos({"phoneNumber": "+36721601234568"}, qos_profile="QOS_M", sink=listener)
        assert listener.log.wait_for(assignment.id, "AVAILABLE", timeout=10).session_id == assignment.id
    assert listener.rejections.empty


def test_a_listener_url_without_its_token_warns_and_the_timeout_says_why(lab: Sandbox, listener: Listener) -> None:
    with lab.client() as client:
        with pytest.warns(UserWarning, match="no sink_token was given") as caught:
            session = client.create_session(**session_fields(sink=listener.url, duration=600))
        line = str(caught[0].message)
        assert "\n" not in line and listener.token not in line and caught[0].filename == __file__
        wait_until(lambda: not listener.rejections.empty, message="the listener refuses the notification")
        with pytest.raises(WaitTimeout) as waited:  # a QodError and a TimeoutError
            listener.log.wait_for(session.id, "available", timeout=0.5)
        text = str(waited.value)
        assert isinstance(waited.value, TimeoutError) and "no event for it here at all" in text
        assert "401 UNAUTHENTICATED" in text and "sink=listener" in text and listener.token not in text
        with pytest.raises(WaitTimeout, match="the listener refused requests"):  # given only the log, too
            session.wait_for("UNAVAILABLE", timeout=0.5, log=listener.log)


def test_no_warning_when_the_token_is_given_or_none_is_needed(lab: Sandbox, listener: Listener) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with lab.client() as client:
            client.create_session(**session_fields(listener.url, listener.token))
            open_door = Listener(EventLog(), require_token=False, path="/open", port=_free_port())
            try:
                client.assign_qos({"phoneNumber": "+36721601234568"}, "QOS_M", sink=open_door.url)
            finally:
                open_door.stop()


def test_qodlab_listen_prints_each_refused_post(lab: Sandbox) -> None:
    port = _free_port()
    process, first = qodlab_process("listen", "--port", str(port), "--token", "s3cret-token")
    try:
        assert first.startswith("qodlab listener on")
        url = f"http://127.0.0.1:{port}/qod"
        assert httpx.post(url, json={}, headers={"authorization": "Bearer wrong-token"}).status_code == 401
        assert process.stdout is not None
        line = next(line for line in process.stdout if line.startswith("refused"))
        assert "401 UNAUTHENTICATED" in line and "POST /qod" in line
        assert "wrong-token" not in line and "s3cret-token" not in line
    finally:
        process.terminate()
        process.communicate(timeout=30)


# -- the command line ----------------------------------------------------------------------------


def _command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qodlab", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_the_command_says_in_one_line_what_it_cannot_do() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = _command("sandbox", "--port", str(port))
    dead = _free_port()  # nothing listens there: the relay server cannot be reached
    cases = {
        "busy port": (taken, f"127.0.0.1:{port}: Address already in use (another server has it"),
        "speed 0": (_command("sandbox", "--speed", "0"), "--speed"),
        "unknown option": (_command("relay", "--bogus"), "qodlab relay: error: unrecognized arguments: --bogus"),
        "relay offline": (
            _command("listen", "--relay", "new", env={"QODLAB_RELAY": f"http://127.0.0.1:{dead}"}),
            "$QODLAB_RELAY",
        ),
    }
    for name, (done, says) in cases.items():
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (name, done.stderr)
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in done.stderr, (name, done.stderr)


def test_a_relay_offline_names_the_server_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    server = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("QODLAB_RELAY", server)
    with pytest.raises(TransportError) as offline:
        Listener(EventLog(), relay=True)
    assert server in str(offline.value) and "$QODLAB_RELAY" in str(offline.value)


# -- the same names everywhere -----------------------------------------------------------------------


def test_sessions_and_assignments_answer_to_the_sdk_names(lab: Sandbox) -> None:
    with lab.client() as client:
        session = client.create_session(**session_fields(qos_profile=None, profile="QOS_M", duration=600))
        assert session.id == str(session.session_id) and session.qos_profile == "QOS_M"
        assert client.get_session(session.id).id == session.id
        old = client.assign_qos({"phoneNumber": "+36721601234568"}, profile="QOS_M")
        new = client.assign_qos({"phoneNumber": "+36721601234569"}, qos_profile="QOS_M")
        positional = client.assign_qos({"phoneNumber": "+36721601234570"}, "QOS_M")
        assert {old.qos_profile, new.qos_profile, positional.qos_profile} == {"QOS_M"}
        assert client.get_assignment(new.id).id == new.id == str(new.assignment_id)
        with pytest.raises(InvalidRequest, match="not both"):
            client.assign_qos({"phoneNumber": "+36721601234571"}, qos_profile="QOS_M", profile="QOS_L")


def test_a_roster_key_copied_with_its_line_end_works(tmp_path: Path) -> None:
    with Classroom(students=2, speed=60, roster=tmp_path / "roster.csv") as room:
        assert room.roster_path is not None
        raw = room.roster_path.read_bytes()
        assert b"\r" not in raw and raw.endswith(b"\n")
        line = raw.decode().splitlines(keepends=True)[1]  # a student's line, as a person copies it
        key = line.split(",")[1]
        assert key.endswith("\n") and room.roster.who(key) == "student-01"
        with QodClient(room.url, token=f" {key}\r\n") as client:
            assert client.get_profile("QOS_E").name == "QOS_E"
        padded = {"authorization": f"Bearer \t {key.strip()}"}  # (HTTP itself trims the ends of a header's value)
        padded_answer = httpx.get(f"{room.url}/qos-profiles/v1/qos-profiles/QOS_E", headers=padded)
        assert padded_answer.status_code == 200, padded_answer.text
        assert room.roster.who(room.roster.key(INSTRUCTOR) + " ") == INSTRUCTOR
    assert Roster(["a"]).who("nobody") is None


def test_metrics_show_a_congestion_right_after_it_is_injected(lab: Sandbox) -> None:
    episode = lab.congest(DEVICE, factor=3, seconds=600)
    frame = lab.metrics(DEVICE)
    assert bool(frame["congested"].iloc[-1]), frame.tail(3)
    assert frame["time"].iloc[-1].timestamp() >= episode.start
    over_http = httpx.get(f"{lab.url}/_sandbox/devices/metrics", params={"phoneNumber": PHONE})
    assert over_http.status_code == 200 and over_http.json()[-1]["congested"] is True


# -- issue 34 §9: the gaps a person met in a notebook ---------------------------------------------------


@pytest.mark.parametrize("name", ["QOS_LL", "qos_l"])
def test_an_unknown_profile_lists_the_profiles_and_suggests_one(name: str) -> None:
    with Sandbox(reuse=False) as sandbox, sandbox.client() as client:
        with pytest.raises(
            InvalidArgument, match=r"this API's profiles: QOS_E, QOS_S, QOS_M, QOS_L, .*\); did you mean QOS_L\?"
        ):
            client.create_session(
                device={"phoneNumber": "+36721601234567"},
                application_server="233.252.0.2",
                qos_profile=name,
                duration=60,
            )
        with pytest.raises(NotFound, match=r"did you mean QOS_L\?"):
            client.get_profile(name)


def test_a_misspelt_status_to_wait_for_is_an_invalid_request() -> None:
    with Sandbox(speed=60, reuse=False) as sandbox, sandbox.client() as client:
        session = client.create_session(
            device={"phoneNumber": "+36721601234567"},
            application_server="233.252.0.2",
            qos_profile="QOS_L",
            duration=60,
        )
        with pytest.raises(InvalidRequest, match=r"status: 'AVAILABEL' is not a status") as raised:
            session.wait_for("AVAILABEL")
        assert raised.value.field == "status"


def test_a_listener_given_a_file_name_says_to_wrap_it_in_an_event_log(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidRequest, match=re.escape("log: 'x.sqlite' is not an EventLog: Listener(EventLog('x.sqlite'))")
    ):
        Listener("x.sqlite")  # type: ignore[arg-type]


def test_a_sandbox_setting_given_as_text_names_it() -> None:
    with pytest.raises(InvalidRequest, match=re.escape("speed: '60' is a str; speed takes a number (e.g. speed=60)")):
        Sandbox(speed="60")  # type: ignore[arg-type]
