"""Roles, the permission table and the :class:`Principal` every console service is called with."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, true

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.errors import Forbidden


class Role(StrEnum):
    """What a user may do; scope (which merchant accounts) is separate."""

    ADMIN = "admin"
    AGENT = "agent"
    VIEWER = "viewer"


class Permission(StrEnum):
    """Permission strings checked by services and the web layer."""

    COMPLAINT_READ = "complaint.read"
    COMPLAINT_ACT = "complaint.act"  # reply, complete, refund decisions, appeal
    COMPLAINT_NOTE = "complaint.note"
    COMPLAINT_TAG = "complaint.tag"
    COMPLAINT_ASSIGN = "complaint.assign"
    PHONE_REVEAL = "phone.reveal"
    VIEW_SAVE = "view.save"  # own saved views
    TEMPLATE_MANAGE = "template.manage"
    TAG_MANAGE = "tag.manage"  # rename / delete tag definitions
    USER_MANAGE = "user.manage"
    TOKEN_MANAGE = "token.manage"  # noqa: S105 - a permission name
    ACCOUNT_MANAGE = "account.manage"  # merchant accounts and their credentials
    SETTINGS_MANAGE = "settings.manage"
    AUDIT_READ = "audit.read"


_READ = frozenset({Permission.COMPLAINT_READ, Permission.VIEW_SAVE})
_AGENT = _READ | {
    Permission.COMPLAINT_ACT,
    Permission.COMPLAINT_NOTE,
    Permission.COMPLAINT_TAG,
    Permission.COMPLAINT_ASSIGN,
    Permission.PHONE_REVEAL,
}

#: viewer reads; agent also acts, annotates and reveals phones; admin may do everything.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _READ,
    Role.AGENT: frozenset(_AGENT),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class AccountScope:
    """Merchant accounts visible: all, or these ids (expanded with the sub-merchants of providers)."""

    all_accounts: bool
    account_ids: frozenset[int]

    def allows(self, complaint: Complaint) -> bool:
        """Whether the complaint belongs to an account in scope."""
        return self.all_accounts or bool(
            {complaint.account_id, complaint.merchant_account_id} & self.account_ids
        )

    def account_filter(self) -> ColumnElement[bool]:
        """A WHERE clause on ``Complaint`` equivalent to :meth:`allows` (index friendly)."""
        if self.all_accounts:
            return true()
        # A provider's id was expanded with its sub-merchants, and ``merchant_account_id`` is either the
        # credentialed account itself or one of its sub-merchants, so one column suffices.
        return Complaint.merchant_account_id.in_(sorted(self.account_ids))


@dataclass(frozen=True)
class Principal:
    """Who is calling: a console user (built per request by ``users.service.principal_for``)."""

    user_id: int
    username: str
    role: Role
    scope: AccountScope

    def can(self, permission: Permission) -> bool:
        """Whether the role grants ``permission``."""
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """Raise Forbidden unless the role grants ``permission``."""
        if not self.can(permission):
            raise Forbidden(f"the {self.role.value} role may not do this ({permission.value})")

    def allows(self, complaint: Complaint) -> bool:
        """Whether the complaint is in this user's scope."""
        return self.scope.allows(complaint)

    def account_filter(self) -> ColumnElement[bool]:
        """A WHERE clause restricting ``Complaint`` rows to this user's scope."""
        return self.scope.account_filter()
