"""Where alert events are detected: one small call from each place that already knows.

Each function is called inside the detecting unit of work (SLA evaluation, ``apply_snapshot``, the
outbox's settle, assignment, notes, the sync report) and records events with keys that make them
happen once per complaint and threshold (``events.record``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from complaintdesk.core.alerts import events
from complaintdesk.core.alerts.events import EventKind
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.sla.rules import Deadline
from complaintdesk.core.users.models import User
from complaintdesk.settings import SlaSettings

#: Mini Program raw statuses in which the platform asks the merchant for evidence (补充凭证). Assumption.
EVIDENCE_STATUSES = frozenset({"108", "206"})
_MENTION = re.compile(r"@([\w.\-]{2,64})")


def leads_for(channel: str, settings: SlaSettings) -> list[float]:
    """The alert lead times (hours before a deadline) of a channel, largest first."""
    table = settings.alert_lead_hours
    return sorted(table.get(channel, table.get("*", [])), reverse=True)


def on_deadlines(
    *, session: Session, complaint: Complaint, found: Sequence[Deadline], now: datetime, settings: SlaSettings
) -> datetime | None:
    """Record SLA warnings (the tightest lead reached) and breaches; returns the next threshold to wake at.

    Keys carry the deadline's kind and due time (and the lead), so a deadline that moves is a new one
    and the same threshold of the same deadline fires once, whoever evaluates it.
    """
    leads = leads_for(complaint.channel, settings)
    upcoming: list[datetime] = []
    for deadline in found:
        base = f"{complaint.id}:{deadline.kind.value}:{deadline.due_at.isoformat()}"
        facts = {"deadline_kind": deadline.kind.value, "due_at": deadline.due_at.isoformat()}
        if now >= deadline.due_at:
            events.record(
                session=session,
                kind=EventKind.SLA_BREACH,
                key=base,
                now=now,
                complaint=complaint,
                facts=facts,
            )
            continue
        reached = [h for h in leads if now >= deadline.due_at - timedelta(hours=h)]
        if reached:
            lead = min(reached)
            events.record(
                session=session,
                kind=EventKind.SLA_WARNING,
                key=f"{base}:{lead:g}h",
                now=now,
                complaint=complaint,
                facts={**facts, "lead_hours": lead},
            )
        upcoming += [deadline.due_at - timedelta(hours=h) for h in leads if h not in reached]
        upcoming.append(deadline.due_at)
    return min((t for t in upcoming if t > now), default=None)


def on_snapshot(
    *, session: Session, complaint: Complaint, created: bool, before: dict[str, object], now: datetime
) -> None:
    """New complaint, a consumer message now waiting, the platform stepping in or asking for evidence."""
    if created:
        events.record(
            session=session, kind=EventKind.NEW_COMPLAINT, key=str(complaint.id), now=now, complaint=complaint
        )
    if complaint.user_message_waiting and not before.get("user_message_waiting"):
        events.record(
            session=session,
            kind=EventKind.CONSUMER_MESSAGE,
            key=f"{complaint.id}:{complaint.history_count}:{now.isoformat()}",
            now=now,
            complaint=complaint,
        )
    if complaint.platform_assistance and not before.get("platform_assistance"):
        events.record(
            session=session,
            kind=EventKind.PLATFORM_MEDIATING,
            key=f"{complaint.id}:{complaint.raw_status}",
            now=now,
            complaint=complaint,
        )
    entered = before.get("raw_status") != complaint.raw_status
    if complaint.channel == "miniprogram" and complaint.raw_status in EVIDENCE_STATUSES and entered:
        events.record(
            session=session,
            kind=EventKind.EVIDENCE_REQUESTED,
            key=f"{complaint.id}:{complaint.raw_status}:{complaint.deadline_at}",
            now=now,
            complaint=complaint,
        )


def on_action_failed(
    *, session: Session, complaint_id: int, action_id: str, kind: str, code: str, message: str, now: datetime
) -> None:
    """An action ended ``failed``: tell the team with the upstream's code and message."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        return
    events.record(
        session=session,
        kind=EventKind.ACTION_FAILED,
        key=action_id,
        now=now,
        complaint=complaint,
        facts={"action": kind, "error": f"{code} {message}".strip()[:300]},
    )


def on_assigned(
    *, session: Session, complaint: Complaint, assignee_id: int, entry_key: str, now: datetime
) -> None:
    """A complaint was given to someone: tell that user."""
    events.record(
        session=session,
        kind=EventKind.ASSIGNED,
        key=entry_key,
        now=now,
        complaint=complaint,
        user_id=assignee_id,
    )


def on_note(
    *, session: Session, complaint: Complaint, text: str, entry_key: str, author_id: int | None, now: datetime
) -> None:
    """Tell each active user named ``@username`` in a note (not the author)."""
    names = {m.lower() for m in _MENTION.findall(text)}
    if not names:
        return
    users = session.scalars(
        select(User).where(func.lower(User.username).in_(names), User.active.is_(True))
    ).all()
    for user in users:
        if user.id == author_id:
            continue
        events.record(
            session=session,
            kind=EventKind.MENTION,
            key=f"{entry_key}:{user.id}",
            now=now,
            complaint=complaint,
            user_id=user.id,
        )


def on_sync_report(
    *, session: Session, account_id: int, run_id: int, unannounced: Sequence[str], now: datetime
) -> None:
    """A sync found complaints no notification announced: a callback configuration problem."""
    if not unannounced:
        return
    events.record(
        session=session,
        kind=EventKind.SYNC_UNANNOUNCED,
        key=str(run_id),
        now=now,
        account_id=account_id,
        facts={"count": len(unannounced), "external_ids": list(unannounced)[:20]},
    )
