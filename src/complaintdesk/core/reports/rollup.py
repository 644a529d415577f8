"""Keep the daily roll-up current: mark changed days stale in the changing transaction, refresh them.

* :func:`record_changes` watches every session of the app: after each flush, the past days whose
  numbers a change may move (the day a complaint was received, finished, or an action requested)
  get a ``report_stale_day`` row in the same transaction, so a report never reads a stale roll-up
  row: a stale day is read live until refreshed.
* :func:`refresh` (the ``refresh_reports`` periodic job, ``complaintdesk reports refresh``) recomputes
  the stale days and every day not rolled up yet, up to yesterday. A day's recompute is idempotent.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from complaintdesk.clock import utcnow
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.reports.collect import Facts, collect, local_day
from complaintdesk.core.reports.filters import day_start
from complaintdesk.core.reports.rollup_models import (
    ReportDay,
    ReportDayDuration,
    ReportDayOperator,
    ReportDayProblem,
    ReportRollupState,
    ReportStaleDay,
)
from complaintdesk.core.timeline.models import TimelineEntry

#: Complaint columns a report reads: a change to another column (say the SLA engine's next check)
#: leaves the roll-up alone.
REPORTED = (
    "complained_at", "resolved_at", "first_response_at", "sla_state", "refund_requested",
    "refund_amount_fen", "complaint_times", "problem_type", "channel", "merchant_account_id",
    "account_id", "payer_openid",
)  # fmt: skip
SLA_EVENTS = ("sla_warning", "sla_breach")
TABLES = (ReportDay, ReportDayProblem, ReportDayDuration, ReportDayOperator)


def _history_days(obj: Complaint) -> set[date]:
    days: set[date] = set()
    state = inspect(obj)
    for name in ("complained_at", "resolved_at"):
        history = state.attrs[name].history
        for value in (*history.added, *history.deleted, *history.unchanged):
            if isinstance(value, datetime):
                days.add(local_day(value))
    return days


def touched_days(session: Session) -> set[date]:
    """The days a flush about to be (or just) written may change in the roll-up."""
    days: set[date] = set()
    complaint_ids: set[int] = set()
    gone: set[int] = set()  # deleted complaints: their actions go with them (ON DELETE CASCADE)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Complaint):
            state = inspect(obj)
            changed = any(state.attrs[name].history.has_changes() for name in REPORTED)
            if obj in session.new or obj in session.deleted or changed:
                days |= _history_days(obj)
            if obj in session.deleted and obj.id is not None:
                gone.add(obj.id)
        elif isinstance(obj, TimelineEntry):
            if obj in session.new and obj.kind in SLA_EVENTS and obj.complaint_id is not None:
                complaint_ids.add(obj.complaint_id)
        elif isinstance(obj, OutboundAction) and obj.complaint_id is not None:
            if obj in session.new or obj in session.deleted:
                if isinstance(obj.created_at, datetime):
                    days.add(local_day(obj.created_at))
                complaint_ids.add(obj.complaint_id)
            elif inspect(obj).attrs["status"].history.has_changes():
                complaint_ids.add(obj.complaint_id)
    if gone:
        requested = session.scalars(
            select(OutboundAction.created_at).where(OutboundAction.complaint_id.in_(gone))
        )
        days |= {local_day(at) for at in requested}
    if complaint_ids:
        received = session.scalars(select(Complaint.complained_at).where(Complaint.id.in_(complaint_ids)))
        days |= {local_day(at) for at in received}
    return days


def mark_stale(session: Session, days: Iterable[date], *, today: date) -> None:
    """Mark ``days`` stale in the session's transaction (not ``today`` and later: always read live)."""
    rows = [{"day": d} for d in sorted(set(days)) if d < today]
    if not rows:
        return
    connection = session.connection()
    build: Any = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(build(ReportStaleDay).on_conflict_do_nothing(index_elements=["day"]), rows)


def _before_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    # before the flush: old values are still in the attribute history, new objects have their defaults
    # only after it, so both hooks look (a day marked twice is one row)
    session.info["report_days"] = touched_days(session)


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    days = session.info.pop("report_days", set()) | touched_days(session)
    mark_stale(session, days, today=local_day(utcnow()))


#: Factories already watched (dropped with them).
_WATCHED: weakref.WeakSet[sessionmaker[Session]] = weakref.WeakSet()


def record_changes(factory: sessionmaker[Session]) -> None:
    """Watch every session of ``factory`` (idempotent).

    Watched factories are remembered weakly here: ``event.contains`` keys its registry by ``id()``, so a new
    factory at the address of a collected one looked watched already and got no listeners (a flaky test).
    """
    if factory not in _WATCHED:
        _WATCHED.add(factory)
        event.listen(factory, "before_flush", _before_flush)
        event.listen(factory, "after_flush", _after_flush)


def _write(session: Session, facts: Facts) -> None:
    def key(k: tuple[date, int, int, str]) -> dict[str, Any]:
        return {"day": k[0], "merchant_account_id": k[1], "account_id": k[2], "channel": k[3]}

    batches: list[tuple[Any, list[dict[str, Any]]]] = [
        (ReportDay, [{**key(k), **counts} for k, counts in facts.counts.items()]),
        (ReportDayProblem, [{**key(k), "problem_type": p, "n": n} for (k, p), n in facts.problems.items()]),
        (
            ReportDayDuration,
            [
                {**key(k), "metric": m, "bucket": b, "n": e.n, "min_seconds": e.low, "max_seconds": e.high}
                for (k, m, b), e in facts.durations.items()
            ],
        ),
        (ReportDayOperator, [{**key(k), "operator": o, "n": n} for (k, o), n in facts.operators.items()]),
    ]
    for model, rows in batches:
        if rows:
            session.execute(insert(model), rows)


def refresh_day(session: Session, day: date) -> None:
    """Recompute one day's roll-up rows (idempotent); flushes, the caller commits."""
    # forget the stale mark first: a change committed after this statement marks the day again
    session.execute(delete(ReportStaleDay).where(ReportStaleDay.day == day))
    for model in TABLES:
        session.execute(delete(model).where(model.day == day))
    _write(
        session, collect(session, [(day_start(day), day_start(day + timedelta(days=1)))], [], with_all=True)
    )


def refresh(session: Session, *, now: datetime) -> list[date]:
    """Roll up every stale day and every day not rolled up yet before today; returns the days done.

    The caller commits (one transaction: a backfill of a year takes seconds, see docs/reports.md).
    """
    today = local_day(now)
    # one refresh at a time (the periodic job and the CLI): the state row is the lock on PostgreSQL
    state = session.get(ReportRollupState, 1, with_for_update=True)
    if state is None:
        state = ReportRollupState(id=1, complete_until=None)
        session.add(state)
    start = state.complete_until
    if start is None:
        first = session.scalar(select(func.min(Complaint.complained_at)))
        start = local_day(first) if first is not None else today
    days = sorted(
        {*session.scalars(select(ReportStaleDay.day).where(ReportStaleDay.day < today))}
        | {start + timedelta(days=n) for n in range(max((today - start).days, 0))}
    )
    for day in days:
        refresh_day(session, day)
    if state.complete_until is None or state.complete_until < today:
        state.complete_until = today
    session.flush()
    return days
