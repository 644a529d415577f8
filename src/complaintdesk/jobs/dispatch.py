"""Job ``dispatch_actions``: send outbox actions, one at a time per complaint, never twice.

Outcome of one attempt → next state:

* accepted → ``sent`` (then the complaint is refreshed so the timeline shows the upstream's view)
* 429, or a connection that failed before the request left → ``pending`` with backoff (safe retry)
* timeout or broken connection after sending, or a 5xx → ``uncertain``: before any retry the
  negotiation history is read, and if the action is there it is ``sent`` without sending again
* any other refusal (4xx, validation) → ``failed`` with the upstream code and message
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from sqlalchemy.orm import Session

from complaintdesk.channels.base import ActionChannel, ActionKind, ActionRequest
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import service as media_service
from complaintdesk.core.outbox import service as outbox_service
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.errors import (
    ActionRefused,
    ChannelAPIError,
    ChannelError,
    ChannelTransportError,
    ComplaintDeskError,
    RateLimited,
    UpstreamUnavailable,
)
from complaintdesk.jobs.scheduled import ensure_verifier
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)
UNCERTAIN_RECHECK_SECONDS = 5.0


async def dispatch_actions(ctx: AppContext, *, limit: int = 20) -> int:
    """Send the next action of up to ``limit`` complaints; returns how many were attempted."""
    claimed = await ctx.db(lambda s: outbox_service.claim_due(session=s, now=ctx.clock.now(), limit=limit))
    if claimed:
        await asyncio.gather(*(_dispatch(ctx, action_id, previous) for action_id, previous in claimed))
    return len(claimed)


def _load(session: Session, action_id: str) -> tuple[OutboundAction, Complaint, str]:
    action = outbox_service.get(session=session, action_id=action_id)
    complaint = complaint_service.get(session=session, complaint_id=action.complaint_id)
    name = account_service.get(session=session, account_id=action.account_id).name
    session.expunge(action)
    session.expunge(complaint)
    return action, complaint, name


async def _dispatch(ctx: AppContext, action_id: str, previous: str) -> None:
    action, complaint, name = await ctx.db(lambda s: _load(s, action_id))
    request = ActionRequest(
        action_id=action.id,
        kind=ActionKind(action.kind),
        external_id=complaint.external_id,
        merchant_id=complaint.merchant_id,
        params=action.params,
        requested_at=action.created_at,
    )
    try:
        runtime = ctx.runtime_for(name)
        await ensure_verifier(ctx, name)
        channel = cast(ActionChannel, runtime.adapter)
        if previous == ActionStatus.UNCERTAIN:
            history = await runtime.adapter.fetch_history(complaint.external_id)
            if channel.applied_in_history(request, history):
                log.info("action %s was applied before its answer was lost: not sending again", action.id)
                await _settle(ctx, action, ActionStatus.SENT)
                await _refresh(ctx, name, complaint)
                return
        media_ids = await _upload_images(ctx, channel, action, runtime.extra.get("media_id_ttl_seconds"))
        outcome = await channel.perform(_with_media(request, media_ids))
    except ComplaintDeskError as exc:
        await _after_error(ctx, action, exc, previous)
        if exc.context.get("stale_state"):  # the upstream moved on: show the operator the new state
            await _refresh(ctx, name, complaint)
        return
    await _settle(ctx, action, ActionStatus.SENT, ref=outcome.upstream_ref)
    await _refresh(ctx, name, complaint)


def may_have_arrived(exc: ComplaintDeskError) -> bool:
    """Whether a failed send may still have been applied upstream (so history must be checked first)."""
    if isinstance(exc, ChannelTransportError):
        return exc.sent
    return isinstance(exc, UpstreamUnavailable) or bool(exc.context.get("uncertain"))


async def _after_error(
    ctx: AppContext, action: OutboundAction, exc: ComplaintDeskError, previous: str
) -> None:
    if exc.context.get("media_expired") or getattr(exc, "code", "") == "40007":
        await ctx.db(
            lambda s: outbox_service.forget_uploads(
                session=s, account_id=action.account_id, sha256s=action.image_refs
            )
        )
        await _retry_or_fail(
            ctx, action, exc, uncertain=False
        )  # refused, not applied: upload again and resend
        return
    if may_have_arrived(exc):
        await _retry_or_fail(ctx, action, exc, uncertain=True)
    elif isinstance(exc, RateLimited | ChannelTransportError):  # definitely not applied: safe to resend
        await _retry_or_fail(ctx, action, exc, uncertain=previous == ActionStatus.UNCERTAIN)
    elif isinstance(exc, ChannelAPIError):
        code = exc.code or str(exc.status)
        await _settle(ctx, action, ActionStatus.FAILED, code=code, message=exc.message)
    elif isinstance(exc, ActionRefused):
        await _settle(ctx, action, ActionStatus.FAILED, code="REFUSED", message=exc.message)
    else:  # configuration or verification trouble: keep it visible, retry later
        await _retry_or_fail(ctx, action, exc, uncertain=previous == ActionStatus.UNCERTAIN)


def _with_media(request: ActionRequest, media_ids: dict[str, str]) -> ActionRequest:
    return ActionRequest(
        action_id=request.action_id,
        kind=request.kind,
        external_id=request.external_id,
        merchant_id=request.merchant_id,
        params=request.params,
        requested_at=request.requested_at,
        media_ids=media_ids,
    )


async def _upload_images(
    ctx: AppContext, channel: ActionChannel, action: OutboundAction, ttl: float | None
) -> dict[str, str]:
    """Upload each image once per account (reusing media ids while the upstream keeps them valid)."""
    media_ids: dict[str, str] = {}
    for ref in action.image_refs:

        def cached(session: Session, r: str = ref) -> str | None:
            return outbox_service.uploaded_media_id(
                session=session, account_id=action.account_id, sha256=r, now=ctx.clock.now(), ttl_seconds=ttl
            )

        def suffix(session: Session, r: str = ref) -> str:
            return _file_type(session, r)

        known = await ctx.db(cached)
        if known is None:
            data = media_service.read_bytes(ctx.media_storage, ref)
            uploaded = await channel.upload_image(data, f"{ref[:32]}{await ctx.db(suffix)}")

            def remember(session: Session, r: str = ref, m: str = uploaded) -> None:
                outbox_service.remember_upload(
                    session=session, account_id=action.account_id, sha256=r, media_id=m, now=ctx.clock.now()
                )

            await ctx.db(remember)
            known = uploaded
        media_ids[ref] = known
    return media_ids


def _file_type(session: Session, ref: str) -> str:
    content_type = media_service.get_file(session=session, sha256=ref).content_type
    return {"image/jpeg": ".jpg", "image/png": ".png", "image/bmp": ".bmp"}.get(content_type, ".png")


async def _retry_or_fail(
    ctx: AppContext, action: OutboundAction, exc: ComplaintDeskError, *, uncertain: bool
) -> None:
    code = getattr(exc, "code", "") or type(exc).__name__
    if action.attempts >= ctx.settings.job_max_attempts:
        message = f"gave up after {action.attempts} attempts: {exc.message}"
        if uncertain:
            message += (
                " (the last attempt may have reached WeChat Pay: check the complaint before repeating it)"
            )
        await _settle(ctx, action, ActionStatus.FAILED, code=code, message=message)
        return
    delay = UNCERTAIN_RECHECK_SECONDS if uncertain else min(5.0 * 2 ** (action.attempts - 1), 600.0)
    status = ActionStatus.UNCERTAIN if uncertain else ActionStatus.PENDING
    log.warning("action %s attempt %d: %s; %s in %.0f s", action.id, action.attempts, exc, status, delay)
    await _settle(ctx, action, status, code=code, message=exc.message, retry_in=delay)


async def _settle(
    ctx: AppContext,
    action: OutboundAction,
    status: str,
    *,
    code: str = "",
    message: str = "",
    ref: str | None = None,
    retry_in: float | None = None,
) -> None:
    def work(session: Session) -> Any:
        return outbox_service.settle(
            session=session,
            action_id=action.id,
            status=status,
            now=ctx.clock.now(),
            retry_in=retry_in,
            error_code=code,
            error_message=message,
            upstream_ref=ref,
        )

    await ctx.db(work)


async def _refresh(ctx: AppContext, name: str, complaint: Complaint) -> None:
    """Best effort: show the upstream's new state and history right after an action."""
    try:
        runtime = ctx.runtime_for(name)
        snapshot = await runtime.adapter.fetch(complaint.external_id, with_history=True)
    except ChannelError as exc:
        log.info("refresh after action on %s skipped: %s", complaint.external_id, exc)
        return

    def store(session: Session) -> None:
        account = account_service.get(session=session, account_id=complaint.account_id)
        complaint_service.apply_snapshot(
            session=session,
            account=account,
            snapshot=snapshot,
            cipher=ctx.cipher,
            now=ctx.clock.now(),
            discovered_by="sync",
        )

    await ctx.db(store)
