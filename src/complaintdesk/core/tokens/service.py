"""Create, check and revoke API tokens; a token sees only its merchant accounts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.tokens.models import ApiToken
from complaintdesk.errors import AlreadyExists, DomainError, NotFound

TOKEN_PREFIX = "cdk_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class Scope:
    """What a caller may see: every account, or these ids (a provider's id covers its sub-merchants)."""

    token_id: int
    name: str
    all_accounts: bool
    account_ids: frozenset[int]
    can_write: bool

    def allows(self, complaint: Complaint) -> bool:
        """Whether the complaint is visible to this caller."""
        return self.all_accounts or bool(
            {complaint.account_id, complaint.merchant_account_id} & self.account_ids
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(
    *,
    session: Session,
    name: str,
    account_names: list[str],
    all_accounts: bool = False,
    can_write: bool = True,
    actor: str = audit_service.SYSTEM,
    ip: str = "",
) -> tuple[str, ApiToken]:
    """Create a token (audited as ``actor``); the plaintext is returned once and never stored."""
    if not all_accounts and not account_names:
        raise DomainError("a token needs at least one --account, or --all-accounts")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise AlreadyExists(f"a token named {name!r} exists already")
    ids: list[int] = []
    for account_name in account_names:
        account_id = session.scalar(select(MerchantAccount.id).where(MerchantAccount.name == account_name))
        if account_id is None:
            raise NotFound(f"no merchant account named {account_name!r}")
        ids.append(account_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        name=name,
        token_hash=_digest(token),
        prefix=token[:10],
        all_accounts=all_accounts,
        account_ids=ids,
        can_write=can_write,
    )
    session.add(record)
    session.flush()
    audit_service.record(
        session=session,
        action=AuditAction.TOKEN_CREATED,
        actor=actor,
        ip=ip,
        target_type="token",
        target_id=name,
        details={"all_accounts": all_accounts, "accounts": list(account_names), "can_write": can_write},
    )
    return token, record


def authenticate(*, session: Session, token: str, now: datetime) -> Scope | None:
    """The scope of a presented token, or None when it is unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = _digest(token)
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if record is None or record.revoked or not hmac.compare_digest(record.token_hash, digest):
        return None
    record.last_used_at = now
    ids = set(record.account_ids)
    if ids:  # a provider's token also covers its sub-merchants
        ids |= set(session.scalars(select(MerchantAccount.id).where(MerchantAccount.parent_id.in_(ids))))
    return Scope(record.id, record.name, record.all_accounts, frozenset(ids), record.can_write)


def list_all(*, session: Session) -> list[ApiToken]:
    """Every token (hashes only)."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke(*, session: Session, name: str, actor: str = audit_service.SYSTEM, ip: str = "") -> None:
    """Revoke a token by name (audited as ``actor``)."""
    record = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if record is None:
        raise NotFound(f"no token named {name!r}")
    record.revoked = True
    audit_service.record(
        session=session,
        action=AuditAction.TOKEN_REVOKED,
        actor=actor,
        ip=ip,
        target_type="token",
        target_id=name,
    )
