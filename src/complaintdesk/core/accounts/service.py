"""Create, find and list merchant accounts; service providers get sub-merchants on first sight."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from complaintdesk.clock import utcnow
from complaintdesk.core.accounts.models import MerchantAccount, PlatformCertificate
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.dbutil import execute_insert_ignore
from complaintdesk.errors import AccountNotFound, AlreadyExists, DomainError

KINDS = ("merchant", "service_provider", "sub_merchant")
CHANNELS = ("wechatpay", "miniprogram", "huishouqian")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def create(
    *,
    session: Session,
    name: str,
    channel: str,
    mchid: str,
    kind: str = "merchant",
    actor: str = audit_service.SYSTEM,
    ip: str = "",
    **fields: Any,
) -> MerchantAccount:
    """Add a merchant account (secrets are given as references, never values); audited as ``actor``."""
    if not NAME_RE.match(name):
        raise DomainError("account name must be lowercase letters, digits, '-' or '_' (it appears in URLs)")
    if channel not in CHANNELS:
        raise DomainError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if kind not in KINDS:
        raise DomainError(f"unknown account kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not mchid.strip():
        raise DomainError("mchid is required")
    if session.scalar(select(MerchantAccount.id).where(MerchantAccount.name == name)) is not None:
        raise AlreadyExists(f"an account named {name!r} exists already")
    account = MerchantAccount(name=name, channel=channel, mchid=mchid.strip(), kind=kind, **fields)
    session.add(account)
    session.flush()
    details = {"name": account.name, "channel": account.channel, "kind": account.kind}
    _audit(session, AuditAction.ACCOUNT_ADDED, account, actor, ip, details)
    return account


#: Fields :func:`change` may set (secrets stay references: ``file:``/``env:``, never values).
CHANGEABLE = (
    "display_name", "merchant_serial", "private_key_ref", "merchant_cert_ref", "apiv3_key_ref",
    "platform_cert_refs", "public_key_id", "public_key_ref", "api_base_url", "secret_refs", "options",
)  # fmt: skip


def change(
    *,
    session: Session,
    account: MerchantAccount,
    actor: str = audit_service.SYSTEM,
    ip: str = "",
    **fields: Any,
) -> list[str]:
    """Change an account's fields (audited as ``account_changed`` with the names of those that changed)."""
    unknown = sorted(set(fields) - set(CHANGEABLE))
    if unknown:
        raise DomainError(f"cannot change {', '.join(unknown)}; changeable: {', '.join(CHANGEABLE)}")
    changed = sorted(k for k, v in fields.items() if getattr(account, k) != v)
    for key in changed:
        setattr(account, key, fields[key])
    if changed:
        account.revision += 1
    session.flush()
    if changed:
        details = {"name": account.name, "changed": changed}  # field names only, never their values
        _audit(session, AuditAction.ACCOUNT_CHANGED, account, actor, ip, details)
    return changed


def set_enabled(
    *,
    session: Session,
    account: MerchantAccount,
    enabled: bool,
    actor: str = audit_service.SYSTEM,
    ip: str = "",
) -> None:
    """Enable or disable an account (a disabled one is neither synced nor acted for); audited."""
    if account.enabled == enabled:
        return
    account.enabled = enabled
    account.revision += 1
    session.flush()
    action = AuditAction.ACCOUNT_ENABLED if enabled else AuditAction.ACCOUNT_DISABLED
    _audit(session, action, account, actor, ip, {"name": account.name})


def _audit(
    session: Session,
    action: AuditAction,
    account: MerchantAccount,
    actor: str,
    ip: str,
    details: dict[str, Any],
) -> None:
    audit_service.record(
        session=session, action=action, actor=actor, ip=ip, target_type="merchant_account",
        target_id=account.id, details=details,
    )  # fmt: skip


def get(*, session: Session, account_id: int) -> MerchantAccount:
    """Return an account by id or raise AccountNotFound."""
    account = session.get(MerchantAccount, account_id)
    if account is None:
        raise AccountNotFound(f"no merchant account with id {account_id}")
    return account


def get_by_name(*, session: Session, name: str) -> MerchantAccount | None:
    """Return the account with this name, if any."""
    return session.scalar(select(MerchantAccount).where(MerchantAccount.name == name))


def get_by_name_or_raise(*, session: Session, name: str) -> MerchantAccount:
    """Return the account with this name or raise AccountNotFound."""
    account = get_by_name(session=session, name=name)
    if account is None:
        raise AccountNotFound(f"no merchant account named {name!r}")
    return account


def revisions(*, session: Session, names: list[str]) -> dict[str, int]:
    """The revision of each named account that is enabled (absent: disabled or gone)."""
    rows = session.execute(
        select(MerchantAccount.name, MerchantAccount.revision).where(
            MerchantAccount.name.in_(names), MerchantAccount.enabled.is_(True)
        )
    )
    return {name: int(revision) for name, revision in rows}


def list_all(*, session: Session, channel: str | None = None) -> list[MerchantAccount]:
    """All accounts, credentialed ones first."""
    query = select(MerchantAccount).order_by(MerchantAccount.parent_id.is_not(None), MerchantAccount.id)
    if channel:
        query = query.where(MerchantAccount.channel == channel)
    return list(session.scalars(query))


def credentialed(*, session: Session, channel: str | None = None) -> list[MerchantAccount]:
    """Accounts that hold their own credentials (direct merchants and service providers)."""
    return [a for a in list_all(session=session, channel=channel) if a.kind != "sub_merchant" and a.enabled]


def resolve_merchant(*, session: Session, account: MerchantAccount, merchant_id: str) -> MerchantAccount:
    """The account complained about: the account itself, or its sub-merchant (created on first sight)."""
    if not merchant_id or merchant_id == account.mchid:
        return account
    sub = session.scalar(
        select(MerchantAccount).where(
            MerchantAccount.parent_id == account.id, MerchantAccount.mchid == merchant_id
        )
    )
    if sub is not None:
        return sub
    sub = MerchantAccount(
        name=f"{account.name}-{merchant_id}"[:64].lower(),
        display_name=f"{account.display_name or account.name} / {merchant_id}",
        channel=account.channel,
        kind="sub_merchant",
        mchid=merchant_id,
        parent_id=account.id,
    )
    session.add(sub)
    session.flush()
    return sub


def save_platform_certificates(
    *, session: Session, account_id: int, certificates: list[dict[str, Any]]
) -> int:
    """Store downloaded platform certificates (public material); returns how many were new."""
    added = 0
    for cert in certificates:  # concurrent refreshes may store the same serial: skip, never fail
        added += execute_insert_ignore(
            session,
            PlatformCertificate.__table__,  # type: ignore[arg-type]
            ("account_id", "serial_no"),
            [{"account_id": account_id, "fetched_at": utcnow(), **cert}],
        )
    if added:  # every process verifies with the new certificate from its next check on
        session.execute(
            update(MerchantAccount)
            .where(MerchantAccount.id == account_id)
            .values(revision=MerchantAccount.revision + 1)
        )
    return added


def platform_certificates(*, session: Session, account_id: int) -> list[PlatformCertificate]:
    """Certificates downloaded for an account."""
    return list(
        session.scalars(select(PlatformCertificate).where(PlatformCertificate.account_id == account_id))
    )
