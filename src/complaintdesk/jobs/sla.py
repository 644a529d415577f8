"""Job ``evaluate_sla``: move SLA clocks forward (every minute, and after processing changed complaints)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from complaintdesk.core.sla import service as sla_service
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)
_MAX_ROUNDS = 20  # a backlog larger than rounds × batch continues on the next run


async def evaluate_sla(ctx: AppContext) -> int:
    """Evaluate every complaint whose clock is due or which changed; returns how many were evaluated."""
    settings = ctx.settings.sla
    total = 0
    for _ in range(_MAX_ROUNDS):
        now = ctx.clock.now()

        def run(session: Session, now: datetime = now) -> int:
            return sla_service.evaluate_all(
                session=session, now=now, limit=settings.batch_size, settings=settings
            )

        done = await ctx.db(run)
        total += done
        if done < settings.batch_size:
            break
    if total:
        log.debug("SLA evaluated %d complaints", total)
    return total
