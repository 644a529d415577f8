"""The KPIs, each one query function over complaints (definitions in ``docs/reports.md``).

Every function takes the session, the :class:`ReportFilters` and a scope clause (the caller's merchant
scope, e.g. ``Principal.account_filter()``) and only reads. :func:`compute` gathers them all: the
dashboard, the export and the API show the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.audit.service import actor_of
from complaintdesk.core.reports import read
from complaintdesk.core.reports.collect import REPEAT_BUCKETS, Extremes, bucket_middle
from complaintdesk.core.reports.filters import ReportFilters

TOP = 10


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
    """Repeat complainants: upstream counts per complaint, and complaints of returning payers."""

    by_times: list[tuple[str, int]]
    #: complaints from a payer (openid) who had complained about the same merchant account before
    returning: int


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
    return compute(session, filters, scope).volume


def backlog_by_day(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[tuple[date, int]]:
    """Complaints not finished at the end of each day: received by then, not resolved or closed by then."""
    return compute(session, filters, scope).backlog


def first_response(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Durations:
    """Time from the complaint to the merchant's first answer, of complaints received in the period."""
    return compute(session, filters, scope).first_response


def time_to_finish(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Durations:
    """Time from the complaint to its resolution or closing, of complaints received in the period."""
    return compute(session, filters, scope).time_to_finish


def sla_rates(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> SlaRates:
    """Received in the period: breached (a deadline ever passed), warned (only ever warned), on time."""
    return compute(session, filters, scope).sla


def refunds(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Refunds:
    """Refund requests received in the period, and how many we approved or rejected (sent decisions)."""
    return compute(session, filters, scope).refunds


def by_problem_type(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[tuple[str, int]]:
    """Complaints received in the period per upstream problem type, most first."""
    return compute(session, filters, scope).problem_types


def by_merchant(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool]
) -> list[tuple[int, str, int]]:
    """Complaints received in the period per merchant account complained about, most first."""
    return compute(session, filters, scope).merchants


def repeat_complainants(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Repeat:
    """The upstream's complaint count per complaint (bucketed), and complaints of returning payers."""
    return compute(session, filters, scope).repeat


def top_operators(
    session: Session, filters: ReportFilters, scope: ColumnElement[bool], limit: int = TOP
) -> list[tuple[str, int]]:
    """Who requested the most actions during the period (on complaints in scope), most first."""
    return _operators(read.sums(session, filters, scope), limit)


def operator_name(requested_by: str) -> str:
    """``user:alice`` → ``alice``; API tokens and the CLI keep their prefix (as in the audit log)."""
    return actor_of(requested_by) or "?"


def percentile(buckets: dict[int, Extremes], rank: float) -> float | None:
    """The nearest-rank percentile read from a histogram: the middle of the bucket holding it, kept
    within the bucket's smallest and largest value (so exact when they are equal)."""
    n = sum(e.n for e in buckets.values())
    if n == 0:
        return None
    wanted = max(1, math.ceil(rank * n - 1e-9))
    seen = 0
    for bucket in sorted(buckets):
        extremes = buckets[bucket]
        seen += extremes.n
        if seen >= wanted:
            return min(max(bucket_middle(bucket), extremes.low), extremes.high)
    return None  # pragma: no cover - the loop reaches n


def _durations(buckets: dict[int, Extremes]) -> Durations:
    return Durations(sum(e.n for e in buckets.values()), percentile(buckets, 0.5), percentile(buckets, 0.9))


def _operators(sums: read.Sums, limit: int = TOP) -> list[tuple[str, int]]:
    ranked = sorted(((who, n) for who, n in sums.operators.items() if n), key=lambda p: (-p[1], p[0]))
    return [(operator_name(who), n) for who, n in ranked[:limit]]


def _merchants(session: Session, counted_by: dict[int, int]) -> list[tuple[int, str, int]]:
    counted = sorted(((i, n) for i, n in counted_by.items() if n), key=lambda p: (-p[1], p[0]))
    ids = [i for i, _n in counted]
    names = {
        a.id: a.display_name or a.name
        for a in session.scalars(select(MerchantAccount).where(MerchantAccount.id.in_(ids)))
    }
    return [(i, names.get(i, str(i)), n) for i, n in counted]


def compute(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Report:
    """Every KPI for ``filters`` inside ``scope`` (past days from the roll-up, see ``read``)."""
    s = read.sums(session, filters, scope)
    t = s.totals
    volume = {d: dict(sorted((c, n) for c, n in per.items() if n)) for d, per in s.volume.items()}
    level, backlog = s.opening, []
    for day in filters.days:
        level += sum(volume[day].values()) - s.finished[day]
        backlog.append((day, level))
    received, breached, warned = t["received"], t["breached"], t["warned"]
    return Report(
        filters=filters,
        channels=sorted({c for per in volume.values() for c in per}),
        volume=volume,
        backlog=backlog,
        first_response=_durations(s.durations.get("first_response", {})),
        time_to_finish=_durations(s.durations.get("finish", {})),
        sla=SlaRates(received, received - breached - warned, warned, breached),
        refunds=Refunds(
            t["requested"],
            t["approved"],
            t["rejected"],
            t["requested_fen"],
            t["approved_fen"],
            t["rejected_fen"],
        ),
        problem_types=sorted(((p, n) for p, n in s.problems.items() if n), key=lambda p: (-p[1], p[0])),
        merchants=_merchants(session, s.merchants),
        repeat=Repeat([(label, t[f"times_{low}"]) for low, label in REPEAT_BUCKETS], t["returning_payer"]),
        operators=_operators(s),
    )
