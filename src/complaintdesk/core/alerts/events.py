"""Record alert events once and fan them out to deliveries, in the caller's transaction.

``record`` inserts the event under its unique ``key`` (INSERT … ON CONFLICT DO NOTHING): of any number
of processes that detect the same thing, one inserts it and the others insert nothing. Only the one
that inserted it writes the deliveries (unique event × destination) and defers one delivery job per
destination, so everything commits with the change that caused it, or not at all.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from complaintdesk.core.alerts.models import (
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    AlertRule,
    DestinationKind,
)
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.dbutil import execute_insert_ignore
from complaintdesk.jobs import queue


class EventKind(StrEnum):
    """What an alert is about."""

    NEW_COMPLAINT = "new_complaint"
    CONSUMER_MESSAGE = "consumer_message"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    PLATFORM_MEDIATING = "platform_mediating"
    EVIDENCE_REQUESTED = "evidence_requested"
    ACTION_FAILED = "action_failed"
    ASSIGNED = "assigned"
    MENTION = "mention"
    SYNC_UNANNOUNCED = "sync_unannounced"
    SIGNATURES_REFUSED = "signatures_refused"
    COMPLAINT_UPDATED = "complaint_updated"
    ACTION_SENT = "action_sent"


#: Events about one user only: they go to that user's rules, never to a team's.
PERSONAL = frozenset({EventKind.ASSIGNED, EventKind.MENTION})
#: Events for the merchant's own systems only (Standard Webhooks endpoints), too chatty for a chat.
ENDPOINT_ONLY = frozenset({EventKind.COMPLAINT_UPDATED, EventKind.ACTION_SENT})


def complaint_facts(complaint: Complaint) -> dict[str, Any]:
    """A complaint's key facts for a message: no phone, openid, names or free text of the consumer."""
    return {
        "complaint_id": complaint.id,
        "external_id": complaint.external_id,
        "channel": complaint.channel,
        "status": complaint.status,
        "raw_status": complaint.raw_status,
        "problem_type": complaint.problem_type,
        "amount_fen": complaint.amount_fen,
        "merchant_id": complaint.merchant_id,
        "complained_at": complaint.complained_at.isoformat(),
        "deadline": complaint.sla_due_at.isoformat() if complaint.sla_due_at else None,
    }


def record(
    *,
    session: Session,
    kind: EventKind,
    key: str,
    now: datetime,
    complaint: Complaint | None = None,
    account_id: int | None = None,
    user_id: int | None = None,
    facts: dict[str, Any] | None = None,
) -> bool:
    """Record an event once per ``key`` and write its deliveries; True when this call recorded it."""
    merged = {**(complaint_facts(complaint) if complaint is not None else {}), **(facts or {})}
    account = account_id if account_id is not None else (complaint.merchant_account_id if complaint else None)
    row = {
        "key": f"{kind.value}:{key}"[:200],
        "kind": kind.value,
        "complaint_id": complaint.id if complaint is not None else None,
        "account_id": account,
        "user_id": user_id,
        "facts": merged,
        "occurred_at": now,
    }
    assignee = complaint.assignee_id if complaint is not None else None
    destinations = _destinations(session, kind, account, user_id, assignee)
    if kind in ENDPOINT_ONLY and not destinations:
        return False  # frequent (every stored update), and no endpoint wants it: keep no row
    if not execute_insert_ignore(session, AlertEvent.__table__, ("key",), [row]):  # type: ignore[arg-type]
        return False
    event_id = session.scalars(select(AlertEvent.id).where(AlertEvent.key == row["key"])).one()
    if destinations:
        rows = [
            {"event_id": event_id, "destination_id": d, "status": "pending", "created_at": now}
            for d in destinations
        ]
        execute_insert_ignore(
            session,
            AlertDelivery.__table__,  # type: ignore[arg-type]
            ("event_id", "destination_id"),
            rows,
        )
        queue.defer(session, *(queue.deliver_alerts(d) for d in sorted(destinations)))
    return True


def _destinations(
    session: Session, kind: EventKind, account_id: int | None, user_id: int | None, assignee: int | None
) -> set[int]:
    query = (
        select(AlertRule.destination_id, AlertRule.events, AlertRule.user_id, AlertDestination.kind)
        .join(AlertDestination, AlertDestination.id == AlertRule.destination_id)
        .where(AlertRule.enabled.is_(True), AlertDestination.enabled.is_(True))
        .where(or_(AlertRule.account_id.is_(None), AlertRule.account_id == account_id))
        .where(or_(AlertDestination.account_id.is_(None), AlertDestination.account_id == account_id))
    )
    found: set[int] = set()
    for destination_id, events, rule_user, destination_kind in session.execute(query):
        if events and kind.value not in events:
            continue
        if kind in ENDPOINT_ONLY and destination_kind != DestinationKind.ENDPOINT:
            continue
        if kind in PERSONAL:
            if rule_user is None or rule_user != user_id:
                continue
        elif rule_user is not None and rule_user != assignee:
            continue
        found.add(destination_id)
    return found
