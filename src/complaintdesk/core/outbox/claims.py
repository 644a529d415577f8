"""Claims on outbound actions: which action is due, who may send it, and the send gate's check.

A claim bumps the action's ``fence`` and holds a lease (``lease_until``); the sender confirms it right
before the request leaves (``confirm``) and settles only with it (``service.settle(fence=…)``). A
``sending`` action whose lease expired is taken over as ``uncertain``: its history is read first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from complaintdesk.core.live import feed as live_feed
from complaintdesk.core.live.models import LiveKind
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction


@dataclass(frozen=True)
class Claim:
    """A sender's hold on one action: only while ``fence`` is the action's may it send or settle."""

    action_id: str
    complaint_id: int
    fence: int
    #: Status before the claim; a ``sending`` whose lease expired counts as ``uncertain``.
    previous: str


def due_complaints(*, session: Session, now: datetime, limit: int = 20) -> list[int]:
    """Complaints whose first open action is due (or whose sender's lease expired), oldest first."""
    rank = (
        func.row_number()
        .over(partition_by=OutboundAction.complaint_id, order_by=OutboundAction.seq)
        .label("rank")
    )
    first_open = (
        select(
            OutboundAction.complaint_id,
            OutboundAction.status,
            OutboundAction.next_attempt_at,
            OutboundAction.lease_until,
            OutboundAction.created_at,
            rank,
        )
        .where(OutboundAction.status.in_(ActionStatus.OPEN))
        .subquery()
    )
    c = first_open.c
    due = or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now)
    expired = and_(c.status == ActionStatus.SENDING, or_(c.lease_until.is_(None), c.lease_until < now))
    rows = session.scalars(
        select(c.complaint_id)
        .where(c.rank == 1)
        .where(or_(and_(c.status.in_((ActionStatus.PENDING, ActionStatus.UNCERTAIN)), due), expired))
        .order_by(c.created_at)
        .limit(limit)
    )
    return list(rows)


def first_open(*, session: Session, complaint_id: int) -> OutboundAction | None:
    """The action of a complaint to send next (lowest ``seq`` not yet final)."""
    return session.scalar(
        select(OutboundAction)
        .where(OutboundAction.complaint_id == complaint_id, OutboundAction.status.in_(ActionStatus.OPEN))
        .order_by(OutboundAction.seq)
        .limit(1)
    )


def claim_next(*, session: Session, complaint_id: int, now: datetime, lease: timedelta) -> Claim | None:
    """Claim the complaint's next action if it is due; None when nothing is due or a live sender holds it.

    The claim is a compare-and-set on the row as read (status and fence), so of two workers reading
    the same row only one wins; a ``sending`` row is taken over only once its lease has expired.
    """
    action = first_open(session=session, complaint_id=complaint_id)
    if action is None:
        return None
    if action.status == ActionStatus.SENDING:
        if action.lease_until is not None and action.lease_until >= now:
            return None
    elif action.next_attempt_at is not None and action.next_attempt_at > now:
        return None
    result = session.execute(
        update(OutboundAction)
        .where(
            OutboundAction.id == action.id,
            OutboundAction.status == action.status,
            OutboundAction.fence == action.fence,
        )
        .values(
            status=ActionStatus.SENDING,
            fence=action.fence + 1,
            lease_until=now + lease,
            claimed_at=now,
            attempts=OutboundAction.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    live_feed.emit(session, [(complaint_id, LiveKind.TIMELINE)])  # the page shows "sending"
    previous = ActionStatus.UNCERTAIN if action.status == ActionStatus.SENDING else action.status
    return Claim(action.id, complaint_id, action.fence + 1, previous)


def confirm(*, session: Session, claim: Claim, now: datetime, lease: timedelta) -> bool:
    """The send gate: renew the lease right before the request leaves; False when the claim was lost."""
    result = session.execute(
        update(OutboundAction)
        .where(
            OutboundAction.id == claim.action_id,
            OutboundAction.fence == claim.fence,
            OutboundAction.status == ActionStatus.SENDING,
        )
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
