"""The KPIs, each one query function over complaints (definitions in ``docs/reports.md``).

Every function takes the session, the :class:`ReportFilters` and a scope clause (the caller's merchant
scope, e.g. ``Principal.account_filter()``) and only reads. :func:`compute` gathers them all: the
dashboard, the export and the API show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.core.reports import sql
from complaintdesk.core.reports.filters import ReportFilters, conditions, subject_conditions
from complaintdesk.core.timeline.models import TimelineEntry

TOP = 10
#: ``complaint_times`` buckets of the repeat-complainant table (lower bound, label).
REPEAT_BUCKETS: tuple[tuple[int, str], ...] = ((1, "1"), (2, "2"), (3, "3"), (4, "4-5"), (6, "6+"))


@dataclass(frozen=True)
class Durations:
    """How many complaints have the duration, its median and 90th percentile (seconds)."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class SlaRates:
    """Complaints received in the period by their worst SLA moment."""

    total: int
    on_time: int
    warned: int
    breached: int

    def rate(self, part: int) -> float | None:
        """``part`` as a share of ``total`` (None when there is nothing)."""
        return part / self.total if self.total else None


@dataclass(frozen=True)
class Refunds:
    """Refund requests of complaints received in the period and our decisions on them (fen)."""

    requested: int
    approved: int
    rejected: int
    requested_fen: int
    approved_fen: int
    rejected_fen: int


@dataclass(frozen=True)
class Repeat:
    """Repeat complainants: upstream counts per complaint, and payers with several complaints."""

    by_times: list[tuple[str, int]]
    repeat_payers: int  # payers (openid) with more than one complaint in the period
    complaints_of_repeat_payers: int


@dataclass(frozen=True)
class Report:
    """Every KPI of one period, account and channel choice."""

    filters: ReportFilters
    channels: list[str]
    volume: dict[date, dict[str, int]]
    backlog: list[tuple[date, int]]
    first_response: Durations
    time_to_finish: Durations
    sla: SlaRates
    refunds: Refunds
    problem_types: list[tuple[str, int]]
    merchants: list[tuple[int, str, int]]
    repeat: Repeat
    operators: list[tuple[str, int]]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Complaints received in the period."""
        return sum(sum(per.values()) for per in self.volume.values())


def volume_by_day(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> dict[date, dict[str, int]]:
    """Complaints received per Asia/Shanghai day and channel (every day of the period present)."""
    day = sql.local_day(session, Complaint.complained_at)
    rows = session.execute(
        select(day, Complaint.channel, func.count())
        .where(*conditions(session, filters, scope))
        .group_by(day, Complaint.channel)
    )
    out: dict[date, dict[str, int]] = {d: {} for d in filters.days}
    for value, channel, n in rows:
        out.setdefault(sql.as_date(value), {})[channel] = int(n)
    return out


def backlog_by_day(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[tuple[date, int]]:
    """Complaints not finished at the end of each day: received by then, not resolved or closed by then."""
    subject = subject_conditions(session, filters, scope)
    start, end = filters.start, filters.end
    before = session.scalar(
        select(func.count()).where(
            *subject,
            Complaint.complained_at < start,
            or_(Complaint.resolved_at.is_(None), Complaint.resolved_at >= start),
        )
    )
    arrived = _per_day(session, subject, Complaint.complained_at, start, end)
    finished = _per_day(session, [*subject, Complaint.complained_at < end], Complaint.resolved_at, start, end)
    level = int(before or 0)
    out: list[tuple[date, int]] = []
    for day in filters.days:
        level += arrived.get(day, 0) - finished.get(day, 0)
        out.append((day, level))
    return out


def _per_day(
    session: Session, where: list[ColumnElement[bool]], column: Any, start: Any, end: Any
) -> dict[date, int]:
    day = sql.local_day(session, column)
    rows = session.execute(
        select(day, func.count()).where(*where, column >= start, column < end).group_by(day)
    )
    return {sql.as_date(d): int(n) for d, n in rows}


def _durations(session: Session, filters: ReportFilters, scope: ColumnElement[bool], until: Any) -> Durations:
    seconds = sql.seconds_between(session, Complaint.complained_at, until)
    n, (median, p90) = sql.percentiles(session, seconds, conditions(session, filters, scope), (0.5, 0.9))
    return Durations(n, median, p90)


def first_response(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Durations:
    """Time from the complaint to the merchant's first answer, of complaints received in the period."""
    return _durations(session, filters, scope, Complaint.first_response_at)


def time_to_finish(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Durations:
    """Time from the complaint to its resolution or closing, of complaints received in the period."""
    return _durations(session, filters, scope, Complaint.resolved_at)


def _ever(kind: str, state: str) -> ColumnElement[bool]:
    # ``IN`` a set rather than a correlated EXISTS: one pass over the few events (index on kind)
    events = select(TimelineEntry.complaint_id).where(TimelineEntry.kind == kind)
    return or_(Complaint.sla_state == state, Complaint.id.in_(events))


def sla_rates(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> SlaRates:
    """Received in the period: breached (a deadline ever passed), warned (only ever warned), on time."""
    breached = _ever("sla_breach", "breached")
    warned = and_(~breached, _ever("sla_warning", "warning"))
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((breached, 1), else_=0)), 0),
            func.coalesce(func.sum(case((warned, 1), else_=0)), 0),
        ).where(*conditions(session, filters, scope))
    ).one()
    total, n_breached, n_warned = (int(v) for v in row)
    return SlaRates(total, total - n_breached - n_warned, n_warned, n_breached)


def _decided(kind: str) -> ColumnElement[bool]:
    sent = select(OutboundAction.complaint_id).where(
        OutboundAction.kind == kind, OutboundAction.status == ActionStatus.SENT
    )
    return Complaint.id.in_(sent)


def refunds(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Refunds:
    """Refund requests received in the period, and how many we approved or rejected (sent decisions)."""
    approved = _decided("refund_approve")
    rejected = and_(~approved, _decided("refund_reject"))
    amount = func.coalesce(Complaint.refund_amount_fen, 0)

    def total(flag: ColumnElement[bool], what: Any) -> Any:
        return func.coalesce(func.sum(case((flag, what), else_=0)), 0)

    row = session.execute(
        select(
            total(Complaint.refund_requested.is_(True), 1),
            total(approved, 1),
            total(rejected, 1),
            total(Complaint.refund_requested.is_(True), amount),
            total(approved, amount),
            total(rejected, amount),
        ).where(
            *conditions(session, filters, scope),
            or_(Complaint.refund_requested.is_(True), approved, rejected),
        )
    ).one()
    return Refunds(*(int(v) for v in row))


def by_problem_type(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[tuple[str, int]]:
    """Complaints received in the period per upstream problem type, most first."""
    n = func.count().label("n")
    rows = session.execute(
        select(Complaint.problem_type, n)
        .where(*conditions(session, filters, scope))
        .group_by(Complaint.problem_type)
        .order_by(n.desc(), Complaint.problem_type)
    )
    return [(str(t or ""), int(c)) for t, c in rows]


def by_merchant(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[tuple[int, str, int]]:
    """Complaints received in the period per merchant account complained about, most first."""
    n = func.count().label("n")
    rows = session.execute(
        select(Complaint.merchant_account_id, n)
        .where(*conditions(session, filters, scope))
        .group_by(Complaint.merchant_account_id)
        .order_by(n.desc(), Complaint.merchant_account_id)
    ).all()
    names = {
        a.id: a.display_name or a.name
        for a in session.scalars(select(MerchantAccount).where(MerchantAccount.id.in_([r[0] for r in rows])))
    }
    return [(int(i), names.get(i, str(i)), int(c)) for i, c in rows]


def repeat_complainants(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Repeat:
    """The upstream's complaint count per complaint (bucketed), and payers who complained more than once."""
    where = conditions(session, filters, scope)
    bucket = case(
        *((Complaint.complaint_times >= low, low) for low, _ in reversed(REPEAT_BUCKETS[1:])),
        else_=1,
    )
    counts: dict[int, int] = {
        int(k): int(v)
        for k, v in session.execute(select(bucket, func.count()).where(*where).group_by(bucket))
    }
    by_times = [(label, int(counts.get(low, 0))) for low, label in REPEAT_BUCKETS]
    per_payer = (
        select(func.count().label("n"))
        .where(*where, Complaint.payer_openid.is_not(None), Complaint.payer_openid != "")
        .group_by(Complaint.payer_openid)
        .having(func.count() > 1)
        .subquery()
    )
    payers, complaints = session.execute(
        select(func.count(), func.coalesce(func.sum(per_payer.c.n), 0)).select_from(per_payer)
    ).one()
    return Repeat(by_times, int(payers), int(complaints))


def top_operators(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool], limit: int = TOP
) -> list[tuple[str, int]]:
    """Who requested the most actions during the period (on complaints in scope), most first."""
    n = func.count().label("n")
    rows = session.execute(
        select(OutboundAction.requested_by, n)
        .join(Complaint, Complaint.id == OutboundAction.complaint_id)
        .where(
            *subject_conditions(session, filters, scope),
            OutboundAction.created_at >= filters.start,
            OutboundAction.created_at < filters.end,
        )
        .group_by(OutboundAction.requested_by)
        .order_by(n.desc(), OutboundAction.requested_by)
        .limit(limit)
    )
    return [(operator_name(str(who)), int(c)) for who, c in rows]


def operator_name(requested_by: str) -> str:
    """``user:alice`` → ``alice``; API tokens and the CLI keep their prefix."""
    return requested_by.removeprefix("user:") or "?"


def compute(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Report:
    """Every KPI for ``filters`` inside ``scope``."""
    volume = volume_by_day(session, filters, scope)
    channels = sorted({c for per in volume.values() for c in per})
    return Report(
        filters=filters,
        channels=channels,
        volume=volume,
        backlog=backlog_by_day(session, filters, scope),
        first_response=first_response(session, filters, scope),
        time_to_finish=time_to_finish(session, filters, scope),
        sla=sla_rates(session, filters, scope),
        refunds=refunds(session, filters, scope),
        problem_types=by_problem_type(session, filters, scope),
        merchants=by_merchant(session, filters, scope),
        repeat=repeat_complainants(session, filters, scope),
        operators=top_operators(session, filters, scope),
    )
