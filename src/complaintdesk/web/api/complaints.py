"""Complaints, their timelines and actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Query
from sqlalchemy import Text, func, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from complaintdesk.channels.base import ActionChannel
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import service as media_service
from complaintdesk.core.outbox import service as outbox_service
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.tokens.service import Scope
from complaintdesk.errors import ActionRefused, ComplaintDeskError
from complaintdesk.web.api import incremental
from complaintdesk.web.api.deps import CtxDep, ScopeDep, SessionDep, WriterDep, complaint_in_scope
from complaintdesk.web.api.schemas import (
    ActionIn,
    ActionOut,
    ComplaintDetail,
    ComplaintPage,
    ComplaintSummary,
    OrderOut,
    TimelineOut,
)
from complaintdesk.web.params import IdPath, OffsetQuery

router = APIRouter(tags=["complaints"])


def _scoped(query: Any, scope: Scope) -> Any:
    if scope.all_accounts:
        return query
    ids = list(scope.account_ids)
    return query.where(or_(Complaint.account_id.in_(ids), Complaint.merchant_account_id.in_(ids)))


def summary(c: Complaint) -> ComplaintSummary:
    """The list view of a complaint."""
    return ComplaintSummary.model_validate(c, from_attributes=True)


def action_out(a: OutboundAction) -> ActionOut:
    """The API view of an action."""
    return ActionOut.model_validate(a, from_attributes=True)


@router.get("/complaints", response_model=ComplaintPage, summary="List complaints in the token's scope")
def list_complaints(
    session: SessionDep,
    scope: ScopeDep,
    status: Annotated[
        str | None, Query(description="open, responded, in_platform, resolved, closed, unknown")
    ] = None,
    channel: str | None = None,
    account: Annotated[str | None, Query(description="merchant account name")] = None,
    needs_reply: Annotated[bool | None, Query(description="a user message is waiting")] = None,
    q: Annotated[str | None, Query(max_length=64, description="complaint id, order number or text")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: OffsetQuery = 0,
    updated_since: Annotated[
        datetime | None,
        Query(description="incremental pull: changed at or after this instant, oldest change first"),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous incremental page")
    ] = None,
) -> ComplaintPage:
    query = _scoped(select(Complaint), scope)
    if status:
        query = query.where(Complaint.status == status)
    if channel:
        query = query.where(Complaint.channel == channel)
    if account:
        ids = select(MerchantAccount.id).where(MerchantAccount.name == account)
        query = query.where(or_(Complaint.account_id.in_(ids), Complaint.merchant_account_id.in_(ids)))
    if needs_reply is not None:
        query = query.where(Complaint.user_message_waiting.is_(needs_reply))
    if q:
        like = f"%{q}%"
        query = query.where(
            or_(
                Complaint.external_id == q,
                Complaint.detail.like(like),
                sql_cast(Complaint.orders, Text).like(like),
            )
        )
    if updated_since is not None or cursor is not None:
        return incremental.page(session, query, updated_since, cursor, limit, offset, summary)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Complaint.complained_at.desc(), Complaint.id.desc()).limit(limit).offset(offset)
    )
    return ComplaintPage(items=[summary(c) for c in rows], total=total, limit=limit, offset=offset)


def detail(session: Session, ctx: CtxDep, complaint: Complaint) -> ComplaintDetail:
    """Everything about one complaint."""
    images = {
        link.url: f"/api/v1/media/{link.sha256}"
        for link in media_service.links_for(session=session, complaint_id=complaint.id)
        if link.sha256
    }
    timeline = [
        TimelineOut(
            id=e.id,
            source=e.source,
            kind=e.kind,
            actor=e.actor,
            actor_label=e.actor_label,
            occurred_at=e.occurred_at,
            text=e.text,
            images=[images.get(u, "") for u in e.media_urls if u in images]
            + [f"/api/v1/media/{r}" for r in e.raw.get("images", [])],
            known=e.known,
            status=e.raw.get("status") if e.source == "action" else None,
        )
        for e in timeline_service.list_for(session=session, complaint_id=complaint.id)
    ]
    allowed: list[str] = []
    try:
        channel = cast(ActionChannel, ctx.runtime_for(_account_name(session, complaint)).adapter)
        allowed = sorted(
            k.value for k in channel.allowed_actions(outbox_service.facts_for(complaint, session))
        )
    except ComplaintDeskError:  # a misconfigured account must not hide the complaint itself
        allowed = []
    return ComplaintDetail(
        **summary(complaint).model_dump(),
        detail=complaint.detail,
        complaint_times=complaint.complaint_times,
        fully_refunded=complaint.fully_refunded,
        orders=[OrderOut(**o) for o in complaint.orders],
        unknown_values=complaint.unknown_values,
        images=[images[u] for u in complaint.media_urls if u in images],
        allowed_actions=allowed,
        timeline=timeline,
        actions=[
            action_out(a) for a in outbox_service.for_complaint(session=session, complaint_id=complaint.id)
        ],
        raw=complaint.raw,
        version=timeline_service.conversation_version(session=session, complaint_id=complaint.id),
    )


def _account_name(session: Session, complaint: Complaint) -> str:
    account = session.get(MerchantAccount, complaint.account_id)
    return account.name if account else ""


@router.get(
    "/complaints/{complaint_id}", response_model=ComplaintDetail, summary="One complaint with timeline"
)
def get_complaint(complaint_id: IdPath, session: SessionDep, scope: ScopeDep, ctx: CtxDep) -> ComplaintDetail:
    return detail(session, ctx, complaint_in_scope(session, scope, complaint_id))


@router.post(
    "/complaints/{complaint_id}/actions",
    response_model=ActionOut,
    status_code=202,
    summary="Request an action; it is validated now and sent by the outbox",
)
def request_action(
    complaint_id: IdPath,
    body: ActionIn,
    session: SessionDep,
    scope: WriterDep,
    ctx: CtxDep,
    if_match: Annotated[
        str | None, Header(description="the conversation version, as `expected_version`")
    ] = None,
) -> ActionOut:
    complaint = complaint_in_scope(session, scope, complaint_id)
    seen = body.expected_version if body.expected_version is not None else _version_of(if_match)
    adapter = ctx.runtime_for(_account_name(session, complaint)).adapter
    action = outbox_service.request_action(
        session=session,
        complaint=complaint,
        kind=body.kind,
        params=body.params,
        channel=cast(ActionChannel, adapter),
        storage=ctx.media_storage,
        requested_by=f"token:{scope.name}",
        now=ctx.clock.now(),
        seen_version=seen,
    )
    if ctx.inbox_wakeup is not None:
        ctx.inbox_wakeup.set()
    return action_out(action)


def _version_of(if_match: str | None) -> int | None:
    """The version in an ``If-Match`` header (``"12"``, ``W/"12"`` or ``12``); a malformed one is a 422."""
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit() and len(value) < 11):
        raise ActionRefused('If-Match must carry the complaint\'s version, e.g. "12"', field="If-Match")
    return int(value)


@router.get("/actions/{action_id}", response_model=ActionOut, summary="The state of one action")
def get_action(action_id: str, session: SessionDep, scope: ScopeDep) -> ActionOut:
    action = outbox_service.get(session=session, action_id=action_id)
    complaint_in_scope(session, scope, action.complaint_id)
    return action_out(action)
