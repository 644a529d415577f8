"""Evaluate SLA clocks on stored complaints: computed columns plus warning/breach timeline events, once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from complaintdesk.channels.base import ActionKind
from complaintdesk.core.alerts import hooks as alert_hooks
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.core.sla.rules import (
    FINISHED,
    Deadline,
    DeadlineKind,
    SlaFacts,
    SlaState,
    assess,
    deadlines,
)
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.dbutil import take_sqlite_write_lock
from complaintdesk.settings import SlaSettings

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
_DEFAULTS = SlaSettings()
_APPEAL_WAITING = 401
_LABELS = {
    DeadlineKind.FIRST_REPLY: "首次回复",
    DeadlineKind.FINISH: "处理完成",
    DeadlineKind.STATUS: "当前状态处理",
    DeadlineKind.APPEAL: "申诉",
}


@dataclass(frozen=True)
class DeadlineStatus:
    """One pending deadline and its state at evaluation time."""

    kind: DeadlineKind
    due_at: datetime
    state: SlaState


@dataclass(frozen=True)
class SlaResult:
    """What :func:`evaluate` found and stored."""

    state: SlaState
    due_at: datetime | None
    next_check_at: datetime | None
    deadlines: tuple[DeadlineStatus, ...]
    first_response_at: datetime | None
    resolved_at: datetime | None
    events_added: int


def evaluate(
    *, session: Session, complaint: Complaint, now: datetime, settings: SlaSettings = _DEFAULTS
) -> SlaResult:
    """Recompute a complaint's SLA columns and add each warning/breach event once (idempotent)."""
    complaint.first_response_at = first_response_at(session=session, complaint_id=complaint.id)
    complaint.resolved_at = _resolved_at(session, complaint, now)
    facts = SlaFacts(
        channel=complaint.channel,
        status=complaint.status,
        raw_status=str(complaint.raw_status),
        complained_at=complaint.complained_at,
        deadline_at=complaint.deadline_at,
        first_response_at=complaint.first_response_at,
        appeal_started_at=_appeal_started_at(session, complaint),
    )
    lead = timedelta(hours=settings.warning_lead_hours)
    found = deadlines(facts, settings)
    overall = assess(found, now, lead)
    wake = alert_hooks.on_deadlines(
        session=session, complaint=complaint, found=found, now=now, settings=settings
    )
    added = sum(_event(session, complaint.id, d, d.state(now, lead), now) for d in found)
    complaint.sla_state = overall.state.value
    complaint.sla_due_at = overall.due_at
    complaint.sla_next_check_at = min((t for t in (overall.next_check_at, wake) if t), default=None)
    flag_modified(complaint, "sla_next_check_at")  # always written: the "changed, due now" default stays out
    complaint.sla_evaluated_at = now
    session.flush()
    return SlaResult(
        state=overall.state,
        due_at=overall.due_at,
        next_check_at=overall.next_check_at,
        deadlines=tuple(DeadlineStatus(d.kind, d.due_at, d.state(now, lead)) for d in found),
        first_response_at=complaint.first_response_at,
        resolved_at=complaint.resolved_at,
        events_added=added,
    )


def evaluate_all(
    *, session: Session, now: datetime, limit: int = 500, settings: SlaSettings = _DEFAULTS
) -> int:
    """Evaluate complaints whose next check is due (any stored change makes one due); returns how many."""
    take_sqlite_write_lock(session)  # reads, then writes inside savepoints
    ids = session.scalars(
        select(Complaint.id)
        .where(Complaint.sla_next_check_at <= now)
        .order_by(Complaint.sla_next_check_at)
        .limit(limit)
    ).all()
    done = 0
    for complaint_id in ids:
        try:
            with session.begin_nested():
                complaint = session.get(Complaint, complaint_id)
                if complaint is not None:
                    evaluate(session=session, complaint=complaint, now=now, settings=settings)
                    done += 1
        except Exception:  # one broken complaint must not stop the others
            log.exception("SLA evaluation of complaint %s failed", complaint_id)
    return done


def evaluate_ids(
    *, session: Session, complaint_ids: list[int], now: datetime, settings: SlaSettings = _DEFAULTS
) -> int:
    """Evaluate the given complaints now (call after an action was sent or a complaint changed)."""
    complaints = session.scalars(select(Complaint).where(Complaint.id.in_(complaint_ids))).all()
    for complaint in complaints:
        evaluate(session=session, complaint=complaint, now=now, settings=settings)
    return len(complaints)


def first_response_at(*, session: Session, complaint_id: int) -> datetime | None:
    """The merchant's first answer: upstream history by the merchant, or one of our sent actions."""
    from_history = session.scalar(
        select(func.min(TimelineEntry.occurred_at)).where(
            TimelineEntry.complaint_id == complaint_id,
            TimelineEntry.actor == "merchant",
            TimelineEntry.source != "action",  # our own requests count once sent (below)
        )
    )
    from_actions = session.scalar(
        select(func.min(OutboundAction.sent_at)).where(
            OutboundAction.complaint_id == complaint_id, OutboundAction.status == ActionStatus.SENT
        )
    )
    found = [t for t in (from_history, from_actions) if t is not None]
    return min(found) if found else None


def _resolved_at(session: Session, complaint: Complaint, now: datetime) -> datetime | None:
    if complaint.status not in FINISHED:
        return None
    if complaint.resolved_at is not None:
        return complaint.resolved_at
    completed = session.scalar(
        select(func.max(OutboundAction.sent_at)).where(
            OutboundAction.complaint_id == complaint.id,
            OutboundAction.status == ActionStatus.SENT,
            OutboundAction.kind == ActionKind.COMPLETE.value,
        )
    )
    seen = completed or complaint.updated_at  # the change was stored when we saw it
    return min(seen, now)


def appeal_state(raw: dict[str, Any]) -> int | None:
    """Mini Program ``appealState`` wherever the stored payload keeps it (top level or ``complaintOrder``)."""
    for container in (raw, raw.get("complaintOrder"), raw.get("complaint_order")):
        if not isinstance(container, dict):
            continue
        for key in ("appealState", "appeal_state"):
            value = container.get(key)
            if isinstance(value, int | str) and str(value).strip().isdigit():
                return int(str(value).strip())
    return None


def _appeal_started_at(session: Session, complaint: Complaint) -> datetime | None:
    if complaint.channel != "miniprogram" or appeal_state(complaint.raw or {}) != _APPEAL_WAITING:
        return None
    history = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.complaint_id == complaint.id, TimelineEntry.source == "history")
        .order_by(TimelineEntry.occurred_at.desc(), TimelineEntry.id.desc())
        .limit(50)
    ).all()
    for entry in history:  # the node that opened the appeal window, when the history marks it
        if str((entry.raw or {}).get("appealItemType", "")) == str(_APPEAL_WAITING):
            return entry.occurred_at
    if history:  # otherwise the latest upstream event (the verdict that opened it)
        return history[0].occurred_at
    return complaint.updated_at


def _event(session: Session, complaint_id: int, deadline: Deadline, state: SlaState, now: datetime) -> int:
    if state == SlaState.OK:
        return 0
    word = "breach" if state == SlaState.BREACHED else "warning"
    due = deadline.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    label = _LABELS[deadline.kind]
    text = f"{label}已超时（期限 {due}）" if state == SlaState.BREACHED else f"{label}即将到期（期限 {due}）"
    return timeline_service.add_event(
        session=session,
        complaint_id=complaint_id,
        dedupe_key=f"sla:{word}:{deadline.kind.value}:{deadline.due_at.isoformat()}",
        kind=f"sla_{word}",
        occurred_at=deadline.due_at if state == SlaState.BREACHED else now,  # a breach happens when due
        text=text,
        raw={"deadline": deadline.kind.value, "due_at": deadline.due_at.isoformat(), "state": state.value},
    )
