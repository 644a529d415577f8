from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from consolekit import PASSWORD, T0, account, cheap_hashing, sessions_for, sub_merchant, user
from sqlalchemy import select

from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.users import login, passwords
from complaintdesk.core.users import service as user_service
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import Permission, Role
from complaintdesk.db import unit_of_work
from complaintdesk.errors import ActionRefused, AlreadyExists, DomainError, Forbidden, NotFound


@pytest.fixture(autouse=True)
def _fast_hashes() -> Iterator[None]:
    with cheap_hashing():
        yield


def test_passwords_are_stored_as_argon2id_hashes_and_verified(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        shop = account(s, "shop")
        created = user(s, "Alice", "agent", accounts=[shop])
    assert created.username == "alice"  # names compare case-insensitively
    assert created.password_hash.startswith("$argon2id$")
    assert PASSWORD not in created.password_hash
    assert passwords.verify(created.password_hash, PASSWORD)
    assert not passwords.verify(created.password_hash, PASSWORD + "x")
    assert not passwords.verify("not a hash", PASSWORD)


def test_create_refuses_bad_input(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        shop = account(s, "shop")
        user(s, "alice", accounts=[shop])
        with pytest.raises(AlreadyExists):
            user(s, "ALICE", accounts=[shop])
        with pytest.raises(ActionRefused, match="at least 10"):
            user(s, "bob", accounts=[shop], password="short")
        with pytest.raises(ActionRefused, match="not be the username"):
            user(s, "bobby.tables", accounts=[shop], password="Bobby.Tables")
        with pytest.raises(ActionRefused, match="unknown role"):
            user(s, "carol", "superuser", accounts=[shop])
        with pytest.raises(ActionRefused, match="at least one merchant account"):
            user(s, "dave")
        with pytest.raises(NotFound):
            user_service.create(
                session=s, username="erin", password=PASSWORD, role="agent", now=T0, account_ids=[9999]
            )


def test_login_rehashes_when_the_hasher_parameters_change(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        user(s, "alice", all_accounts=True)
        old_hash = s.scalars(select(User.password_hash)).one()
    assert "t=1," in old_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    previous = passwords.use_hasher(stronger)
    try:
        with unit_of_work(sessions) as s:
            login.authenticate(session=s, username="alice", password=PASSWORD, ip="10.0.0.1", now=T0)
        with unit_of_work(sessions) as s:
            new_hash = s.scalars(select(User.password_hash)).one()
            assert new_hash != old_hash and "t=2," in new_hash
            login.authenticate(session=s, username="alice", password=PASSWORD, ip="10.0.0.1", now=T0)
    finally:
        passwords.use_hasher(previous)


def test_change_password_needs_the_old_one_and_ends_other_sessions(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        alice = user(s, "alice", all_accounts=True)
        version = alice.session_version
        with pytest.raises(ActionRefused, match="current password"):
            user_service.change_password(
                session=s, user=alice, old_password="wrong password", new_password="another long one", now=T0
            )
        with pytest.raises(ActionRefused, match="at least 10"):
            user_service.change_password(
                session=s, user=alice, old_password=PASSWORD, new_password="short", now=T0
            )
        long_name = user(s, "margaret.hamilton", all_accounts=True)
        with pytest.raises(ActionRefused, match="username"):
            user_service.change_password(
                session=s, user=long_name, old_password=PASSWORD, new_password="Margaret.Hamilton", now=T0
            )
        with pytest.raises(ActionRefused, match="differ"):
            user_service.change_password(
                session=s, user=alice, old_password=PASSWORD, new_password=PASSWORD, now=T0
            )
        assert alice.session_version == version  # refusals change nothing
        user_service.change_password(
            session=s,
            user=alice,
            old_password=PASSWORD,
            new_password="another long one",
            now=T0,
            ip="10.1.1.1",
        )
        assert alice.session_version == version + 1
        assert user_service.load_principal(session=s, user_id=alice.id, session_version=version) is None
        assert (
            user_service.load_principal(session=s, user_id=alice.id, session_version=version + 1) is not None
        )
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "password_changed")).one()
        assert (event.actor, event.actor_ip, event.target_id) == ("alice", "10.1.1.1", "alice")
        assert "another long one" not in str(event.details)


def test_session_version_moves_on_reset_logout_everywhere_and_deactivation(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        admin = user(s, "root", "admin", all_accounts=True)
        alice = user(s, "alice", all_accounts=True)
        by = user_service.principal_for(session=s, user=admin)
        v = alice.session_version
        assert user_service.logout_everywhere(session=s, user=alice, now=T0) == v + 1
        one_time = user_service.reset_password(session=s, user=alice, now=T0, by=by)
        assert alice.session_version == v + 2 and alice.must_change_password
        assert len(one_time) >= 10 and passwords.verify(alice.password_hash, one_time)
        user_service.set_active(session=s, user=alice, active=False, now=T0, by=by)
        assert alice.session_version == v + 3
        assert (
            user_service.load_principal(session=s, user_id=alice.id, session_version=v + 3) is None
        )  # inactive


def test_reset_password_unlocks_a_locked_user(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        alice = user(s, "alice", all_accounts=True)
    for _ in range(5):
        with pytest.raises(Forbidden), unit_of_work(sessions) as s:
            login.authenticate(session=s, username="alice", password="wrong password", ip="", now=T0)
    with unit_of_work(sessions) as s:
        alice = user_service.get_by_username_or_raise(session=s, username="alice")
        assert alice.locked_until is not None
        one_time = user_service.reset_password(session=s, user=alice, now=T0)
    with unit_of_work(sessions) as s:
        assert (
            login.authenticate(session=s, username="alice", password=one_time, ip="", now=T0).username
            == "alice"
        )


def test_role_and_scope_changes_are_checked_and_audited(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        shop, other = account(s, "shop"), account(s, "other")
        admin = user(s, "root", "admin", all_accounts=True)
        agent = user(s, "alice", accounts=[shop])
        by_agent = user_service.principal_for(session=s, user=agent)
        with pytest.raises(Forbidden):
            user_service.set_role(session=s, user=agent, role="admin", now=T0, by=by_agent)
        with pytest.raises(DomainError, match="last active admin"):
            user_service.set_role(session=s, user=admin, role="viewer", now=T0)
        user_service.set_role(session=s, user=agent, role="viewer", now=T0, ip="10.0.0.9")
        user_service.set_scope(session=s, user=agent, account_ids=[other.id], all_accounts=False, now=T0)
        events = {e.action: e for e in s.scalars(select(AuditEvent))}
        assert events["role_changed"].details == {"from": "agent", "to": "viewer"}
        assert events["role_changed"].actor == "system" and events["role_changed"].actor_ip == "10.0.0.9"
        assert events["scope_changed"].details["to"] == {"all_accounts": False, "account_ids": [other.id]}
        assert {"user_created"} <= set(events)


def test_permission_table() -> None:
    from complaintdesk.core.users.permissions import ROLE_PERMISSIONS

    viewer, agent, admin = (ROLE_PERMISSIONS[r] for r in (Role.VIEWER, Role.AGENT, Role.ADMIN))
    assert Permission.COMPLAINT_READ in viewer
    for denied in (Permission.COMPLAINT_ACT, Permission.COMPLAINT_NOTE, Permission.PHONE_REVEAL):
        assert denied not in viewer
    for granted in (
        Permission.COMPLAINT_READ,
        Permission.COMPLAINT_ACT,
        Permission.COMPLAINT_NOTE,
        Permission.COMPLAINT_TAG,
        Permission.COMPLAINT_ASSIGN,
        Permission.PHONE_REVEAL,
    ):
        assert granted in agent
    for admin_only in (
        Permission.USER_MANAGE,
        Permission.TOKEN_MANAGE,
        Permission.SETTINGS_MANAGE,
        Permission.AUDIT_READ,
        Permission.ACCOUNT_MANAGE,
        Permission.TEMPLATE_MANAGE,
    ):
        assert admin_only in admin and admin_only not in agent and admin_only not in viewer
    assert set(Permission) == set(admin)


def test_principal_scope_covers_sub_merchants_of_a_provider(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        provider = account(s, "sp", kind="service_provider")
        sub = sub_merchant(s, provider, "1230000001")
        other = account(s, "other")
        alice = user(s, "alice", accounts=[provider])
        p = user_service.principal_for(session=s, user=alice)
        assert p.scope.account_ids == frozenset({provider.id, sub.id})
        assert other.id not in p.scope.account_ids
        assert p.can(Permission.PHONE_REVEAL) and not p.can(Permission.USER_MANAGE)
        with pytest.raises(Forbidden):
            p.require(Permission.AUDIT_READ)
