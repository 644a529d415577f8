"""Sign-in with throttling: 5 failures in 15 minutes lock the user, and the remote address, for 15 minutes.

Counters live in the database (``app_user`` and ``login_throttle``) so every process shares them, and
they are written in their own transaction: a refused sign-in counts although the request rolls back.

:func:`authenticate` raises ``Forbidden`` whose ``context["reason"]`` is ``invalid`` (wrong name or
password, or an inactive user: the same answer), ``locked`` (this user) or ``address_locked`` (this
remote address); ``context["retry_after"]`` gives the seconds a lock still lasts. Call it in a fresh
unit of work and commit on success: that stores ``last_login_at``, the reset counters and any rehash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, literal, or_, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.users import passwords
from complaintdesk.core.users.models import LoginThrottle, User
from complaintdesk.core.users.service import get_by_username, normalise_username
from complaintdesk.db import UTCDateTime
from complaintdesk.dbutil import execute_insert_ignore
from complaintdesk.errors import Forbidden


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures within which window lock for how long (per user and per address)."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)


DEFAULT_POLICY = ThrottlePolicy()
INVALID = "invalid username or password"


def _refused(
    message: str, reason: str, until: datetime | None = None, now: datetime | None = None
) -> Forbidden:
    retry = math.ceil((until - now).total_seconds()) if until and now else 0
    return Forbidden(message, reason=reason, retry_after=retry)


def authenticate(
    *,
    session: Session,
    username: str,
    password: str,
    ip: str,
    now: datetime,
    policy: ThrottlePolicy = DEFAULT_POLICY,
) -> User:
    """The user whose password this is, or Forbidden with ``context["reason"]`` (see the module doc)."""
    name = normalise_username(username)
    key = _address_key(ip)
    if key:
        row = session.get(LoginThrottle, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            _audit_refusal(session, name, None, ip, now, "address_locked")
            raise _refused(
                "too many failed sign-ins from this address; try again later",
                "address_locked",
                row.locked_until,
                now,
            )
    user = get_by_username(session=session, username=name)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        _audit_refusal(session, name, user, ip, now, "locked")
        raise _refused(
            "too many failed sign-ins for this user; try again later", "locked", user.locked_until, now
        )
    if user is None:
        passwords.burn_time(password)
        ok = False
    else:
        ok = passwords.verify(user.password_hash, password) and user.active
    if user is None or not ok:
        _count_failure(session, user, key, ip, now, policy)
        raise _refused(INVALID, "invalid")
    user.failed_logins, user.failed_since, user.locked_until = 0, None, None
    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.flush()
    audit_service.record(
        session=session,
        action=AuditAction.LOGIN,
        actor=user.username,
        ip=ip,
        target_type="user",
        target_id=user.username,
        at=now,
    )
    return user


def logout(*, session: Session, user: User, ip: str, now: datetime) -> None:
    """Record a sign-out (the web layer clears the cookie)."""
    audit_service.record(
        session=session,
        action=AuditAction.LOGOUT,
        actor=user.username,
        ip=ip,
        target_type="user",
        target_id=user.username,
        at=now,
    )


def _address_key(ip: str) -> str:
    return f"ip:{ip.strip()}"[:80] if ip and ip.strip() else ""


def _audit_refusal(
    session: Session, name: str, user: User | None, ip: str, now: datetime, reason: str
) -> None:
    audit_service.record_committed(
        session=session,
        action=AuditAction.LOGIN_FAILED,
        actor=user.username if user is not None else "unknown",
        ip=ip,
        target_type="user",
        target_id=user.username if user is not None else "",
        details={"reason": reason},
        at=now,
    )


def _fresh(
    started: InstrumentedAttribute[datetime | None], now: datetime, policy: ThrottlePolicy
) -> ColumnElement[bool]:
    return or_(started.is_(None), started <= now - policy.window)


def _count_failure(
    session: Session, user: User | None, key: str, ip: str, now: datetime, policy: ThrottlePolicy
) -> None:
    """Bump the user's and the address's counters atomically; lock them at the threshold."""
    at_now = literal(now, UTCDateTime())

    def work(own: Session) -> None:
        events: list[tuple[str, str]] = []
        if user is not None:
            fresh = _fresh(User.failed_since, now, policy)
            own.execute(
                update(User)
                .where(User.id == user.id)
                .values(
                    failed_logins=case((fresh, 1), else_=User.failed_logins + 1),
                    failed_since=case((fresh, at_now), else_=User.failed_since),
                )
                .execution_options(synchronize_session=False)
            )
            locked = own.execute(
                update(User)
                .where(User.id == user.id, User.failed_logins >= policy.max_failures)
                .values(locked_until=now + policy.lock, failed_logins=0, failed_since=None)
                .execution_options(synchronize_session=False)
            )
            if locked.rowcount:  # type: ignore[attr-defined]
                events.append((AuditAction.USER_LOCKED, user.username))
        if key:
            execute_insert_ignore(
                own,
                LoginThrottle.__table__,  # type: ignore[arg-type]
                ("key",),
                [{"key": key, "failures": 0, "window_started_at": None, "locked_until": None}],
            )
            fresh = _fresh(LoginThrottle.window_started_at, now, policy)
            own.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(
                    failures=case((fresh, 1), else_=LoginThrottle.failures + 1),
                    window_started_at=case((fresh, at_now), else_=LoginThrottle.window_started_at),
                )
                .execution_options(synchronize_session=False)
            )
            locked = own.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key, LoginThrottle.failures >= policy.max_failures)
                .values(locked_until=now + policy.lock, failures=0, window_started_at=None)
                .execution_options(synchronize_session=False)
            )
            if locked.rowcount:  # type: ignore[attr-defined]
                events.append((AuditAction.ADDRESS_LOCKED, ""))
        actor = user.username if user is not None else "unknown"
        target = user.username if user is not None else ""
        audit_service.record(
            session=own,
            action=AuditAction.LOGIN_FAILED,
            actor=actor,
            ip=ip,
            target_type="user",
            target_id=target,
            details={"reason": "invalid"},
            at=now,
        )
        for action, target_id in events:
            audit_service.record(
                session=own,
                action=action,
                actor=audit_service.SYSTEM,
                ip=ip,
                target_type="user",
                target_id=target_id,
                details={"minutes": int(policy.lock.total_seconds() // 60)},
                at=now,
            )

    audit_service.run_detached(session, work)
