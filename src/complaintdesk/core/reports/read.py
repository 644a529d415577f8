"""Sum a report's numbers: the stored roll-up for rolled-up days, the live tables for the others.

A day is read from the roll-up when it is before ``report_rollup_state.complete_until`` and not in
``report_stale_day``; today, stale days and days not rolled up yet are counted live by the same
:func:`collect.collect`. Without a merchant scope, account or channel filter the day-wide
:data:`ALL_MERCHANT` rows are read, otherwise the per-account rows under the same conditions as
the complaints (rewritten onto the roll-up table's columns).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Column, ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import True_
from sqlalchemy.sql.visitors import replacement_traverse

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.reports.collect import Extremes, Facts, Range, collect
from complaintdesk.core.reports.filters import ReportFilters, day_start, subject_conditions
from complaintdesk.core.reports.rollup_models import (
    ALL_MERCHANT,
    COUNTS,
    ReportDay,
    ReportDayDuration,
    ReportDayOperator,
    ReportDayProblem,
    ReportRollupState,
    ReportStaleDay,
)


@dataclass
class Sums:
    """A report's raw numbers, whichever way each day was read."""

    volume: dict[date, Counter[str]]  # day → channel → received
    finished: Counter[date] = field(default_factory=Counter)
    opening: int = 0  # open at the start of the period
    totals: Counter[str] = field(default_factory=Counter)
    merchants: Counter[int] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    durations: dict[str, dict[int, Extremes]] = field(default_factory=dict)
    operators: Counter[str] = field(default_factory=Counter)

    def bucket(self, metric: str, bucket: int, n: int, low: float, high: float) -> None:
        per = self.durations.setdefault(metric, {})
        if bucket in per:
            per[bucket].add(n, low, high)
        else:
            per[bucket] = Extremes(n, low, high)


@dataclass(frozen=True)
class Plan:
    """Which days of (and before) the period are read from the roll-up, which live."""

    rolled: list[tuple[date, date]]  # closed day ranges inside the period
    live: list[Range]  # inside the period
    rolled_before: list[tuple[date | None, date]]  # before the period (the backlog's opening level)
    live_before: list[Range]


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    out: list[tuple[date, date]] = []
    for day in sorted(days):
        if out and out[-1][1] + timedelta(days=1) == day:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def _as_range(first: date, last: date) -> Range:
    return (day_start(first), day_start(last + timedelta(days=1)))


def plan(session: Session, filters: ReportFilters) -> Plan:
    """Split the period (and the time before it) into rolled-up and live days."""
    until = session.scalar(select(ReportRollupState.complete_until).where(ReportRollupState.id == 1))
    stale = set(session.scalars(select(ReportStaleDay.day)))
    if until is None:
        return Plan([], [_as_range(filters.date_from, filters.date_to)], [], [(None, filters.start)])
    days = filters.days
    rolled = _runs([d for d in days if d < until and d not in stale])
    live = [_as_range(a, b) for a, b in _runs([d for d in days if d >= until or d in stale])]
    end = min(until, filters.date_from)  # the rolled-up days before the period are before this one
    before_stale = sorted(d for d in stale if d < end)
    rolled_before: list[tuple[date | None, date]] = []
    low: date | None = None
    for day in [*before_stale, end]:
        if low is None or low < day:
            rolled_before.append((low, day - timedelta(days=1)))
        low = day + timedelta(days=1)
    live_before = [_as_range(d, d) for d in before_stale]
    if until < filters.date_from:
        live_before.append((day_start(until), filters.start))
    return Plan(rolled, live, rolled_before, live_before)


def _on(table: Any, clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """A condition on complaint columns, rewritten onto the same-named columns of ``table``."""

    def swap(element: Any, **_kw: Any) -> Any:
        if isinstance(element, Column) and element.table is Complaint.__table__:
            return table.c[element.name]
        return None

    return replacement_traverse(clause, {}, swap)


def _where(model: Any, conditions: list[Any], days: Sequence[tuple[date | None, date]]) -> list[Any]:
    table = model.__table__
    spans = or_(
        *(table.c.day <= b if a is None else and_(table.c.day >= a, table.c.day <= b) for a, b in days)
    )
    return [spans, *(_on(table, c) for c in conditions)]


@dataclass(frozen=True)
class Subject:
    """The report's accounts, channels and scope as conditions on complaints and on roll-up rows."""

    live: list[ColumnElement[bool]]
    detail: list[ColumnElement[bool]]  # per-account rows (``report_day``)
    wide: list[ColumnElement[bool]]  # the other tables: their day-wide rows when nothing narrows


def _subject(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Subject:
    subject = subject_conditions(session, filters, scope)
    detail = [*subject, Complaint.merchant_account_id != ALL_MERCHANT]
    if isinstance(scope, True_) and not filters.account_ids and not filters.channels:
        return Subject(subject, detail, [Complaint.merchant_account_id == ALL_MERCHANT])
    return Subject(subject, detail, detail)


def _add_live(sums: Sums, facts: Facts) -> None:
    for (day, merchant, _account, channel), counts in facts.counts.items():
        if day in sums.volume and counts["received"]:
            sums.volume[day][channel] += counts["received"]
        sums.finished[day] += counts["finished"]
        sums.merchants[merchant] += counts["received"]
        sums.totals.update(counts)
    for (_key, problem), n in facts.problems.items():
        sums.problems[problem] += n
    for (_key, metric, bucket), e in facts.durations.items():
        sums.bucket(metric, bucket, e.n, e.low, e.high)
    for (_key, who), n in facts.operators.items():
        sums.operators[who] += n


def _add_rolled(session: Session, sums: Sums, subject: Subject, days: list[tuple[date, date]]) -> None:
    if not days:
        return
    rolled = subject.wide
    day_t = ReportDay.__table__.c
    where = _where(ReportDay, subject.detail, days)
    rows = session.execute(
        select(day_t.day, day_t.channel, func.sum(day_t.received), func.sum(day_t.finished))
        .where(*where)
        .group_by(day_t.day, day_t.channel)
    )
    for day, channel, received, finished in rows:
        if received:
            sums.volume[day][channel] += int(received)
        sums.finished[day] += int(finished or 0)
    summed = [func.sum(getattr(day_t, name)) for name in COUNTS]
    for merchant, *numbers in session.execute(
        select(day_t.merchant_account_id, *summed).where(*where).group_by(day_t.merchant_account_id)
    ):
        counts = {name: int(n or 0) for name, n in zip(COUNTS, numbers, strict=True)}
        sums.merchants[int(merchant)] += counts["received"]
        sums.totals.update(counts)
    problem_t = ReportDayProblem.__table__.c
    for problem, n in session.execute(
        select(problem_t.problem_type, func.sum(problem_t.n))
        .where(*_where(ReportDayProblem, rolled, days))
        .group_by(problem_t.problem_type)
    ):
        sums.problems[str(problem)] += int(n)
    duration_t = ReportDayDuration.__table__.c
    for metric, bucket, n, low, high in session.execute(
        select(
            duration_t.metric,
            duration_t.bucket,
            func.sum(duration_t.n),
            func.min(duration_t.min_seconds),
            func.max(duration_t.max_seconds),
        )
        .where(*_where(ReportDayDuration, rolled, days))
        .group_by(duration_t.metric, duration_t.bucket)
    ):
        sums.bucket(str(metric), int(bucket), int(n), float(low), float(high))
    operator_t = ReportDayOperator.__table__.c
    for who, n in session.execute(
        select(operator_t.operator, func.sum(operator_t.n))
        .where(*_where(ReportDayOperator, rolled, days))
        .group_by(operator_t.operator)
    ):
        sums.operators[str(who)] += int(n)


def _opening(session: Session, p: Plan, subject: Subject) -> int:
    level = 0
    if p.rolled_before:
        day_t = ReportDay.__table__.c
        received, finished = session.execute(
            select(func.sum(day_t.received), func.sum(day_t.finished)).where(
                *_where(ReportDay, subject.detail, p.rolled_before)
            )
        ).one()
        level += int(received or 0) - int(finished or 0)
    if p.live_before:
        facts = collect(session, p.live_before, subject.live, with_all=False)
        level += sum(c["received"] - c["finished"] for c in facts.counts.values())
    return level


def sums(session: Session, filters: ReportFilters, scope: ColumnElement[bool]) -> Sums:
    """Every raw number of a report for ``filters`` inside ``scope``."""
    p = plan(session, filters)
    subject = _subject(session, filters, scope)
    out = Sums(volume={d: Counter() for d in filters.days})
    _add_rolled(session, out, subject, p.rolled)
    _add_live(out, collect(session, p.live, subject.live, with_all=False))
    out.opening = _opening(session, p, subject)
    return out
