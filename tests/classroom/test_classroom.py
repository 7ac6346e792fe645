"""Classroom mode over real HTTP: keys, isolation, the rate limit, the instructor's overview and events."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from qodlab import Classroom, EventLog, Listener, PermissionDenied, QodClient, QosStatus, dashboard
from qodlab.classroom import INSTRUCTOR, Instructor, Roster
from qodlab.widgets import ClassroomView

from ..conftest import qodlab_process, wait_until

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
        conflict = httpx.post(
            f"{room.url}/quality-on-demand/v1/sessions",
            headers={"authorization": f"Bearer {room.roster.key('student-02')}"},
            json={
                "device": {"phoneNumber": "+36700000001"},
                "applicationServer": {"ipv4Address": "233.252.0.2"},
                "qosProfile": "QOS_L",
                "duration": 60,
            },
        )
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
    # The design: a bucket of `rate` tokens refilled at `rate` a second, so in T seconds at most
    # rate + rate*T requests pass. A concurrent burst of 20 over one keep-alive pool makes T small
    # on any machine; the bound is checked whatever T was, and a 429 is required whenever
    # T < (20 - rate - 1) / rate (2.8 s here).
    headers = {"authorization": f"Bearer {room.roster.key('student-01')}"}
    count, rate = 20, 5
    with httpx.Client(headers=headers, limits=httpx.Limits(max_connections=count)) as http:
        started = time.monotonic()
        with ThreadPoolExecutor(count) as pool:
            answers = list(
                pool.map(
                    lambda _: http.post(f"{room.url}/qos-profiles/v1/retrieve-qos-profiles", json={}), range(count)
                )
            )
        elapsed = time.monotonic() - started
    limited = [a for a in answers if a.status_code == 429]
    assert count - len(limited) <= rate + rate * elapsed + 1, (len(limited), elapsed)
    if elapsed < (count - rate - 1) / rate:
        assert limited
    assert all(a.headers["retry-after"].isdigit() and a.json()["code"] == "TOO_MANY_REQUESTS" for a in limited)
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
        staged = httpx.post(
            f"{room.url}/_classroom/events", json={"kind": "terminate", "profile": "QOS_L"}, headers=_instructor(room)
        )
        assert staged.json() == {"staged": "terminate", "terminated": [str(mine.session_id)]}
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


def _create(client: QodClient, phone: str, **fields: object) -> str:
    return str(client.create_session(device={"phoneNumber": phone}, **{**FIELDS, **fields}).session_id)


def test_events_staged_for_one_student_touch_only_theirs(room: Classroom) -> None:
    stage = f"{room.url}/_classroom/events"
    with Listener(EventLog()) as listener, _client(room, "student-01") as ada, _client(room, "student-02") as grace:
        sink = {"sink": listener.url, "sink_token": listener.token}
        staged = httpx.post(
            stage, json={"kind": "fail_provisioning", "student": "student-02"}, headers=_instructor(room)
        )
        assert staged.json() == {"staged": "fail_provisioning"}
        room.stage("drop_notifications", student="student-01", count=1)
        theirs = _create(grace, "+36700000002", **sink)  # fails: the one staged for student-02
        mine = _create(ada, "+36700000001", **sink)  # provisioned, but its AVAILABLE is dropped
        again = _create(grace, "+36700000003", **sink)  # the count is spent: provisioned
        listener.log.wait_for(theirs, "UNAVAILABLE", timeout=10, status_info="NETWORK_TERMINATED")
        listener.log.wait_for(again, "AVAILABLE", timeout=10)
        assert ada.get_session(mine).qos_status is QosStatus.AVAILABLE and not listener.log.has(mine, "AVAILABLE")
        wait_until(lambda: room.overview()["students"][0]["notifications"]["failed"] == 1, message="the drop")
    for body, status, code in [
        ({"kind": "speed", "speed": 5, "student": "student-01"}, 400, "INVALID_ARGUMENT"),  # one clock for all
        ({"kind": "terminate", "student": "nobody"}, 404, "NOT_FOUND"),
        ({"kind": "fail_provisioning", "profile": "QOS_XXL"}, 404, "NOT_FOUND"),
        ({"kind": "profile_status", "profile": "QOS_M"}, 400, "INVALID_ARGUMENT"),
        ({"kind": "explode"}, 400, "INVALID_ARGUMENT"),
        ({"kind": "drop_notifications", "count": 0}, 400, "INVALID_ARGUMENT"),
    ]:
        answer = httpx.post(stage, json=body, headers=_instructor(room))
        assert (answer.status_code, answer.json()["code"]) == (status, code), body


def test_the_changes_feed_gives_every_change_once_with_its_owner(room: Classroom) -> None:
    feed = f"{room.url}/_classroom/changes"
    with _client(room, "student-03") as carol:
        sid = _create(carol, "+36700000009")
        wait_until(lambda: carol.get_session(sid).qos_status is QosStatus.AVAILABLE, message="AVAILABLE")
        carol.delete_session(sid)
    page = wait_until(lambda: (p := httpx.get(feed, headers=_instructor(room)).json())["next"] >= 2 and p)
    assert [(c["sessionId"], c["owner"], c["qosStatus"], c["statusInfo"]) for c in page["changes"]] == [
        (sid, "student-03", "AVAILABLE", None),
        (sid, "student-03", "UNAVAILABLE", "DELETE_REQUESTED"),
    ]
    assert all(c["createdAt"] <= c["time"] for c in page["changes"])
    assert httpx.get(feed, params={"after": page["next"]}, headers=_instructor(room)).json()["changes"] == []
    student = {"authorization": f"Bearer {room.roster.key('student-03')}"}
    assert httpx.get(feed, headers=student).status_code == 403
    assert httpx.get(feed, params={"after": -1}, headers=_instructor(room)).status_code == 400


def test_the_classroom_view_groups_the_timeline_by_student_and_stages_events(room: Classroom) -> None:
    view = room.view(interval=0.1)
    try:
        assert view.pump.interval == 0.2  # at most five redraws a second, however busy the class
        with _client(room, "student-02") as grace, _client(room, "student-01") as ada:
            theirs = _create(grace, "+36700000002")
            _create(ada, "+36700000001")
        rows = lambda: tuple(view.timeline.widget.layout.yaxis.categoryarray or ())  # noqa: E731
        wait_until(lambda: len(rows()) == 2, message="a row per session")
        assert [row.split(" · ")[0] for row in rows()] == ["student-01", "student-02"]  # grouped by student
        assert all(name in view.table.value for name in room.roster.names)
        stager = view.stager
        stager.kind.value, stager.student.value = "terminate", "student-02"
        assert stager.stage() == {"staged": "terminate", "terminated": [theirs]}
        assert "Terminated 1 sessions" in stager.result.value
        view.instructor.log.wait_for(theirs, "UNAVAILABLE", timeout=10, status_info="NETWORK_TERMINATED")
        stager.kind.value = "profile_status"
        assert stager.profile.options[0][1] == "QOS_E" and stager.fields["student"].layout.display == "none"
        stager.profile.value, stager.status.value = "QOS_E", "INACTIVE"
        assert stager.stage() == {"staged": "profile_status"}
        stager.kind.value, stager.count.value = "fail_provisioning", 1
        stager.profile.value = ""
        assert stager.stage() == {"staged": "fail_provisioning"}
        stager.kind.value, stager.speed.value = "speed", 120
        stager.stage()
        wait_until(lambda: "clock at 120x" in view.header.value, message="the header to show the speed")
    finally:
        view.close()
    assert room.sandbox.speed == 120 and room.sandbox.engine.profiles["QOS_E"].status.value == "INACTIVE"


def test_a_wrong_instructor_key_is_said_in_the_view(room: Classroom) -> None:
    view = ClassroomView(room.url, "not-the-key", interval=0.1)
    try:
        wait_until(lambda: "401 UNAUTHENTICATED" in view.header.value, message="the header to say why")
        assert "Could not load the profiles" in view.stager.result.value
        assert "not-the-key" not in repr(view.instructor)
    finally:
        view.close()


def test_a_student_dashboard_needs_only_the_url_and_key(room: Classroom) -> None:
    board = dashboard(url=room.url, api_key=room.roster.key("student-01"))
    try:
        assert board.workbench.notifications == "direct"  # the classroom is on this machine
        board.form.create.click()
        [tracked] = board.workbench.sessions()
        board.workbench.log.wait_for(str(tracked.info.session_id), "AVAILABLE", timeout=10)
        assert room.roster.key("student-01") not in board.header.value
    finally:
        board.close()
        board.workbench.listener.stop()  # type: ignore[union-attr]
    wrong = dashboard(url=room.url, api_key="a-guess")
    try:
        assert "401 UNAUTHENTICATED" in wrong.form.result.value  # said, not raised
    finally:
        wrong.close()
        wrong.workbench.listener.stop()  # type: ignore[union-attr]


def test_a_student_elsewhere_gets_notifications_through_the_classroom_relay(room: Classroom) -> None:
    board = dashboard(url=room.url, api_key=room.roster.key("student-02"), notifications="relay")
    try:
        listener = board.workbench.listener
        assert listener is not None and listener.url.startswith(f"{room.url}/_relay/")
        board.form.create.click()
        [tracked] = board.workbench.sessions()
        board.workbench.log.wait_for(str(tracked.info.session_id), "AVAILABLE", timeout=10)
        assert listener.url not in str(room.overview())  # the channel is a secret: not in the overview
    finally:
        board.close()
        board.workbench.listener.stop()  # type: ignore[union-attr]


def test_the_dashboard_shows_that_it_waits_out_a_429(tmp_path: Path) -> None:
    with Classroom(students=1, rate=0.5, speed=60) as slow:
        board = dashboard(url=slow.url, api_key=slow.roster.key("student-01"), notifications="poll")
        try:
            for _ in range(3):  # the bucket holds one request: the next ones wait about 2 s each
                threading.Thread(target=board.workbench.try_load_profiles, daemon=True).start()
            wait_until(lambda: "rate limited (429): retrying in" in board.header.value, message="the header to say so")
            wait_until(lambda: "qodlab-waiting" not in board.header.value, timeout=30, message="the wait to end")
            assert board.workbench.client.retries >= 1
        finally:
            board.close()


def test_the_instructor_reads_from_where_it_stopped(room: Classroom) -> None:
    with Instructor(room.url, room.roster.key(INSTRUCTOR)) as teacher, _client(room, "student-01") as ada:
        sid = _create(ada, "+36700000005")
        wait_until(lambda: teacher.log.has(sid, "AVAILABLE"), message="the change in the instructor's log")
        reads = teacher.reads
        wait_until(lambda: teacher.reads >= reads + 2, message="two more reads")
        assert len(teacher.log.df[teacher.log.df["session_id"] == sid]) == 2  # REQUESTED, AVAILABLE: once each
        assert teacher.owners() == {sid: "student-01"} and room.roster.key(INSTRUCTOR) not in repr(teacher)


def test_with_oidc_each_student_is_an_oauth_client_and_isolation_holds(tmp_path: Path) -> None:
    from qodlab.client.auth import ClientCredentials

    with Classroom(students=2, auth="oidc", speed=60, roster=tmp_path / "roster.csv") as room:
        lines = [line.split(",") for line in (tmp_path / "roster.csv").read_text().splitlines()]
        assert lines[0] == ["name", "api_key", "client_id", "client_secret"]
        assert [(row[0], row[1], row[2]) for row in lines[1:3]] == [
            ("student-01", "", "student-01"),
            ("student-02", "", "student-02"),
        ]
        secrets = {row[0]: row[3] for row in lines[1:3]}
        assert stat.S_IMODE(os.stat(tmp_path / "roster.csv").st_mode) == 0o600

        def client(name: str) -> QodClient:
            return QodClient(
                room.url, auth=ClientCredentials(client_id=name, client_secret=secrets[name], issuer=room.url)
            )

        api = f"{room.url}/qos-profiles/v1/retrieve-qos-profiles"
        assert httpx.post(api, json={}, headers={"authorization": f"Bearer {secrets['student-01']}"}).status_code == 401
        with client("student-01") as ada, client("student-02") as grace:
            sid = _create(ada, "+36700000001")
            with pytest.raises(PermissionDenied):
                grace.get_session(sid)
            assert grace.retrieve_sessions({"phoneNumber": "+36700000001"}) == []
            assert all(secret not in repr(ada) + repr(ada.auth) for secret in secrets.values())
        overview = httpx.get(f"{room.url}/_classroom/overview", headers=_instructor(room)).json()
        assert [s["owner"] for s in overview["sessions"]] == ["student-01"]
        assert overview["students"][1]["errors"] == {"PERMISSION_DENIED": 1}
        teacher = Instructor(room.url, room.roster.key(INSTRUCTOR))
        assert "QOS_L" in teacher.profiles()  # the instructor keeps a key, and needs no token
        teacher.stop()
