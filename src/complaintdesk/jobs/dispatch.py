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
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy.orm import Session

from complaintdesk import logs
from complaintdesk.channels.base import ActionChannel, ActionKind, ActionRequest
from complaintdesk.channels.common.gate import send_gate
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import service as media_service
from complaintdesk.core.outbox import claims as outbox_claims
from complaintdesk.core.outbox import service as outbox_service
from complaintdesk.core.outbox.claims import Claim
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.errors import (
    ActionRefused,
    ChannelAPIError,
    ChannelError,
    ChannelTransportError,
    ComplaintDeskError,
    LeaseLost,
    RateLimited,
    UpstreamUnavailable,
)
from complaintdesk.jobs.lease import Lease
from complaintdesk.jobs.scheduled import ensure_verifier
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)
UNCERTAIN_RECHECK_SECONDS = 5.0


async def dispatch_actions(ctx: AppContext, *, limit: int = 20) -> int:
    """Embedded runner: send the due actions of up to ``limit`` complaints; returns the attempts."""
    due = await ctx.db(lambda s: outbox_claims.due_complaints(session=s, now=ctx.clock.now(), limit=limit))
    if not due:
        return 0
    counts = await asyncio.gather(*(dispatch_complaint(ctx, complaint_id) for complaint_id in due))
    return sum(counts)


async def dispatch_complaint(ctx: AppContext, complaint_id: int) -> int:
    """Job: send a complaint's due actions one after another, in order; returns how many were attempted.

    Stops at an action that is not due yet (its retry is deferred) or that a live sender holds.
    """
    with logs.bound(complaint_id=complaint_id):
        return await _dispatch(ctx, complaint_id)


async def _dispatch(ctx: AppContext, complaint_id: int) -> int:
    attempted = 0
    lease = timedelta(seconds=ctx.settings.jobs.lease_seconds)
    while True:
        claim = await ctx.db(
            lambda s: outbox_claims.claim_next(
                session=s, complaint_id=complaint_id, now=ctx.clock.now(), lease=lease
            )
        )
        if claim is None:
            return attempted
        attempted += 1
        settled = await _send(ctx, claim)
        if settled != ActionStatus.SENT and settled != ActionStatus.FAILED:
            return attempted  # retry later (deferred by settle), or the claim was lost


def _load(session: Session, action_id: str) -> tuple[OutboundAction, Complaint, str]:
    action = outbox_service.get(session=session, action_id=action_id)
    complaint = complaint_service.get(session=session, complaint_id=action.complaint_id)
    name = account_service.get(session=session, account_id=action.account_id).name
    session.expunge(action)
    session.expunge(complaint)
    return action, complaint, name


def _lease(ctx: AppContext, claim: Claim) -> Lease:
    def confirm(session: Session, now: datetime, lease: timedelta) -> bool:
        return outbox_claims.confirm(session=session, claim=claim, now=now, lease=lease)

    return Lease(ctx, confirm, f"action {claim.action_id}")


def request_for(action: OutboundAction, complaint: Complaint) -> ActionRequest:
    """What the channel is asked to perform for a stored action."""
    return ActionRequest(
        action_id=action.id,
        kind=ActionKind(action.kind),
        external_id=complaint.external_id,
        merchant_id=complaint.merchant_id,
        params=action.params,
        requested_at=action.created_at,
    )


async def _send(ctx: AppContext, claim: Claim) -> str | None:
    """One attempt at a claimed action; returns the status it settled in (None: the claim was lost)."""
    action, complaint, name = await ctx.db(lambda s: _load(s, claim.action_id))
    request = request_for(action, complaint)
    lease = _lease(ctx, claim)
    token = send_gate.set(lease.gate())
    try:
        runtime = ctx.runtime_for(name)
        await ensure_verifier(ctx, name)
        channel = cast(ActionChannel, runtime.adapter)
        if claim.previous == ActionStatus.UNCERTAIN:
            history = await runtime.adapter.fetch_history(complaint.external_id)
            if channel.applied_in_history(request, history):
                log.info("action %s was applied before its answer was lost: not sending again", action.id)
                settled = await _settle(ctx, claim, ActionStatus.SENT)
                await _refresh(ctx, name, complaint)
                return settled
        media_ids = await _upload_images(ctx, channel, action, runtime.extra.get("media_id_ttl_seconds"))
        await lease.renew()  # the last database check before the send (the gate checks its time left)
        outcome = await channel.perform(_with_media(request, media_ids))
    except LeaseLost as exc:
        log.warning("%s", exc)
        return None
    except ComplaintDeskError as exc:
        settled = await _after_error(ctx, claim, action, exc)
        if exc.context.get("stale_state"):  # the upstream moved on: show the operator the new state
            await _refresh(ctx, name, complaint)
        return settled
    finally:
        send_gate.reset(token)
    settled = await _settle(ctx, claim, ActionStatus.SENT, ref=outcome.upstream_ref)
    await _refresh(ctx, name, complaint)
    return settled


def may_have_arrived(exc: ComplaintDeskError) -> bool:
    """Whether a failed send may still have been applied upstream (so history must be checked first)."""
    if isinstance(exc, ChannelTransportError):
        return exc.sent
    return isinstance(exc, UpstreamUnavailable) or bool(exc.context.get("uncertain"))


async def _after_error(
    ctx: AppContext, claim: Claim, action: OutboundAction, exc: ComplaintDeskError
) -> str | None:
    previous = claim.previous
    if exc.context.get("media_expired") or getattr(exc, "code", "") == "40007":
        await ctx.db(
            lambda s: outbox_service.forget_uploads(
                session=s, account_id=action.account_id, sha256s=action.image_refs
            )
        )
        # refused, not applied: upload again and resend
        return await _retry_or_fail(ctx, claim, action, exc, uncertain=False)
    if may_have_arrived(exc):
        return await _retry_or_fail(ctx, claim, action, exc, uncertain=True)
    if isinstance(exc, RateLimited | ChannelTransportError):  # definitely not applied: safe to resend
        return await _retry_or_fail(ctx, claim, action, exc, uncertain=previous == ActionStatus.UNCERTAIN)
    if isinstance(exc, ChannelAPIError):
        code = exc.code or str(exc.status)
        return await _settle(ctx, claim, ActionStatus.FAILED, code=code, message=exc.message)
    if isinstance(exc, ActionRefused):
        return await _settle(ctx, claim, ActionStatus.FAILED, code="REFUSED", message=exc.message)
    # configuration or verification trouble: keep it visible, retry later
    return await _retry_or_fail(ctx, claim, action, exc, uncertain=previous == ActionStatus.UNCERTAIN)


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
            data = await asyncio.to_thread(media_service.read_bytes, ctx.media_storage, ref)
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
    ctx: AppContext, claim: Claim, action: OutboundAction, exc: ComplaintDeskError, *, uncertain: bool
) -> str | None:
    code = getattr(exc, "code", "") or type(exc).__name__
    if action.attempts >= ctx.settings.job_max_attempts:
        message = f"gave up after {action.attempts} attempts: {exc.message}"
        if uncertain:
            message += (
                " (the last attempt may have reached WeChat Pay: check the complaint before repeating it)"
            )
        return await _settle(ctx, claim, ActionStatus.FAILED, code=code, message=message)
    delay = UNCERTAIN_RECHECK_SECONDS if uncertain else min(5.0 * 2 ** (action.attempts - 1), 600.0)
    status = ActionStatus.UNCERTAIN if uncertain else ActionStatus.PENDING
    log.warning("action %s attempt %d: %s; %s in %.0f s", action.id, action.attempts, exc, status, delay)
    return await _settle(ctx, claim, status, code=code, message=exc.message, retry_in=delay)


async def _settle(
    ctx: AppContext,
    claim: Claim,
    status: str,
    *,
    code: str = "",
    message: str = "",
    ref: str | None = None,
    retry_in: float | None = None,
) -> str | None:
    """Record the attempt's outcome while holding the claim; None when another sender took over."""

    def work(session: Session) -> Any:
        return outbox_service.settle(
            session=session,
            action_id=claim.action_id,
            fence=claim.fence,
            status=status,
            now=ctx.clock.now(),
            retry_in=retry_in,
            error_code=code,
            error_message=message,
            upstream_ref=ref,
        )

    if await ctx.db(work) is None:
        log.warning(
            "action %s: settled by the sender that took it over; %s not recorded", claim.action_id, status
        )
        return None
    return status


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
