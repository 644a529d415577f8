"""Create and manage console users; build the :class:`Principal` of a signed-in user."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.users import passwords
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import AccountScope, Permission, Principal, Role
from complaintdesk.errors import ActionRefused, AlreadyExists, DomainError, NotFound

LANGUAGES = ("zh-CN", "en")
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


def normalise_username(username: str) -> str:
    """Usernames compare case-insensitively and are stored lowercase."""
    return username.strip().lower()


def _actor(by: Principal | None, actor: str = "") -> str:
    return by.username if by is not None else (actor or audit_service.SYSTEM)


def _check_admin(by: Principal | None) -> None:
    if by is not None:
        by.require(Permission.USER_MANAGE)


def _role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ActionRefused(
            f"unknown role {role!r}; expected one of {', '.join(r.value for r in Role)}", field="role"
        ) from None


def _checked_scope(session: Session, account_ids: Iterable[int], all_accounts: bool) -> list[int]:
    ids = sorted(set(account_ids))
    if not all_accounts and not ids:
        raise ActionRefused("a user needs at least one merchant account, or all accounts", field="accounts")
    if ids:
        found = set(session.scalars(select(MerchantAccount.id).where(MerchantAccount.id.in_(ids))))
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"no merchant account with id {missing[0]}")
    return [] if all_accounts else ids


def account_ids_for(*, session: Session, names: Iterable[str]) -> list[int]:
    """Ids of merchant accounts given by name (NotFound for an unknown name)."""
    ids: list[int] = []
    for name in names:
        account_id = session.scalar(select(MerchantAccount.id).where(MerchantAccount.name == name))
        if account_id is None:
            raise NotFound(f"no merchant account named {name!r}")
        ids.append(account_id)
    return ids


def create(
    *,
    session: Session,
    username: str,
    password: str,
    role: str | Role,
    now: datetime,
    by: Principal | None = None,
    actor: str = "",
    ip: str = "",
    display_name: str = "",
    account_ids: Iterable[int] = (),
    all_accounts: bool = False,
    language: str = "zh-CN",
    must_change_password: bool = False,
) -> User:
    """Add a user (``by`` None means the CLI / system)."""
    _check_admin(by)
    name = normalise_username(username)
    if not _USERNAME_RE.match(name):
        raise ActionRefused(
            "a username is 2-64 lowercase letters, digits or . _ @ - and starts with a letter or digit",
            field="username",
        )
    if language not in LANGUAGES:
        raise ActionRefused(f"language must be one of {', '.join(LANGUAGES)}", field="language")
    checked_role = _role(role)
    ids = _checked_scope(session, account_ids, all_accounts)
    passwords.check_rules(password, username=name)
    if get_by_username(session=session, username=name) is not None:
        raise AlreadyExists(f"a user named {name!r} exists already")
    user = User(
        username=name,
        display_name=display_name.strip()[:128] or name,
        password_hash=passwords.hash_password(password),
        role=checked_role.value,
        all_accounts=all_accounts,
        account_ids=ids,
        language=language,
        must_change_password=must_change_password,
        session_version=1,
        failed_logins=0,
        active=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    audit_service.record(
        session=session,
        action=AuditAction.USER_CREATED,
        actor=_actor(by, actor),
        ip=ip,
        target_type="user",
        target_id=name,
        details={"role": user.role, "all_accounts": all_accounts, "account_ids": ids},
        at=now,
    )
    return user


def get(*, session: Session, user_id: int) -> User:
    """A user by id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def get_by_username(*, session: Session, username: str) -> User | None:
    """The user with this name (case-insensitive), if any."""
    return session.scalar(select(User).where(User.username == normalise_username(username)))


def get_by_username_or_raise(*, session: Session, username: str) -> User:
    """The user with this name, or NotFound."""
    user = get_by_username(session=session, username=username)
    if user is None:
        raise NotFound(f"no user named {normalise_username(username)!r}")
    return user


def list_all(*, session: Session, include_inactive: bool = True) -> list[User]:
    """Users by name."""
    query = select(User).order_by(User.username)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return list(session.scalars(query))


def change_password(
    *, session: Session, user: User, old_password: str, new_password: str, now: datetime, ip: str = ""
) -> User:
    """Self-service change: the current password is required; every other session is ended."""
    if not passwords.verify(user.password_hash, old_password):
        raise ActionRefused("the current password is not correct", field="old_password")
    passwords.check_rules(new_password, username=user.username)
    if new_password == old_password:
        raise ActionRefused("the new password must differ from the current one", field="password")
    _set_password(user, new_password, now)
    user.must_change_password = False
    session.flush()
    audit_service.record(
        session=session,
        action=AuditAction.PASSWORD_CHANGED,
        actor=user.username,
        ip=ip,
        target_type="user",
        target_id=user.username,
        at=now,
    )
    return user


def reset_password(
    *, session: Session, user: User, now: datetime, by: Principal | None = None, actor: str = "", ip: str = ""
) -> str:
    """Give the user a generated one-time password (returned once; must be changed at next sign-in)."""
    _check_admin(by)
    password = passwords.generate()
    _set_password(user, password, now)
    user.must_change_password = True
    user.failed_logins, user.failed_since, user.locked_until = 0, None, None
    session.flush()
    audit_service.record(
        session=session,
        action=AuditAction.PASSWORD_RESET,
        actor=_actor(by, actor),
        ip=ip,
        target_type="user",
        target_id=user.username,
        at=now,
    )
    return password


def _set_password(user: User, password: str, now: datetime) -> None:
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = now
    user.session_version += 1


def set_role(
    *,
    session: Session,
    user: User,
    role: str | Role,
    now: datetime,
    by: Principal | None = None,
    actor: str = "",
    ip: str = "",
) -> User:
    """Change a user's role (the last active admin keeps theirs)."""
    _check_admin(by)
    new = _role(role)
    old = user.role
    if old == new.value:
        return user
    if old == Role.ADMIN and user.active:
        _keep_an_admin(session, user)
    user.role = new.value
    session.flush()
    audit_service.record(
        session=session,
        action=AuditAction.ROLE_CHANGED,
        actor=_actor(by, actor),
        ip=ip,
        target_type="user",
        target_id=user.username,
        details={"from": old, "to": new.value},
        at=now,
    )
    return user


def set_scope(
    *,
    session: Session,
    user: User,
    account_ids: Iterable[int],
    all_accounts: bool,
    now: datetime,
    by: Principal | None = None,
    actor: str = "",
    ip: str = "",
) -> User:
    """Change which merchant accounts a user sees."""
    _check_admin(by)
    ids = _checked_scope(session, account_ids, all_accounts)
    before = {"all_accounts": user.all_accounts, "account_ids": list(user.account_ids)}
    user.all_accounts, user.account_ids = all_accounts, ids
    session.flush()
    audit_service.record(
        session=session,
        action=AuditAction.SCOPE_CHANGED,
        actor=_actor(by, actor),
        ip=ip,
        target_type="user",
        target_id=user.username,
        details={"from": before, "to": {"all_accounts": all_accounts, "account_ids": ids}},
        at=now,
    )
    return user


def set_active(
    *,
    session: Session,
    user: User,
    active: bool,
    now: datetime,
    by: Principal | None = None,
    actor: str = "",
    ip: str = "",
) -> User:
    """Deactivate (sessions end, sign-in refused) or reactivate a user."""
    _check_admin(by)
    if user.active == active:
        return user
    if not active and user.role == Role.ADMIN:
        _keep_an_admin(session, user)
    user.active = active
    user.session_version += 1
    session.flush()
    audit_service.record(
        session=session,
        action=AuditAction.USER_ACTIVATED if active else AuditAction.USER_DEACTIVATED,
        actor=_actor(by, actor),
        ip=ip,
        target_type="user",
        target_id=user.username,
        at=now,
    )
    return user


def set_preferences(
    *, session: Session, user: User, display_name: str | None = None, language: str | None = None
) -> User:
    """Change a user's own display name or console language."""
    if language is not None:
        if language not in LANGUAGES:
            raise ActionRefused(f"language must be one of {', '.join(LANGUAGES)}", field="language")
        user.language = language
    if display_name is not None and display_name.strip():
        user.display_name = display_name.strip()[:128]
    session.flush()
    return user


def logout_everywhere(
    *, session: Session, user: User, now: datetime, ip: str = "", by: Principal | None = None
) -> int:
    """End every session of ``user`` (their own request, or an admin's); returns the new version."""
    if by is not None and by.user_id != user.id:
        _check_admin(by)
    user.session_version += 1
    session.flush()
    audit_service.record(
        session=session,
        action=AuditAction.LOGOUT_EVERYWHERE,
        actor=by.username if by is not None else user.username,
        ip=ip,
        target_type="user",
        target_id=user.username,
        at=now,
    )
    return user.session_version


def _keep_an_admin(session: Session, leaving: User) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != leaving.id)
    )
    if not others:
        raise DomainError("this is the last active admin; make someone else admin first")


def principal_for(*, session: Session, user: User) -> Principal:
    """The principal of ``user``, with providers' sub-merchants added to the scope."""
    ids = set(user.account_ids or [])
    if ids and not user.all_accounts:
        ids |= set(session.scalars(select(MerchantAccount.id).where(MerchantAccount.parent_id.in_(ids))))
    scope = AccountScope(all_accounts=user.all_accounts, account_ids=frozenset(ids))
    return Principal(user_id=user.id, username=user.username, role=Role(user.role), scope=scope)


def load_principal(*, session: Session, user_id: int, session_version: int) -> Principal | None:
    """The principal behind a session cookie, or None when the user is gone, inactive or logged out."""
    user = session.get(User, user_id)
    if user is None or not user.active or user.session_version != session_version:
        return None
    return principal_for(session=session, user=user)
