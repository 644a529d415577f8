from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from consolekit import PASSWORD, T0, cheap_hashing, sessions_for, user
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.users import login
from complaintdesk.core.users.models import LoginThrottle, User
from complaintdesk.db import unit_of_work
from complaintdesk.errors import Forbidden


@pytest.fixture(autouse=True)
def _fast_hashes() -> Iterator[None]:
    with cheap_hashing():
        yield


def _attempt(sessions: sessionmaker[Session], name: str, password: str, ip: str, minutes: float) -> str:
    """One sign-in in its own unit of work (rolled back on refusal, as a request would be)."""
    try:
        with unit_of_work(sessions) as s:
            login.authenticate(
                session=s, username=name, password=password, ip=ip, now=T0 + timedelta(minutes=minutes)
            )
    except Forbidden as exc:
        return str(exc.context["reason"])
    return "ok"


def _setup(db_url: str) -> sessionmaker[Session]:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        user(s, "alice", all_accounts=True)
        user(s, "bob", all_accounts=True)
    return sessions


def test_five_failures_lock_the_user_for_fifteen_minutes(db_url: str) -> None:
    sessions = _setup(db_url)
    results = [_attempt(sessions, "alice", "wrong password", f"10.0.0.{i}", i) for i in range(5)]
    assert results == ["invalid"] * 5
    # locked now: even the right password is refused, from any address, without counting further
    assert _attempt(sessions, "alice", PASSWORD, "10.9.9.9", 5) == "locked"
    try:
        with unit_of_work(sessions) as s:
            login.authenticate(
                session=s, username="alice", password=PASSWORD, ip="10.9.9.9", now=T0 + timedelta(minutes=10)
            )
    except Forbidden as exc:
        assert 0 < exc.context["retry_after"] <= 15 * 60
    assert _attempt(sessions, "bob", PASSWORD, "10.9.9.9", 6) == "ok"  # others are not affected
    assert _attempt(sessions, "alice", PASSWORD, "10.9.9.8", 4 + 15.1) == "ok"  # lock expired
    with unit_of_work(sessions) as s:
        alice = s.scalars(select(User).where(User.username == "alice")).one()
        assert alice.failed_logins == 0 and alice.locked_until is None and alice.last_login_at is not None
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("login_failed") == 7  # five wrong passwords plus two attempts while locked
    assert actions.count("user_locked") == 1 and actions.count("login") == 2


def test_failures_spread_beyond_the_window_do_not_lock(db_url: str) -> None:
    sessions = _setup(db_url)
    for minutes in (0, 10, 20, 30, 40, 50):  # never five within 15 minutes
        assert _attempt(sessions, "alice", "wrong password", f"10.0.1.{minutes}", minutes) == "invalid"
    assert _attempt(sessions, "alice", PASSWORD, "10.0.2.1", 51) == "ok"


def test_five_failures_from_one_address_lock_that_address_for_every_user(db_url: str) -> None:
    sessions = _setup(db_url)
    names = ["alice", "bob", "nobody", "carol", "alice"]  # spraying names, some that do not exist
    assert [_attempt(sessions, n, "wrong password", "192.0.2.7", i) for i, n in enumerate(names)] == [
        "invalid"
    ] * 5
    assert _attempt(sessions, "bob", PASSWORD, "192.0.2.7", 6) == "address_locked"
    assert _attempt(sessions, "bob", PASSWORD, "192.0.2.8", 6) == "ok"  # another address is fine
    assert _attempt(sessions, "bob", PASSWORD, "192.0.2.7", 4 + 15.1) == "ok"
    with unit_of_work(sessions) as s:
        row = s.get(LoginThrottle, "ip:192.0.2.7")
        assert row is not None and row.failures == 0  # reset when the lock was set
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "address_locked")).one().actor_ip == (
            "192.0.2.7"
        )


def test_counters_survive_the_callers_rollback_and_are_shared(db_url: str) -> None:
    sessions = _setup(db_url)
    other_process = sessions_for(db_url)  # a second engine: another web process
    for i in range(3):
        assert _attempt(sessions, "alice", "wrong password", "", i) == "invalid"
    for i in range(3, 5):
        assert _attempt(other_process, "alice", "wrong password", "", i) == "invalid"
    assert _attempt(sessions, "alice", PASSWORD, "", 5) == "locked"
    with unit_of_work(other_process) as s:
        failed = s.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")).all()
        assert len(failed) == 6
        assert all("wrong password" not in str(e.details) for e in failed)


def test_unknown_and_inactive_users_get_the_same_answer_as_a_wrong_password(db_url: str) -> None:
    sessions = _setup(db_url)
    with unit_of_work(sessions) as s:
        bob = s.scalars(select(User).where(User.username == "bob")).one()
        bob.active = False
    assert _attempt(sessions, "nobody", PASSWORD, "10.0.0.1", 0) == "invalid"
    assert _attempt(sessions, "bob", PASSWORD, "10.0.0.2", 0) == "invalid"
    with unit_of_work(sessions) as s:
        unknown = s.scalars(select(AuditEvent).where(AuditEvent.actor == "unknown")).one()
        assert unknown.target_id == ""  # a mistyped password in the name field is not recorded
