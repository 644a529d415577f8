"""Inbox bookkeeping: build rows, claim pending events, record outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from complaintdesk.channels.base import OpenedNotification
from complaintdesk.core.inbox.models import InboxEvent, InboxStatus
from complaintdesk.security import redact

#: A claim older than this is considered abandoned (its process died) and is claimed again.
CLAIM_TIMEOUT = timedelta(minutes=5)


def build_row(
    *,
    channel: str,
    account_id: int,
    opened: OpenedNotification,
    raw_body: bytes,
    received_at: datetime,
    raw_body_plaintext: bool = True,
) -> dict[str, Any]:
    """The inbox row for a verified notification (what the group-commit writer inserts).

    A plaintext body (Mini Program plaintext mode, Huishouqian) may carry phone numbers: they are
    masked before storage. An encrypted envelope is stored as received.
    """
    raw_text = raw_body.decode("utf-8", errors="replace")
    return {
        "channel": channel,
        "account_id": account_id,
        "dedupe_key": opened.dedupe_key[:128],
        "event_type": opened.event_type[:64],
        "external_id": opened.external_id,
        "action": (opened.action or "")[:64] or None,
        "known": opened.known,
        "payload": opened.payload,
        "raw_body": redact(raw_text) if raw_body_plaintext else raw_text,
        "received_at": received_at,
        "status": InboxStatus.PENDING,
        "attempts": 0,
        "last_error": "",
    }


def claim_batch(*, session: Session, now: datetime, limit: int = 100) -> list[InboxEvent]:
    """Claim up to ``limit`` due events (pending, or abandoned while processing)."""
    due = or_(InboxEvent.next_attempt_at.is_(None), InboxEvent.next_attempt_at <= now)
    candidates = session.scalars(
        select(InboxEvent.id)
        .where(
            or_(
                (InboxEvent.status == InboxStatus.PENDING) & due,
                (InboxEvent.status == InboxStatus.PROCESSING) & (InboxEvent.claimed_at < now - CLAIM_TIMEOUT),
            )
        )
        .order_by(InboxEvent.id)
        .limit(limit)
    ).all()
    claimed: list[int] = []
    for event_id in candidates:
        result = session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == event_id)
            .where(
                or_(
                    InboxEvent.status == InboxStatus.PENDING,
                    (InboxEvent.status == InboxStatus.PROCESSING)
                    & (InboxEvent.claimed_at < now - CLAIM_TIMEOUT),
                )
            )
            .values(status=InboxStatus.PROCESSING, claimed_at=now, attempts=InboxEvent.attempts + 1)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(event_id)
    session.flush()
    if not claimed:
        return []
    return list(session.scalars(select(InboxEvent).where(InboxEvent.id.in_(claimed)).order_by(InboxEvent.id)))


def mark_done(*, session: Session, event_ids: list[int], now: datetime) -> None:
    """Record that events were processed."""
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id.in_(event_ids))
        .values(status=InboxStatus.DONE, processed_at=now, last_error="")
    )


def mark_failed(
    *, session: Session, event_ids: list[int], now: datetime, error: str, max_attempts: int
) -> None:
    """Record a failed attempt: retry later with backoff, or give up after ``max_attempts``."""
    for event in session.scalars(select(InboxEvent).where(InboxEvent.id.in_(event_ids))):
        event.last_error = error[:2000]
        if event.attempts >= max_attempts:
            event.status = InboxStatus.FAILED
        else:
            event.status = InboxStatus.PENDING
            event.next_attempt_at = now + timedelta(seconds=min(2**event.attempts * 5, 3600))
    session.flush()


def requeue_failed(*, session: Session) -> int:
    """Put every failed event back in the queue (operator action after fixing the cause)."""
    result = session.execute(
        update(InboxEvent)
        .where(InboxEvent.status == InboxStatus.FAILED)
        .values(status=InboxStatus.PENDING, attempts=0, next_attempt_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def counts(*, session: Session) -> dict[str, int]:
    """Number of inbox events per status."""
    rows = session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all()
    return {status: int(n) for status, n in rows}
