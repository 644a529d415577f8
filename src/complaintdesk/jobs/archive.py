"""Job ``archive_media``: download complaint images while their links are valid, store them by hash."""

from __future__ import annotations

import logging
from typing import cast

from sqlalchemy.orm import Session

from complaintdesk.channels.base import ActionChannel
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import service as media_service
from complaintdesk.errors import ComplaintDeskError
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)


def _due(session: Session, ctx: AppContext, limit: int) -> list[tuple[int, str, str]]:
    rows = []
    for link in media_service.due_links(session=session, now=ctx.clock.now(), limit=limit):
        complaint = session.get(Complaint, link.complaint_id)
        if complaint is None:
            continue
        name = account_service.get(session=session, account_id=complaint.account_id).name
        rows.append((link.id, link.url, name))
    return rows


async def archive_media(ctx: AppContext, *, limit: int = 20) -> int:
    """Fetch up to ``limit`` pending images; returns how many were attempted."""
    due = await ctx.db(lambda s: _due(s, ctx, limit))
    for link_id, url, name in due:
        try:
            channel = cast(ActionChannel, ctx.runtime_for(name).adapter)
            data, declared = await channel.download_image(url)
        except ComplaintDeskError as exc:
            message = f"{type(exc).__name__}: {exc}"

            def failed(session: Session, i: int = link_id, m: str = message) -> None:
                media_service.mark_failed(session=session, link_id=i, now=ctx.clock.now(), error=m)

            await ctx.db(failed)
            log.warning("archiving an image of a complaint failed: %s", message)
            continue
        content_type = media_service.sniff_image(data) or declared or "application/octet-stream"

        def store(session: Session, i: int = link_id, d: bytes = data, t: str = content_type) -> None:
            stored = media_service.store_bytes(
                session=session, storage=ctx.media_storage, data=d, content_type=t
            )
            media_service.mark_archived(session=session, link_id=i, sha256=stored.sha256)

        await ctx.db(store)
    return len(due)
