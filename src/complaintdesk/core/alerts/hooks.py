"""Where alert events are detected: one small call from each place that already knows.

Each function is called inside the detecting unit of work (SLA evaluation, ``apply_snapshot``, the
outbox's settle, assignment, notes, the sync report) and records events with keys that make them
happen once per complaint and threshold (``events.record``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Change:
    """A snapshot event: when it fires (complaint, state before, created, updated) and its key."""

    kind: EventKind
    fires: Callable[[Complaint, dict[str, object], bool, bool], bool]
    key: Callable[[Complaint, datetime], str]


_SNAPSHOT_EVENTS = (
    _Change(EventKind.NEW_COMPLAINT, lambda c, b, created, u: created, lambda c, now: str(c.id)),
    _Change(
        EventKind.CONSUMER_MESSAGE,
        lambda c, b, cr, u: c.user_message_waiting and not b.get("user_message_waiting"),
        lambda c, now: f"{c.id}:{c.history_count}:{now.isoformat()}",
    ),
    _Change(
        EventKind.PLATFORM_MEDIATING,
        lambda c, b, cr, u: c.platform_assistance and not b.get("platform_assistance"),
        lambda c, now: f"{c.id}:{c.raw_status}",
    ),
    _Change(
        EventKind.EVIDENCE_REQUESTED,
        lambda c, b, cr, u: (
            c.channel == "miniprogram"
            and c.raw_status in EVIDENCE_STATUSES
            and b.get("raw_status") != c.raw_status
        ),
        lambda c, now: f"{c.id}:{c.raw_status}:{c.deadline_at}",
    ),
    # Endpoints only (``events.ENDPOINT_ONLY``): the row changed or history arrived.
    _Change(
        EventKind.COMPLAINT_UPDATED,
        lambda c, b, created, updated: updated and not created,
        lambda c, now: f"{c.id}:{c.updated_at.isoformat() if c.updated_at else now.isoformat()}",
    ),
)


def on_snapshot(
    *,
    session: Session,
    complaint: Complaint,
    created: bool,
    before: dict[str, object],
    now: datetime,
    updated: bool = False,
) -> None:
    """New complaint, a consumer message now waiting, the platform stepping in or asking for evidence,
    and (for endpoints) any update; one table row per event."""
    for change in _SNAPSHOT_EVENTS:
        if change.fires(complaint, before, created, updated):
            events.record(
                session=session,
                kind=change.kind,
                key=change.key(complaint, now),
                now=now,
                complaint=complaint,
            )


def on_action_settled(
    *,
    session: Session,
    complaint_id: int,
    action_id: str,
    kind: str,
    sent: bool,
    now: datetime,
    code: str = "",
    message: str = "",
) -> None:
    """An action ended ``sent`` (endpoints) or ``failed`` (everyone, with the upstream's code and message)."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        return
    facts: dict[str, object] = {"action": kind}
    if not sent:
        facts["error"] = f"{code} {message}".strip()[:300]
    events.record(
        session=session,
        kind=EventKind.ACTION_SENT if sent else EventKind.ACTION_FAILED,
        key=action_id,
        now=now,
        complaint=complaint,
        facts=facts,
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
