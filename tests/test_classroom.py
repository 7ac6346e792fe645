"""Classroom mode over real HTTP: keys, isolation, the rate limit, the instructor's overview and events."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qodlab import Classroom, EventLog, Listener, PermissionDenied, QodClient, QosStatus
from qodlab.classroom import INSTRUCTOR, Roster

from .conftest import qodlab_process, wait_until

FIELDS = {"application_server": "233.252.0.2", "qos_profile": "QOS_L", "duration": 600}


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Classroom]:
    with Classroom(students=3, rate=5, speed=60, roster=tmp_path / "roster.csv") as classroom:
        yield classroom


def _client(room: Classroom, name: str, **kwargs: object) -> QodClient:
    return QodClient(room.url, token=room.roster.key(name), **kwargs)  # type: ignore[arg-type]


def _instructor(room: Classroom) -> dict[str, str]:
    return {"authorization": f"Bearer {room.roster.key(INSTRUCTOR)}"}


def test_the_roster_is_0600_and_no_key_is_shown(room: Classroom, capsys: pytest.CaptureFixture[str]) -> None:
    assert room.roster_path is not None and stat.S_IMODE(os.stat(room.roster_path).st_mode) == 0o600
    lines = room.roster_path.read_text().splitlines()
    assert lines[0] == "name,api_key" and [line.split(",")[0] for line in lines[1:]] == [*room.roster.names, INSTRUCTOR]
    shown = repr(room) + repr(room.roster) + repr(room.roster.students) + capsys.readouterr().out
    assert all(room.roster.key(name) not in shown for name in [*room.roster.names, INSTRUCTOR])


def test_names_from_a_csv(tmp_path: Path) -> None:
    (tmp_path / "names.csv").write_text("name\nAda\nGrace\n")
    assert Roster.from_csv(tmp_path / "names.csv").names == ["Ada", "Grace"]


def test_each_student_sees_only_their_own_sessions(room: Classroom) -> None:
    with _client(room, "student-01") as ada, _client(room, "student-02") as grace:
        session = ada.create_session(device={"phoneNumber": "+36700000001"}, **FIELDS)
        with pytest.raises(PermissionDenied):
            grace.get_session(session.session_id)
        with pytest.raises(PermissionDenied):
            grace.delete_session(session.session_id)
        with pytest.raises(PermissionDenied):
            grace.extend_session(session.session_id, 60)
        assert grace.retrieve_sessions({"phoneNumber": "+36700000001"}) == []
        assert [s.session_id for s in ada.retrieve_sessions({"phoneNumber": "+36700000001"})] == [session.session_id]
        conflict = httpx.post(f"{room.url}/quality-on-demand/v1/sessions", headers={"authorization":
                              f"Bearer {room.roster.key('student-02')}"}, json={"device": {"phoneNumber":
                              "+36700000001"}, "applicationServer": {"ipv4Address": "233.252.0.2"},
                              "qosProfile": "QOS_L", "duration": 60})  # fmt: skip
        assert conflict.status_code == 409  # devices are shared: a real network's rule


def test_keys_and_controls(room: Classroom) -> None:
    api = f"{room.url}/qos-profiles/v1/retrieve-qos-profiles"
    assert httpx.post(api, json={}).status_code == 401
    assert httpx.post(api, json={}, headers={"x-rapidapi-key": "guess"}).status_code == 401
    assert httpx.post(api, json={}, headers={"x-rapidapi-key": room.roster.key("student-03")}).status_code == 200
    student = {"authorization": f"Bearer {room.roster.key('student-03')}"}
    assert httpx.get(f"{room.url}/_classroom/overview", headers=student).status_code == 403
    assert httpx.put(f"{room.url}/_sandbox/clock", json={"speed": 1}, headers=student).status_code == 403
    assert httpx.get(f"{room.url}/_classroom/overview", headers=_instructor(room)).status_code == 200


def test_the_rate_limit_answers_429_with_retry_after_and_the_client_backs_off(room: Classroom) -> None:
    headers = {"authorization": f"Bearer {room.roster.key('student-01')}"}
    answers = [httpx.post(f"{room.url}/qos-profiles/v1/retrieve-qos-profiles", json={}, headers=headers)
               for _ in range(8)]  # fmt: skip
    limited = [a for a in answers if a.status_code == 429]
    assert limited and all(
        a.headers["retry-after"].isdigit() and a.json()["code"] == "TOO_MANY_REQUESTS" for a in limited
    )
    with _client(room, "student-01") as client:
        started = time.monotonic()
        for _ in range(8):  # over the limit: the client waits out each Retry-After and gets there
            assert client.list_profiles()
        assert time.monotonic() - started >= 1.0
    assert room.overview()["students"][0]["limited"] >= len(limited)


def test_the_overview_and_staged_events(room: Classroom) -> None:
    with (
        Listener(EventLog()) as listener,
        _client(room, "student-01") as ada,
        _client(room, "student-02") as grace,
    ):
        sink = {"sink": listener.url, "sink_token": listener.token}
        mine = ada.create_session(device={"phoneNumber": "+36700000001"}, **FIELDS, **sink)
        theirs = grace.create_session(device={"phoneNumber": "+36700000002"}, **{**FIELDS, "qos_profile": "QOS_M"})
        with pytest.raises(PermissionDenied):
            grace.get_session(mine.session_id)
        listener.log.wait_for(str(mine.session_id), "AVAILABLE", timeout=10)
        staged = httpx.post(f"{room.url}/_classroom/events", json={"kind": "terminate", "profile": "QOS_L"},
                            headers=_instructor(room))  # fmt: skip
        assert staged.json() == {"terminated": [str(mine.session_id)]}
        listener.log.wait_for(str(mine.session_id), "UNAVAILABLE", timeout=10, status_info="NETWORK_TERMINATED")
        assert grace.get_session(theirs.session_id).qos_status is not QosStatus.UNAVAILABLE  # only QOS_L's
        room.stage("profile_status", profile="QOS_M", status="INACTIVE")
        with pytest.raises(Exception, match="QOS_PROFILE_NOT_APPLICABLE"):
            ada.create_session(device={"phoneNumber": "+36700000003"}, **{**FIELDS, "qos_profile": "QOS_M"})
        wait_until(lambda: room.overview()["students"][0]["notifications"]["delivered"] == 2, message="deliveries")
    overview = httpx.get(f"{room.url}/_classroom/overview", headers=_instructor(room)).json()
    ada_row, grace_row = overview["students"][:2]
    assert (
        ada_row["sessions"] == {"UNAVAILABLE": 1}
        and ada_row["errors"]["QUALITY_ON_DEMAND.QOS_PROFILE_NOT_APPLICABLE"] == 1
    )
    assert grace_row["errors"] == {"PERMISSION_DENIED": 1} and grace_row["requests"] >= 3
    assert {s["owner"] for s in overview["sessions"]} == {"student-01", "student-02"}
    assert all("sink" not in s for s in overview["sessions"])


def test_the_command_writes_the_roster_and_shows_no_key(tmp_path: Path) -> None:
    roster = tmp_path / "class.csv"
    process, first = qodlab_process("classroom", "--students", "2", "--roster", str(roster), "--rate", "20")
    try:
        assert "qodlab classroom serving http://127.0.0.1:" in first, first
        url = first.split()[3]
        assert process.stdout is not None
        printed = first + process.stdout.readline() + process.stdout.readline()
        keys = [line.split(",")[1] for line in roster.read_text().splitlines()[1:]]
        assert len(keys) == 3 and all(key not in printed for key in keys)
        assert stat.S_IMODE(os.stat(roster).st_mode) == 0o600
        answer = httpx.post(
            f"{url}/qos-profiles/v1/retrieve-qos-profiles", json={}, headers={"x-rapidapi-key": keys[0]}
        )
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.wait(10)
