"""Job ``archive_link``: download a complaint image once while its link lives, store it by hash."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy.orm import Session

from complaintdesk.channels.base import ActionChannel
from complaintdesk.channels.common.gate import send_gate
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import links as media_links
from complaintdesk.core.media import service as media_service
from complaintdesk.core.media.links import LinkClaim
from complaintdesk.errors import ComplaintDeskError, LeaseLost
from complaintdesk.jobs.lease import Lease
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)


async def archive_media(ctx: AppContext, *, limit: int = 20) -> int:
    """Embedded runner: download up to ``limit`` due images; returns how many were attempted."""
    due = await ctx.db(lambda s: media_links.due_ids(session=s, now=ctx.clock.now(), limit=limit))
    for link_id in due:
        await archive_link(ctx, link_id)
    return len(due)


def _claim(session: Session, ctx: AppContext, link_id: int) -> tuple[LinkClaim, str] | None:
    lease = timedelta(seconds=ctx.settings.jobs.lease_seconds)
    claim = media_links.claim(session=session, link_id=link_id, now=ctx.clock.now(), lease=lease)
    if claim is None:
        return None
    complaint = session.get(Complaint, claim.complaint_id)
    if complaint is None:
        return None
    return claim, account_service.get(session=session, account_id=complaint.account_id).name


def _lease(ctx: AppContext, claim: LinkClaim) -> Lease:
    def confirm(session: Session, now: datetime, lease: timedelta) -> bool:
        return media_links.confirm(session=session, claim=claim, now=now, lease=lease)

    return Lease(ctx, confirm, f"media link {claim.link_id}")


async def archive_link(ctx: AppContext, link_id: int) -> bool:
    """Job: fetch one image if it is still due and this worker wins the claim; True when stored."""
    claimed = await ctx.db(lambda s: _claim(s, ctx, link_id))
    if claimed is None:
        return False
    claim, name = claimed
    lease = _lease(ctx, claim)
    token = send_gate.set(lease.gate(gate_reads=True))
    try:
        channel = cast(ActionChannel, ctx.runtime_for(name).adapter)
        await lease.renew()
        data, declared = await channel.download_image(claim.url)
    except LeaseLost as exc:
        log.warning("%s", exc)
        return False
    except ComplaintDeskError as exc:
        message = f"{type(exc).__name__}: {exc}"

        def failed(session: Session) -> None:
            if media_links.holds(session=session, claim=claim):
                media_links.failed(session=session, claim=claim, now=ctx.clock.now(), error=message)

        await ctx.db(failed)
        log.warning("archiving an image of a complaint failed: %s", message)
        return False
    finally:
        send_gate.reset(token)
    content_type = media_service.sniff_image(data) or declared or "application/octet-stream"

    def store(session: Session) -> bool:
        if not media_links.holds(session=session, claim=claim):
            return False
        stored = media_service.store_bytes(
            session=session, storage=ctx.media_storage, data=data, content_type=content_type
        )
        media_links.archived(session=session, claim=claim, sha256=stored.sha256)
        return True

    return await ctx.db(store)
