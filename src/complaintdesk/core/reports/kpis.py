"""The KPIs, each one query function over complaints (definitions in ``docs/reports.md``).

Every function takes the session, the :class:`ReportFilters` and a scope clause (the caller's merchant
scope, e.g. ``Principal.account_filter()``) and only reads. :func:`compute` gathers them all: the
dashboard, the export and the API show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.reports import scan, sql
from complaintdesk.core.reports.filters import ReportFilters, conditions, subject_conditions

TOP = 10
REPEAT_BUCKETS = scan.REPEAT_BUCKETS


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
    return scan.facts(session, filters, scope).volume


def backlog_by_day(
    session: Session,
    filters: ReportFilters,
    scope: ColumnElement[bool],
    arrived: dict[date, int] | None = None,
) -> list[tuple[date, int]]:
    """Complaints not finished at the end of each day: received by then, not resolved or closed by then."""
    subject = subject_conditions(session, filters, scope)
    start, end = filters.start, filters.end
    # Two index walks instead of every earlier complaint: the unfinished ones (few), and those finished
    # after the start (on ``resolved_at``); each received before the start.
    earlier = [*subject, Complaint.complained_at < start]
    before = sum(
        int(session.scalar(select(func.count()).where(*earlier, clause)) or 0)
        for clause in (Complaint.resolved_at.is_(None), Complaint.resolved_at >= start)
    )
    if arrived is None:  # compute() passes the volume it already has
        arrived = _per_day(session, subject, Complaint.complained_at, start, end)
    finished = _per_day(session, [*subject, Complaint.complained_at < end], Complaint.resolved_at, start, end)
    level = before
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


def sla_rates(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> SlaRates:
    """Received in the period: breached (a deadline ever passed), warned (only ever warned), on time."""
    return _sla(scan.facts(session, filters, scope))


def _sla(f: scan.PeriodFacts) -> SlaRates:
    total, breached, warned = f.totals["received"], f.totals["breached"], f.totals["warned"]
    return SlaRates(total, total - breached - warned, warned, breached)


def refunds(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Refunds:
    """Refund requests received in the period, and how many we approved or rejected (sent decisions)."""
    return _refunds(scan.facts(session, filters, scope))


def _refunds(f: scan.PeriodFacts) -> Refunds:
    t = f.totals
    return Refunds(
        t["requested"], t["approved"], t["rejected"], t["requested_fen"], t["approved_fen"], t["rejected_fen"]
    )


def by_problem_type(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[tuple[str, int]]:
    """Complaints received in the period per upstream problem type, most first."""
    return _problems(scan.facts(session, filters, scope))


def _problems(f: scan.PeriodFacts) -> list[tuple[str, int]]:
    return sorted(((t, n) for t, n in f.problem_types.items() if n), key=lambda p: (-p[1], p[0]))


def by_merchant(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[tuple[int, str, int]]:
    """Complaints received in the period per merchant account complained about, most first."""
    return _merchants(session, scan.facts(session, filters, scope))


def _merchants(session: Session, f: scan.PeriodFacts) -> list[tuple[int, str, int]]:
    counted = sorted(((i, n) for i, n in f.merchants.items() if n), key=lambda p: (-p[1], p[0]))
    ids = [i for i, _n in counted]
    names = {
        a.id: a.display_name or a.name
        for a in session.scalars(select(MerchantAccount).where(MerchantAccount.id.in_(ids)))
    }
    return [(i, names.get(i, str(i)), n) for i, n in counted]


def repeat_complainants(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Repeat:
    """The upstream's complaint count per complaint (bucketed), and payers who complained more than once."""
    return _repeat(session, filters, scope, scan.facts(session, filters, scope))


def _repeat(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool], f: scan.PeriodFacts
) -> Repeat:
    by_times = [(label, f.times[low]) for low, label in REPEAT_BUCKETS]
    per_payer = (
        select(func.count().label("n"))
        .where(
            *conditions(session, filters, scope),
            Complaint.payer_openid.is_not(None),
            Complaint.payer_openid != "",
        )
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
    """Every KPI for ``filters`` inside ``scope`` (the count KPIs from one pass, see ``scan``)."""
    f = scan.facts(session, filters, scope)
    channels = sorted({c for per in f.volume.values() for c, n in per.items() if n})
    arrived = {d: sum(per.values()) for d, per in f.volume.items()}
    return Report(
        filters=filters,
        channels=channels,
        volume=f.volume,
        backlog=backlog_by_day(session, filters, scope, arrived),
        first_response=first_response(session, filters, scope),
        time_to_finish=time_to_finish(session, filters, scope),
        sla=_sla(f),
        refunds=_refunds(f),
        problem_types=_problems(f),
        merchants=_merchants(session, f),
        repeat=_repeat(session, filters, scope, f),
        operators=top_operators(session, filters, scope),
    )
