"""One grouped pass over the complaints received in a period, from which most KPIs are summed.

Volume, problem types, merchants, SLA outcomes, refunds and the ``complaint_times`` buckets all
count the same rows, so they are read together: one scan grouped by (day, channel, merchant account,
problem type) with a column per count, instead of one scan each.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.core.reports import sql
from complaintdesk.core.reports.filters import ReportFilters, conditions
from complaintdesk.core.timeline.models import TimelineEntry

#: ``complaint_times`` buckets of the repeat-complainant table (lower bound, label).
REPEAT_BUCKETS: tuple[tuple[int, str], ...] = ((1, "1"), (2, "2"), (3, "3"), (4, "4-5"), (6, "6+"))
#: The summed columns, in query order.
COUNTS = (
    "received", "breached", "warned", "requested", "approved", "rejected",
    "requested_fen", "approved_fen", "rejected_fen",
)  # fmt: skip


@dataclass
class PeriodFacts:
    """The sums of one period: per (day, channel), per problem type, per merchant, and in total."""

    volume: dict[date, dict[str, int]]
    problem_types: Counter[str] = field(default_factory=Counter)
    merchants: Counter[int] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    times: Counter[int] = field(default_factory=Counter)  # bucket lower bound → complaints


def ever(kind: str, state: str) -> ColumnElement[bool]:
    """The complaint is in ``state`` now, or a timeline event of ``kind`` says it was once."""
    # ``IN`` a set rather than a correlated EXISTS: one pass over the few events (index on kind)
    events = select(TimelineEntry.complaint_id).where(TimelineEntry.kind == kind)
    return or_(Complaint.sla_state == state, Complaint.id.in_(events))


def decided(kind: str) -> ColumnElement[bool]:
    """An action of ``kind`` was sent for the complaint."""
    sent = select(OutboundAction.complaint_id).where(
        OutboundAction.kind == kind, OutboundAction.status == ActionStatus.SENT
    )
    return Complaint.id.in_(sent)


def _sum(flag: ColumnElement[bool], what: Any = 1) -> Any:
    return func.coalesce(func.sum(case((flag, what), else_=0)), 0)


def facts(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> PeriodFacts:
    """Read the period once and sum every count KPI."""
    day = sql.local_day(session, Complaint.complained_at)
    breached = ever("sla_breach", "breached")
    warned = and_(~breached, ever("sla_warning", "warning"))
    approved = decided("refund_approve")
    rejected = and_(~approved, decided("refund_reject"))
    requested = Complaint.refund_requested.is_(True)
    amount = func.coalesce(Complaint.refund_amount_fen, 0)
    bucket = case(
        *((Complaint.complaint_times >= low, low) for low, _ in reversed(REPEAT_BUCKETS[1:])), else_=1
    )
    sums = [
        func.count(), _sum(breached), _sum(warned), _sum(requested), _sum(approved), _sum(rejected),
        _sum(requested, amount), _sum(approved, amount), _sum(rejected, amount),
        *(_sum(bucket == low) for low, _ in REPEAT_BUCKETS),
    ]  # fmt: skip
    keys = (day, Complaint.channel, Complaint.merchant_account_id, Complaint.problem_type)
    rows = session.execute(select(*keys, *sums).where(*conditions(session, filters, scope)).group_by(*keys))
    out = PeriodFacts(volume={d: {} for d in filters.days})
    for value, channel, merchant, problem, *numbers in rows:
        counts = dict(zip(COUNTS, (int(n) for n in numbers), strict=False))
        received = counts["received"]
        per_day = out.volume.setdefault(sql.as_date(value), {})
        per_day[channel] = per_day.get(channel, 0) + received
        out.problem_types[str(problem or "")] += received
        out.merchants[int(merchant)] += received
        out.totals.update(counts)
        for (low, _), n in zip(REPEAT_BUCKETS, numbers[len(COUNTS) :], strict=True):
            out.times[low] += int(n)
    return out
