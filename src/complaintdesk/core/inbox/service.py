"""Inbox bookkeeping: build rows, find due notifications, record outcomes.

Notifications of one complaint are processed by one job at a time (``jobs.queue.process_complaint``
locks on the complaint), so they need no claim of their own; processing is idempotent besides.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from complaintdesk.channels.base import OpenedNotification
from complaintdesk.core.inbox.models import InboxEvent, InboxStatus
from complaintdesk.jobs import queue
from complaintdesk.security import redact


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
    window: dict[str, Any] = {}
    if opened.window_seconds is not None:  # the final key is set by the writer (``inbox.window``)
        window = {
            "dedupe_identity": opened.dedupe_key[:100],
            "dedupe_window": max(0, opened.window_seconds),
            "dedupe_at": received_at.timestamp(),
        }
    return window | {
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


def due_keys(*, session: Session, now: datetime, limit: int = 100) -> list[tuple[int, str | None]]:
    """Complaints (account id, external id) with pending notifications that are due, oldest first."""
    due = or_(InboxEvent.next_attempt_at.is_(None), InboxEvent.next_attempt_at <= now)
    rows = session.execute(
        select(InboxEvent.account_id, InboxEvent.external_id, func.min(InboxEvent.id).label("first"))
        .where(InboxEvent.status == InboxStatus.PENDING, due)
        .group_by(InboxEvent.account_id, InboxEvent.external_id)
        .order_by("first")
        .limit(limit)
    ).all()
    return [(int(account_id), external_id) for account_id, external_id, _ in rows]


def pending_for(
    *, session: Session, account_id: int, external_id: str | None, now: datetime, limit: int = 500
) -> list[InboxEvent]:
    """The due pending notifications of one complaint (its job runs one at a time, so no claim is taken)."""
    due = or_(InboxEvent.next_attempt_at.is_(None), InboxEvent.next_attempt_at <= now)
    same = InboxEvent.external_id.is_(None) if external_id is None else InboxEvent.external_id == external_id
    return list(
        session.scalars(
            select(InboxEvent)
            .where(InboxEvent.account_id == account_id, same, InboxEvent.status == InboxStatus.PENDING, due)
            .order_by(InboxEvent.id)
            .limit(limit)
        )
    )


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
    retry_at: datetime | None = None
    events = list(session.scalars(select(InboxEvent).where(InboxEvent.id.in_(event_ids))))
    for event in events:
        event.attempts += 1
        event.last_error = error[:2000]
        if event.attempts >= max_attempts:
            event.status = InboxStatus.FAILED
        else:
            event.status = InboxStatus.PENDING
            event.next_attempt_at = now + timedelta(seconds=min(2**event.attempts * 5, 3600))
            retry_at = max(retry_at or event.next_attempt_at, event.next_attempt_at)
    session.flush()
    if retry_at is not None and events:
        queue.defer(session, queue.process_complaint(events[0].account_id, events[0].external_id, retry_at))


def requeue_failed(*, session: Session) -> int:
    """Put every failed event back in the queue (operator action after fixing the cause)."""
    keys = session.execute(
        select(InboxEvent.account_id, InboxEvent.external_id)
        .where(InboxEvent.status == InboxStatus.FAILED)
        .distinct()
    ).all()
    result = session.execute(
        update(InboxEvent)
        .where(InboxEvent.status == InboxStatus.FAILED)
        .values(status=InboxStatus.PENDING, attempts=0, next_attempt_at=None)
    )
    queue.defer(session, *(queue.process_complaint(a, e) for a, e in keys))
    return int(result.rowcount)  # type: ignore[attr-defined]


def counts(*, session: Session) -> dict[str, int]:
    """Number of inbox events per status."""
    rows = session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all()
    return {status: int(n) for status, n in rows}
