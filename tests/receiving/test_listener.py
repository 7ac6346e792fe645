"""The webhook listener over real HTTP: every shape, every rejection, duplicates, concurrency."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from qodlab import EventLog, Listener, QodClient, QosStatus, Sandbox, ServerStartError, SettingsChanged, StatusInfo
from qodlab.errors import InvalidRequest
from qodlab.notifications import NOTIFICATION_SHAPES, Shape, build_notification, content_type
from qodlab.receiving.listener import MAX_BODY

from ..conftest import session_fields

TOKEN = "listener-test-token"


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener(EventLog(), token=TOKEN) as li:
        yield li


def _body(
    shape: Shape = "cloudevent-v1",
    event_id: str | None = None,
    session: str | None = None,
    status: str = "AVAILABLE",
    info: str | None = None,
) -> dict[str, object]:
    return build_notification(
        shape,
        event_id=event_id or str(uuid.uuid4()),
        session_id=session or str(uuid.uuid4()),
        qos_status=status,
        status_info=info,
        time="2026-11-26T10:00:00.000Z",
    )


def _post(
    listener: Listener,
    body: object,
    token: str | None = TOKEN,
    kind: str = "application/cloudevents+json",
    **kwargs: object,
) -> httpx.Response:
    headers = {"content-type": kind}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(listener.url, content=content, headers=headers, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", NOTIFICATION_SHAPES)
def test_every_shape_is_accepted_and_normalised(listener: Listener, shape: Shape) -> None:
    session = str(uuid.uuid4())
    body = _body(shape, session=session, status="UNAVAILABLE", info="NETWORK_TERMINATED")
    response = _post(listener, body, kind=content_type(shape))
    assert response.status_code == 204, response.text
    row = listener.log.df.iloc[0]
    assert row["session_id"] == session
    assert row["qos_status"] == "UNAVAILABLE" and row["status_info"] == "NETWORK_TERMINATED"
    assert row["shape"] == shape
    assert str(row["event_time"]) == "2026-11-26 10:00:00+00:00"
    assert json.loads(row["raw"]) == body


def test_plain_json_content_type_is_accepted(listener: Listener) -> None:
    assert _post(listener, _body(), kind="application/json; charset=utf-8").status_code == 204


def test_v09_event_without_id_is_deduplicated_by_content(listener: Listener) -> None:
    body = {
        "event": {
            "eventType": "QOS_STATUS_CHANGED",
            "eventTime": "2026-11-26T10:00:00Z",
            "eventDetail": {"sessionId": "s-1", "qosStatus": "AVAILABLE"},
        }
    }
    assert _post(listener, body, kind="application/json").status_code == 204
    assert _post(listener, body, kind="application/json").status_code == 204
    assert len(listener.log) == 1 and listener.log.df["event_id"][0].startswith("sha256:")


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code", "says"),
    [
        ({"token": None}, 401, "UNAUTHENTICATED", "Missing"),
        ({"token": "wrong"}, 401, "UNAUTHENTICATED", "Invalid"),
        ({"body": b"{not json"}, 400, "INVALID_ARGUMENT", "Malformed JSON"),
        ({"body": b"[1, 2]"}, 400, "INVALID_ARGUMENT", "JSON object"),
        ({"body": {"hello": "world"}}, 422, "UNPROCESSABLE_ENTITY", "not a QoS notification"),
        (
            {"body": {"specversion": "1.0", "type": "com.example.other", "id": "1", "data": {}}},
            422,
            "UNPROCESSABLE_ENTITY",
            "type",
        ),
        ({"status": "SUPERB"}, 422, "UNPROCESSABLE_ENTITY", "qosStatus"),
        ({"info": "BORED"}, 422, "UNPROCESSABLE_ENTITY", "statusInfo"),
        ({"kind": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE", "text/plain"),
        ({"body": b"x" * (MAX_BODY + 1)}, 413, "PAYLOAD_TOO_LARGE", "limit"),
    ],
)
def test_rejections_get_a_camara_error_and_are_recorded(
    listener: Listener, request_kwargs: dict[str, object], status: int, code: str, says: str
) -> None:
    body = request_kwargs.pop("body", None) or _body(
        status=str(request_kwargs.pop("status", "AVAILABLE")),
        info=request_kwargs.pop("info", None),  # type: ignore[arg-type]
    )
    response = _post(listener, body, **request_kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    error = response.json()
    assert error["status"] == status and error["code"] == code and says in error["message"]
    rejected = listener.rejections
    assert list(rejected["status"]) == [status] and says in rejected["reason"][0]
    assert TOKEN not in rejected.to_csv() and TOKEN not in response.text
    assert len(listener.log) == 0
    assert _post(listener, _body()).status_code == 204  # and it carries on


def test_chunked_oversized_body_is_413(listener: Listener) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * (MAX_BODY // 10)

    response = httpx.post(
        listener.url, content=chunks(), headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    )
    assert response.status_code == 413


def test_wrong_method_and_path(listener: Listener) -> None:
    response = httpx.get(listener.url, headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    elsewhere = httpx.post(listener.url.replace("/qod", "/other"), json=_body())
    assert elsewhere.status_code == 404 and elsewhere.json()["code"] == "NOT_FOUND"
    assert list(listener.rejections["status"]) == [405, 404]


def test_duplicate_ids_are_acknowledged_and_stored_once(listener: Listener) -> None:
    body = _body()
    assert [_post(listener, body).status_code for _ in range(3)] == [204, 204, 204]
    assert len(listener.log) == 1 and listener.accepted == 1 and listener.duplicates == 2


def test_bearer_prefixed_token_is_the_same_token() -> None:
    with Listener(token="Bearer abc", port=0, path="/hook") as li:
        assert li.token == "abc"
        assert httpx.post(li.url, json=_body(), headers={"authorization": "Bearer abc"}).status_code == 204
        assert httpx.post(li.url, json=_body(), headers={"authorization": "bearer abc"}).status_code == 204


def test_a_token_no_header_could_carry_is_refused_at_once() -> None:
    for token in ("two words", "Bearer a b", "tök", "semi;colon"):
        with pytest.raises(InvalidRequest, match="token: only") as refused:
            Listener(token=token, reuse=False)
        assert token not in str(refused.value)


def test_token_is_generated_and_masked() -> None:
    with Listener() as li:
        assert li.token_generated and len(li.token) >= 24
        assert li.token not in repr(li)
        assert httpx.post(li.url, json=_body(), headers={"authorization": f"Bearer {li.token}"}).status_code == 204


def test_without_required_token() -> None:
    with Listener(require_token=False, path="/open") as li:
        assert httpx.post(li.url, json=_body()).status_code == 204


def test_many_concurrent_senders_lose_and_double_nothing(listener: Listener) -> None:
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def sender(worker: int) -> None:
        with httpx.Client(headers={"authorization": f"Bearer {TOKEN}"}) as client:
            for i in range(60):
                event_id = f"w{worker}-{i % 50}"  # ten of the sixty are repeats
                body = _body(event_id=event_id, session=f"s{worker}-{i % 50}")
                if client.post(listener.url, json=body).status_code == 204:
                    with lock:
                        acknowledged.add(event_id)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    frame = listener.log.df
    assert len(acknowledged) == 400
    assert sorted(frame["event_id"]) == sorted(acknowledged)
    assert frame["event_id"].is_unique


def test_the_same_line_run_again_restarts_and_another_line_starts_beside_it() -> None:
    logs, made = [EventLog(), EventLog()], []
    with pytest.warns(SettingsChanged, match="another log"):
        for log in logs:
            made.append(Listener(log, port=0, path="/rerun"))  # the same line, run again
    first, again = made
    beside = Listener(logs[0], port=0, path="/rerun")  # another line: another listener
    try:
        assert again.log is logs[1] and first.log is logs[0]
        assert again.url == first.url and not first.running and first.replaced_by is again
        assert beside.running and again.running and beside.url != again.url
    finally:
        again.stop()
        beside.stop()


def test_stop_frees_the_port_and_start_comes_back_on_it(listener: Listener) -> None:
    port = listener.port
    listener.stop()
    with pytest.raises(httpx.ConnectError):
        _post(listener, _body())
    listener.start()
    assert listener.port == port
    assert _post(listener, _body()).status_code == 204


def test_port_in_use_raises_at_once() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServerStartError, match=str(port)):
            Listener(port=port)


def test_sandbox_to_listener_end_to_end(sandbox: Sandbox, client: QodClient) -> None:
    with Listener(EventLog(), path="/e2e") as listener:
        sessions = [
            client.create_session(
                **session_fields(listener.url, listener.token, duration=60, device={"phoneNumber": f"+3675000{i:04d}"})
            )
            for i in range(5)
        ]
        for session in sessions:
            listener.log.wait_for(session.session_id, QosStatus.UNAVAILABLE, timeout=10)
        frame = listener.log.df
        for session in sessions:
            mine = frame[frame["session_id"] == str(session.session_id)]
            assert list(mine["qos_status"]) == ["AVAILABLE", "UNAVAILABLE"]
            assert list(mine["status_info"].astype(object).fillna("-")) == ["-", "DURATION_EXPIRED"]
        assert listener.rejections.empty


def test_durable_listen_process_killed_loses_no_acknowledged_event(tmp_path: os.PathLike[str]) -> None:
    db = os.path.join(tmp_path, "events.sqlite")
    process = subprocess.Popen(
        [sys.executable, "-m", "qodlab", "listen", "--db", db, "--token", TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]  # printed once it serves
        acknowledged = 0
        with httpx.Client(headers={"authorization": f"Bearer {TOKEN}"}) as client:
            for i in range(40):
                body = _body(
                    event_id=f"e{i}",
                    status="UNAVAILABLE" if i % 2 else "AVAILABLE",
                    info="DELETE_REQUESTED" if i % 2 else None,
                )
                acknowledged += client.post(url, json=body).status_code == 204
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert acknowledged == 40
    reopened = EventLog(db)
    assert len(reopened) == 40 and reopened.df["event_id"].is_unique
    assert reopened.df["status_info"].iloc[1] == StatusInfo.DELETE_REQUESTED.value


def test_json_that_only_the_standard_library_reads_is_still_accepted(listener: Listener) -> None:
    """The listener decodes with orjson; what orjson refuses and json reads goes to json (same acceptance)."""
    body = _body()
    text = json.dumps({**body, "extensions": {"big": 2**70, "ratio": float("nan"), "note": "\ud83d"}})
    assert _post(listener, text.encode()).status_code == 204
    assert json.loads(listener.log.df.iloc[0]["raw"])["extensions"]["big"] == 2**70
    assert _post(listener, b"\xff\xfe{}").status_code == 400  # not UTF-8 (RFC 8259): malformed
