"""Create, change, list and apply reply templates within the caller's scope."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.accounts.service import CHANNELS
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.templates import render as render_module
from complaintdesk.core.templates.models import ReplyTemplate
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.errors import ActionRefused, AlreadyExists, NotFound


def _check_fields(
    session: Session,
    by: Principal,
    name: str,
    body: str,
    channel: str | None,
    ids: list[int],
    all_accounts: bool,
    max_chars: int | None,
) -> None:
    if not name.strip() or len(name.strip()) > 128:
        raise ActionRefused("a template needs a name of at most 128 characters", field="name")
    if not body.strip():
        raise ActionRefused("a template needs a body", field="body")
    if max_chars is not None and len(body.strip()) > max_chars:
        raise ActionRefused(
            f"this channel accepts replies of at most {max_chars} characters",
            field="body",
            reason="length",
            limit=max_chars,
        )
    if channel is not None and channel not in CHANNELS:
        raise ActionRefused(
            f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}", field="channel"
        )
    if not all_accounts and not ids:
        raise ActionRefused("choose at least one merchant account, or all accounts", field="accounts")
    if all_accounts and not by.scope.all_accounts:
        raise ActionRefused(
            "only a user who sees every account may share a template with all", field="accounts"
        )
    if not by.scope.all_accounts and not set(ids) <= by.scope.account_ids:
        raise ActionRefused("a template may only name merchant accounts you can see", field="accounts")
    found = set(session.scalars(select(MerchantAccount.id).where(MerchantAccount.id.in_(ids))))
    if set(ids) - found:
        raise NotFound(f"no merchant account with id {sorted(set(ids) - found)[0]}")
    render_module.validate(body)


def create(
    *,
    session: Session,
    by: Principal,
    name: str,
    body: str,
    now: datetime,
    channel: str | None = None,
    account_ids: Iterable[int] = (),
    all_accounts: bool = True,
    max_chars: int | None = None,
    ip: str = "",
) -> ReplyTemplate:
    """Save a new template after checking its body against the sandbox rules and ``max_chars``."""
    by.require(Permission.TEMPLATE_MANAGE)
    ids = sorted(set(account_ids))
    _check_fields(session, by, name, body, channel, ids, all_accounts, max_chars)
    if session.scalar(select(ReplyTemplate.id).where(ReplyTemplate.name == name.strip())) is not None:
        raise AlreadyExists(f"a template named {name.strip()!r} exists already")
    template = ReplyTemplate(
        name=name.strip(),
        body=body,
        channel=channel,
        all_accounts=all_accounts,
        account_ids=[] if all_accounts else ids,
        created_by=by.username,
        created_at=now,
        updated_at=now,
    )
    session.add(template)
    session.flush()
    _audit(session, AuditAction.TEMPLATE_CREATED, by, ip, template, {"name": template.name}, now)
    return template


def update(
    *,
    session: Session,
    by: Principal,
    template_id: int,
    now: datetime,
    name: str | None = None,
    body: str | None = None,
    channel: str | None = None,
    account_ids: Iterable[int] | None = None,
    all_accounts: bool | None = None,
    clear_channel: bool = False,
    max_chars: int | None = None,
    ip: str = "",
) -> ReplyTemplate:
    """Change a template (fields left None keep their value; ``clear_channel`` makes it channel-less).

    Checked as :func:`create` checks; audited as ``template_changed`` with the names before and after.
    """
    by.require(Permission.TEMPLATE_MANAGE)
    template = get(session=session, by=by, template_id=template_id)
    new_name = name.strip() if name is not None else template.name
    new_body = body if body is not None else template.body
    new_channel = None if clear_channel else (channel if channel is not None else template.channel)
    new_all = all_accounts if all_accounts is not None else template.all_accounts
    new_ids = sorted(set(account_ids)) if account_ids is not None else list(template.account_ids)
    _check_fields(session, by, new_name, new_body, new_channel, new_ids, new_all, max_chars)
    clash = session.scalar(
        select(ReplyTemplate.id).where(ReplyTemplate.name == new_name, ReplyTemplate.id != template.id)
    )
    if clash is not None:
        raise AlreadyExists(f"a template named {new_name!r} exists already")
    before = (template.name, template.body, template.channel, template.all_accounts, template.account_ids)
    template.name, template.body, template.channel = new_name, new_body, new_channel
    template.all_accounts, template.account_ids = new_all, [] if new_all else new_ids
    template.updated_at = now
    session.flush()
    after = (template.name, template.body, template.channel, template.all_accounts, template.account_ids)
    fields = ("name", "text", "channel", "accounts", "accounts")
    changed = sorted({f for f, old, new in zip(fields, before, after, strict=True) if old != new})
    details = {"name_before": before[0], "name": template.name, "changed": changed}
    _audit(session, AuditAction.TEMPLATE_CHANGED, by, ip, template, details, now)
    return template


def delete(*, session: Session, by: Principal, template_id: int, now: datetime, ip: str = "") -> None:
    """Remove a template (audited as ``template_deleted``)."""
    by.require(Permission.TEMPLATE_MANAGE)
    template = get(session=session, by=by, template_id=template_id)
    _audit(session, AuditAction.TEMPLATE_DELETED, by, ip, template, {"name": template.name}, now)
    session.delete(template)
    session.flush()


def _audit(
    session: Session,
    action: AuditAction,
    by: Principal,
    ip: str,
    template: ReplyTemplate,
    details: dict[str, Any],
    now: datetime,
) -> None:
    audit_service.record(
        session=session, action=action, actor=by.username, ip=ip, target_type="template",
        target_id=template.id, details=details, at=now,
    )  # fmt: skip


def _visible(template: ReplyTemplate, by: Principal) -> bool:
    return (
        template.all_accounts
        or by.scope.all_accounts
        or bool(set(template.account_ids) & by.scope.account_ids)
    )


def get(*, session: Session, by: Principal, template_id: int) -> ReplyTemplate:
    """A template the caller may see, or NotFound."""
    template = session.get(ReplyTemplate, template_id)
    if template is None or not _visible(template, by):
        raise NotFound(f"no template with id {template_id}")
    return template


def list_for(*, session: Session, by: Principal, complaint: Complaint | None = None) -> list[ReplyTemplate]:
    """Templates the caller may use, by name; with a complaint, only those fitting its channel and account."""
    query = select(ReplyTemplate).order_by(ReplyTemplate.name)
    if complaint is not None:
        query = query.where((ReplyTemplate.channel.is_(None)) | (ReplyTemplate.channel == complaint.channel))
    found = [t for t in session.scalars(query) if _visible(t, by)]
    if complaint is None:
        return found
    accounts = {complaint.account_id, complaint.merchant_account_id}
    return [t for t in found if t.all_accounts or bool(set(t.account_ids) & accounts)]


def render_for(
    *, session: Session, by: Principal, template_id: int, complaint: Complaint, now: datetime
) -> str:
    """Render a template for a complaint the caller may see."""
    if not by.allows(complaint):
        raise NotFound(f"no complaint with id {complaint.id}")
    template = get(session=session, by=by, template_id=template_id)
    if template not in list_for(session=session, by=by, complaint=complaint):
        raise ActionRefused(
            "this template is not meant for this complaint's channel or merchant", field="template"
        )
    merchant = session.get(MerchantAccount, complaint.merchant_account_id)
    return render_module.render(template.body, complaint, merchant, now=now)
