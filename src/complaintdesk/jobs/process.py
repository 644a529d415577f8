"""Job ``process_inbox``: turn stored notifications into complaints and timeline entries."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from complaintdesk import logs
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.core.inbox import service as inbox_service
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.errors import ComplaintDeskError
from complaintdesk.jobs.scheduled import ensure_verifier
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    id: int
    action: str | None
    event_type: str
    known: bool
    dedupe_key: str
    received_at: object


async def process_inbox(ctx: AppContext, *, limit: int = 100) -> int:
    """Embedded runner: process the complaints with due notifications; returns the events handled."""
    keys = await ctx.db(lambda s: inbox_service.due_keys(session=s, now=ctx.clock.now(), limit=limit))
    total = 0
    for account_id, external_id in keys:
        total += await process_complaint(ctx, account_id, external_id)
    return total


async def process_complaint(ctx: AppContext, account_id: int, external_id: str | None) -> int:
    """Job: turn a complaint's pending notifications into its detail, history and timeline entries."""
    with logs.bound(account_id=account_id, external_id=external_id):
        events = await ctx.db(lambda s: _pending(s, ctx, account_id, external_id))
        if events:
            await _process_group(ctx, account_id, external_id, events)
        return len(events)


def _pending(session: Session, ctx: AppContext, account_id: int, external_id: str | None) -> list[_Pending]:
    rows: list[InboxEvent] = inbox_service.pending_for(
        session=session, account_id=account_id, external_id=external_id, now=ctx.clock.now()
    )
    return [_Pending(e.id, e.action, e.event_type, e.known, e.dedupe_key, e.received_at) for e in rows]


async def _process_group(
    ctx: AppContext, account_id: int, external_id: str | None, events: list[_Pending]
) -> None:
    ids = [e.id for e in events]
    if not external_id:
        # Nothing to fetch (unknown event shape): keep it stored and flagged, mark handled.
        await ctx.db(lambda s: inbox_service.mark_done(session=s, event_ids=ids, now=ctx.clock.now()))
        log.warning("inbox events %s name no complaint; stored and flagged", ids)
        return
    try:
        name = await ctx.db(lambda s: account_service.get(session=s, account_id=account_id).name)
        runtime = ctx.runtime_for(name)
        await ensure_verifier(ctx, name)
        snapshot = await runtime.adapter.fetch(external_id, with_history=True)
    except ComplaintDeskError as exc:
        message = f"{type(exc).__name__}: {exc}"
        log.warning(
            "fetching complaint %s failed (%d events will be retried): %s", external_id, len(ids), message
        )
        await ctx.db(
            lambda s: inbox_service.mark_failed(
                session=s,
                event_ids=ids,
                now=ctx.clock.now(),
                error=message,
                max_attempts=ctx.settings.job_max_attempts,
            )
        )
        return

    def store(session: Session) -> None:
        account = account_service.get(session=session, account_id=account_id)
        result = complaint_service.apply_snapshot(
            session=session,
            account=account,
            snapshot=snapshot,
            cipher=ctx.cipher,
            now=ctx.clock.now(),
            discovered_by="notification",
            announced=True,
        )
        for event in events:
            timeline_service.add_event(
                session=session,
                complaint_id=result.complaint_id,
                dedupe_key=f"n:{event.dedupe_key}",
                kind=event.action or event.event_type,
                occurred_at=event.received_at,  # type: ignore[arg-type]
                source="notification",
                known=event.known,
                raw={"event_type": event.event_type, "action_type": event.action},
            )
        inbox_service.mark_done(session=session, event_ids=ids, now=ctx.clock.now())

    await ctx.db(store)
