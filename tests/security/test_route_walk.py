"""Every route of the sandbox, walked in every mode: each is declared for an audience, and an anonymous caller and
another student are refused wherever they must be (issue #32). A route added later is walked too."""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from qodlab import Classroom, Sandbox
from qodlab.classroom import INSTRUCTOR
from qodlab.sandbox.audience import Declared

PHONE = "+36700000077"
BODY = {
    "device": {"phoneNumber": PHONE},
    "applicationServer": {"ipv4Address": "233.252.0.2"},
    "qosProfile": "QOS_L",
    "duration": 600,
    "requestedAdditionalDuration": 60,
}
# Public by design (SECURITY.md): health, the API's documentation, the OpenID provider's endpoints (they check client
# credentials themselves) and the keys that sign PRIVATE_KEY_JWT assertions. A new public route is a decision.
PUBLIC = {
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/health",
    "/.well-known/qodlab-notifications-jwks.json",
    "/.well-known/openid-configuration",
    "/oauth2/jwks",
    "/oauth2/token",
    "/oauth2/authorize",
    "/bc-authorize",
}


@dataclass
class Mode:
    """A sandbox as one setting serves it, with the headers of its callers."""

    url: str
    sandbox: Sandbox
    owner: dict[str, str]  # the caller who owns a session (a student, or the key's holder)
    other: dict[str, str] | None = None  # another student, in a classroom
    guarded: bool = True  # the API refuses an anonymous caller
    controls_guarded: bool = True  # the controls refuse an anonymous caller
    tally: dict[str, int] = field(default_factory=dict)


def _token(url: str, client: str, secret: str) -> dict[str, str]:
    response = httpx.post(f"{url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client, secret))
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(params=["plain", "api_key", "oidc", "classroom", "classroom-oidc"])
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Mode, Classroom | None]]:
    name = request.param
    if name.startswith("classroom"):
        auth = "oidc" if name.endswith("oidc") else "key"
        with Classroom(students=2, rate=1000, roster=tmp_path / "roster.csv", auth=auth) as room:  # type: ignore[arg-type]
            roster = room.roster

            def student(who: str) -> dict[str, str]:
                if auth == "key":
                    return {"authorization": f"Bearer {roster.key(who)}"}
                return _token(room.url, who, roster.key(who))

            yield name, Mode(room.url, room.sandbox, student("student-01"), student("student-02")), room
        return
    options = {"plain": {}, "api_key": {"api_key": "k" * 24}, "oidc": {"auth": "oidc"}}[name]
    with Sandbox(reuse=False, **options) as sandbox:  # type: ignore[arg-type]
        if name == "plain":
            yield name, Mode(sandbox.url, sandbox, {}, guarded=False, controls_guarded=False), None
        elif name == "api_key":
            yield name, Mode(sandbox.url, sandbox, {"authorization": "Bearer " + "k" * 24}), None
        else:
            minted = httpx.post(f"{sandbox.url}/_sandbox/tokens", json={"client": "app-1"}).json()["access_token"]
            other = httpx.post(f"{sandbox.url}/_sandbox/tokens", json={"client": "app-2"}).json()["access_token"]
            owner, stranger = {"authorization": f"Bearer {minted}"}, {"authorization": f"Bearer {other}"}
            # a laptop's OIDC sandbox: its controls are its owner's (the Host check keeps web pages out)
            yield name, Mode(sandbox.url, sandbox, owner, stranger, controls_guarded=False), None


def _calls(routes: list[Declared], session_id: str) -> Iterator[tuple[str, str, str]]:
    """(audience, method, concrete path) for every method of every route."""
    for route in routes:
        concrete = re.sub(r"\{(sessionId|assignmentId|id)[^}]*\}", session_id, route.path)
        concrete = re.sub(r"\{[^}]*\}", "QOS_L", concrete)
        for method in sorted(route.methods - {"HEAD"}):
            yield route.audience, method, concrete


def test_every_route_declares_its_audience_and_the_public_ones_are_the_known_ones(
    mode: tuple[str, Mode, Classroom | None],
) -> None:
    _, m, _ = mode
    declared = {(route.path, method) for route in m.sandbox.audiences for method in route.methods}
    served = {(path, method.upper()) for path, item in m.sandbox.app.openapi()["paths"].items() for method in item}
    hidden = {(r.path, method) for r in m.sandbox.app.routes if isinstance(r, Route) for method in r.methods or ()}
    assert hidden, "the app's own routes (outside the schema: /health, /docs) are not listed any more"
    assert (served | hidden) - declared == set()  # a route the app serves that no audience was declared for
    public = {route.path for route in m.sandbox.audiences if route.audience == "public"}
    assert public <= PUBLIC, public - PUBLIC


def test_anonymous_callers_and_other_students_are_refused_on_every_route(
    mode: tuple[str, Mode, Classroom | None],
) -> None:
    name, m, room = mode
    created = httpx.post(f"{m.url}/quality-on-demand/v1/sessions", json=BODY, headers=m.owner)
    assert created.status_code == 201, created.text
    session_id = created.json()["sessionId"]
    walked = 0
    with httpx.Client(base_url=m.url, timeout=10) as http:
        for audience, method, path in _calls(list(m.sandbox.audiences), session_id):
            if audience == "public":
                continue
            walked += 1
            json = BODY if method in ("POST", "PUT", "PATCH") else None
            anonymous = http.request(method, path, json=json)
            if (audience == "api" and m.guarded) or (audience == "control" and m.controls_guarded):
                assert anonymous.status_code == 401, (name, method, path, anonymous.text)
                assert anonymous.json()["code"] == "UNAUTHENTICATED"
            assert anonymous.status_code < 500, (name, method, path, anonymous.text)
            if m.other is None:
                continue
            before = room.gate.tally["student-02"].requests if room is not None else 0
            other = http.request(method, path, json=json, headers=m.other)
            assert other.status_code < 500, (name, method, path, other.text)
            if audience == "control" and not m.controls_guarded:
                continue  # a laptop's OIDC sandbox: its controls are its one owner's, whatever client they test
            if session_id in path:  # another's session, named: refused (its id echoed back, nothing more)
                assert other.status_code in (400, 403, 404), (name, method, path, other.text)
            else:  # nothing of another's: not in a list, not in an error
                assert session_id not in other.text, (name, method, path, other.text)
            if audience == "control" and room is not None:
                assert other.status_code == 403, (name, method, path, other.text)
            if audience == "api":
                assert (
                    other.status_code not in (200, 201, 204)
                    or method == "GET"
                    or "retrieve" in path
                    or (path.endswith("/sessions") or path.endswith("/qos-assignments") or "qos-profiles" in path)
                ), (name, method, path, other.text)
                if room is not None:  # the gate saw it: counted, and rate limited (issue #32: /retrieve-sessions)
                    assert room.gate.tally["student-02"].requests == before + 1, (method, path)
    assert walked > 40
    if m.guarded:  # nothing stored was lost (on a plain sandbox, anyone on the laptop is its owner)
        still = httpx.get(f"{m.url}/quality-on-demand/v1/sessions/{session_id}", headers=m.owner)
        assert still.status_code == 200


@pytest.mark.parametrize("mode", ["oidc", "classroom", "classroom-oidc"], indirect=True)  # two callers in each
def test_a_conflict_does_not_name_another_clients_session(mode: tuple[str, Mode, Classroom | None]) -> None:
    _, m, _ = mode
    assert m.other is not None
    mine = httpx.post(f"{m.url}/quality-on-demand/v1/sessions", json=BODY, headers=m.owner).json()["sessionId"]
    theirs = httpx.post(f"{m.url}/quality-on-demand/v1/sessions", json=BODY, headers=m.other)
    assert theirs.status_code == 409 and theirs.json()["code"] == "CONFLICT"
    assert mine not in theirs.text
    again = httpx.post(f"{m.url}/quality-on-demand/v1/sessions", json=BODY, headers=m.owner)
    assert again.status_code == 409 and mine in again.text  # its owner is told which


def test_retrieve_sessions_at_the_root_answers_no_stranger() -> None:
    """The attack as reported: the root release's /retrieve-sessions, anonymous and as another student."""
    with Classroom(students=2, rate=1000) as room:
        ada = {"authorization": f"Bearer {room.roster.key('student-01')}"}
        grace = {"authorization": f"Bearer {room.roster.key('student-02')}"}
        body = {
            **BODY,
            "sink": "https://sink.example/ada",
            "sinkCredential": {
                "credentialType": "ACCESSTOKEN",
                "accessToken": "ada-secret-sink-token",
                "accessTokenType": "bearer",
                "accessTokenExpiresUtc": "2099-01-01T00:00:00Z",
            },
        }
        created = httpx.post(f"{room.url}/quality-on-demand/v1/sessions", json=body, headers=ada)
        assert created.status_code == 201, created.text
        ask = {"device": {"phoneNumber": PHONE}}
        anonymous = httpx.post(f"{room.url}/retrieve-sessions", json=ask)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHENTICATED"
        stranger = httpx.post(f"{room.url}/retrieve-sessions", json=ask, headers=grace)
        assert "sink.example" not in stranger.text and created.json()["sessionId"] not in stranger.text
        own = httpx.post(f"{room.url}/retrieve-sessions", json=ask, headers=ada)
        assert own.status_code == 200 and created.json()["sessionId"] in own.text
        instructor = {"authorization": f"Bearer {room.roster.key(INSTRUCTOR)}"}
        assert httpx.get(f"{room.url}/_sandbox/sessions", headers=instructor).status_code == 200
    assert uuid.UUID(created.json()["sessionId"])


def test_every_api_route_is_rate_limited_per_caller_in_every_mode(mode: tuple[str, Mode, Classroom | None]) -> None:
    """Issue #32: the rate limit applies to every API route, not only behind a classroom's gate. A caller whose
    bucket is empty gets 429 TOO_MANY_REQUESTS with Retry-After on each, and the next caller is not held up."""
    from qodlab.classroom.gate import TokenBucket
    from qodlab.sandbox.ratelimit import CallerLimiter

    name, m, room = mode
    caller = m.other if m.other is not None else m.owner
    created = httpx.post(f"{m.url}/quality-on-demand/v1/sessions", json=BODY, headers=m.owner)
    assert created.status_code == 201, created.text
    if room is None:
        assert m.sandbox.limiter is not None and m.sandbox.limiter.rate >= 1000  # on by default, and generous
    limited = 0
    with httpx.Client(base_url=m.url, timeout=10) as http:
        for audience, method, path in _calls(list(m.sandbox.audiences), created.json()["sessionId"]):
            if audience != "api":
                continue
            if room is not None:  # the student's bucket, emptied but for one request
                room.gate._buckets["student-02"] = TokenBucket(0.001, 1)
            else:
                m.sandbox.limiter = CallerLimiter(0.001, 1)
            json = BODY if method in ("POST", "PUT", "PATCH") else None
            first = http.request(method, path, json=json, headers=caller)
            assert first.status_code != 429, (name, method, path, first.text)
            second = http.request(method, path, json=json, headers=caller)
            assert second.status_code == 429, (name, method, path, second.text)
            assert second.json() == {"status": 429, "code": "TOO_MANY_REQUESTS", "message": second.json()["message"]}
            assert int(second.headers["retry-after"]) >= 1
            limited += 1
            if room is None and caller:  # another caller (credential, else address) has a bucket of its own
                fresh = http.request(method, path, json=json, headers={**caller, "authorization": "Bearer x" * 3})
                assert fresh.status_code != 429, (name, method, path, fresh.text)
    assert limited > 20


def test_a_flood_on_a_plain_sandbox_is_answered_429_and_health_stays_open() -> None:
    with Sandbox(reuse=False, rate_limit=5) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        started = time.monotonic()
        answers = [http.get("/quality-on-demand/v1/sessions/" + str(uuid.uuid4())).status_code for _ in range(100)]
        refilled = math.ceil(5 * (time.monotonic() - started))  # a burst of 50, then 5 a second
        assert 404 in answers and answers.count(429) >= max(1, 100 - 50 - refilled - 1), (refilled, answers)
        assert http.get("/health").status_code == 200  # public routes are not API routes
        assert sandbox.limiter is not None and sandbox.limiter.limited == answers.count(429)


def test_health_answers_without_the_api_key_as_every_public_route_does() -> None:
    with Sandbox(reuse=False, api_key="k" * 24) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        assert http.get("/health").json() == {"status": "ok"}  # was 401: /health was declared for no audience
        assert http.get("/.well-known/qodlab-notifications-jwks.json").status_code == 200
        assert http.get("/qos-profiles/v1/qos-profiles/QOS_E").status_code == 401
