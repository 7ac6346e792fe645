"""`wait_for()` on sessions and assignments, sync and async, over real HTTP against the sandbox.

Polling (no log) and notifications (a Listener and its log); a timeout names the status it was in;
a wait that can no longer succeed fails at once. Every deadline is generous: the assertions are
about which error and what it says, and that an impossible wait does not run out its clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from qodlab import EventLog, Listener, QodError, Sandbox, WaitError, WaitTimeout

from ..conftest import session_fields, wait_until

SLOW = "+99900000030"  # AVAILABLE after 30 sandbox seconds
FAILS = "+99900000503"  # provisioning ends UNAVAILABLE / NETWORK_TERMINATED
SPEED = 10.0  # 30 sandbox seconds are 3 real seconds: a 0.3 s timeout is well short of them


@pytest.fixture
def slow_sandbox() -> Iterator[Sandbox]:
    with Sandbox(speed=SPEED, retry_backoff=0.05, reuse=False) as sb:
        yield sb


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener(EventLog(), path="/waiting") as li:
        yield li


def test_wait_for_polls_until_available_and_returns_the_refreshed_session(slow_sandbox: Sandbox) -> None:
    with slow_sandbox.client() as client:
        session = client.create_session(**session_fields(device={"phoneNumber": SLOW}, duration=600))
        assert session.qos_status == "REQUESTED"
        assert session.wait_for("AVAILABLE", timeout=30) is session
        assert session.qos_status == "AVAILABLE"
        assert session.started_at is not None  # refreshed: the fields the API filled in on the way
        session.extend(60)  # what the README's first block does next: no 409 once AVAILABLE


def test_a_timeout_is_a_qod_error_naming_the_status_it_was_in(slow_sandbox: Sandbox) -> None:
    slow_sandbox.speed = 1  # REQUESTED for 30 real seconds: the 0.3 s wait ends well before, however late
    with slow_sandbox.client() as client:
        session = client.create_session(**session_fields(device={"phoneNumber": SLOW}, duration=600))
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as caught:
            session.wait_for("available", timeout=0.3)
        assert time.monotonic() - started < 5  # bounded by the timeout, not by the provisioning
        error = caught.value
        assert isinstance(error, QodError) and isinstance(error, TimeoutError)
        assert (error.wanted, error.status, error.ident) == ("AVAILABLE", "REQUESTED", str(session.session_id))
        assert "did not become AVAILABLE within 0.3 s" in str(error)
        assert "still REQUESTED" in str(error)


def test_a_session_that_ended_first_fails_at_once_not_at_the_timeout(slow_sandbox: Sandbox) -> None:
    with slow_sandbox.client() as client:  # readable for 36 real seconds once it ended
        session = client.create_session(**session_fields(device={"phoneNumber": FAILS}))
        started = time.monotonic()
        with pytest.raises(WaitError) as caught:
            session.wait_for("AVAILABLE", timeout=60)
        assert time.monotonic() - started < 30
        assert not isinstance(caught.value, WaitTimeout)
        assert (caught.value.status, caught.value.status_info) == ("UNAVAILABLE", "NETWORK_TERMINATED")
        assert "UNAVAILABLE (NETWORK_TERMINATED), past AVAILABLE" in str(caught.value)
        assert session.wait_for("UNAVAILABLE", timeout=5).status_info == "NETWORK_TERMINATED"


def test_a_deleted_session_is_unavailable_and_never_available_again(slow_sandbox: Sandbox) -> None:
    with slow_sandbox.client() as client:  # a minute of real time to see it AVAILABLE, however busy the machine
        session = client.create_session(**session_fields(duration=600))
        session.wait_for("AVAILABLE", timeout=30)
        session.delete()
        assert session.wait_for("UNAVAILABLE", timeout=5).qos_status == "UNAVAILABLE"  # 404: forgotten
        with pytest.raises(WaitError, match="gone"):
            session.wait_for("AVAILABLE", timeout=5)


def test_an_unknown_status_is_a_value_error_listing_the_statuses(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        session = client.create_session(**session_fields())
        with pytest.raises(ValueError, match="REQUESTED, AVAILABLE, UNAVAILABLE"):
            session.wait_for("ACTIVE")


def test_with_a_listener_it_returns_on_the_notification(slow_sandbox: Sandbox, listener: Listener) -> None:
    with slow_sandbox.client() as client:
        fields = session_fields(listener.url, listener.token, device={"phoneNumber": SLOW}, duration=600)
        session = client.create_session(**fields)
        session.wait_for("AVAILABLE", timeout=30, log=listener)
        assert listener.log.has(str(session.session_id), "AVAILABLE")  # it waited for the notification itself
        assert session.qos_status == "AVAILABLE"
        session.delete()
        session.wait_for("UNAVAILABLE", timeout=30, log=listener.log)  # an EventLog does as well
        assert listener.log.has(str(session.session_id), "UNAVAILABLE", "DELETE_REQUESTED")


def test_a_notification_that_never_comes_says_what_the_api_says_and_what_the_listener_refused(
    slow_sandbox: Sandbox, listener: Listener
) -> None:
    with slow_sandbox.client() as client:
        session = client.create_session(**session_fields(listener.url, "not-the-listener-token", duration=600))
        wait_until(lambda: not listener.rejections.empty, message="the listener to refuse the notification")
        with pytest.raises(WaitTimeout) as caught:
            session.wait_for("AVAILABLE", timeout=3, log=listener)
        text = str(caught.value)
        assert "the API says it is AVAILABLE, but no notification of it reached the log" in text
        assert "the listener refused requests (last: 401" in text
        assert "not-the-listener-token" not in text and listener.token not in text


def test_a_session_that_ended_first_is_seen_in_the_log(sandbox: Sandbox, listener: Listener) -> None:
    with sandbox.client() as client:
        session = client.create_session(**session_fields(listener.url, listener.token, device={"phoneNumber": FAILS}))
        with pytest.raises(WaitError, match="past AVAILABLE") as caught:
            session.wait_for("AVAILABLE", timeout=60, log=listener)
        assert not isinstance(caught.value, WaitTimeout)


def test_async_sessions_wait_by_polling_and_on_notifications(slow_sandbox: Sandbox, listener: Listener) -> None:
    async def scenario() -> tuple[str, str, str]:
        async with slow_sandbox.async_client() as client:
            slow_sandbox.speed = 1  # REQUESTED for 30 real seconds: the 0.3 s wait ends well before
            polled = await client.create_session(**session_fields(device={"phoneNumber": SLOW}, duration=600))
            with pytest.raises(WaitTimeout, match="still REQUESTED"):
                await polled.wait_for("AVAILABLE", timeout=0.3)
            slow_sandbox.advance(30)
            await polled.wait_for("AVAILABLE", timeout=30)
            fields = session_fields(
                listener.url, listener.token, device={"phoneNumber": "+36721601234568"}, duration=600
            )
            notified = await client.create_session(**fields)
            await notified.wait_for("AVAILABLE", timeout=30, log=listener)
            await notified.delete()
            await notified.wait_for("UNAVAILABLE", timeout=30, log=listener)
            return polled.qos_status, notified.qos_status, str(notified.session_id)

    polled, notified, ident = asyncio.run(scenario())
    assert (polled, notified) == ("AVAILABLE", "UNAVAILABLE")
    assert listener.log.has(ident, "UNAVAILABLE", "DELETE_REQUESTED")


def test_an_assignment_waits_through_its_revocation(listener: Listener) -> None:
    with Sandbox(speed=SPEED, revocation_delay=10.0, reuse=False) as sb, sb.client() as client:
        assignment = client.assign_qos(
            {"phoneNumber": "+36721601234569"}, "QOS_L", sink=listener.url, sink_token=listener.token
        )
        assert assignment.wait_for("AVAILABLE", timeout=30).status == "AVAILABLE"
        assert assignment.revoke()  # 202: under way for 10 sandbox seconds (1 real second)
        assert (assignment.status, assignment.status_info) == ("AVAILABLE", "DELETE_REQUESTED")
        assignment.wait_for("UNAVAILABLE", timeout=30, log=listener)
        assert assignment.status == "UNAVAILABLE"
        assert listener.log.has(str(assignment.assignment_id), "UNAVAILABLE", "DELETE_REQUESTED")
        with pytest.raises(WaitError, match=r"assignment .* past AVAILABLE"):
            assignment.wait_for("AVAILABLE", timeout=5)


def test_an_async_assignment_waits_by_polling() -> None:
    async def scenario() -> str:
        with Sandbox(speed=SPEED, revocation_delay=10.0, reuse=False) as sb:
            async with sb.async_client() as client:
                assignment = await client.assign_qos({"phoneNumber": "+36721601234569"}, "QOS_M")
                await assignment.wait_for("AVAILABLE", timeout=30)
                assert await assignment.revoke()
                await assignment.wait_for("UNAVAILABLE", timeout=30)
                return str(assignment.status)

    assert asyncio.run(scenario()) == "UNAVAILABLE"
