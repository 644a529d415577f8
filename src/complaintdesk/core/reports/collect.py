"""Roll-up rows computed from the live tables, for some days and a subject (accounts, channels, scope).

The same function feeds the stored roll-up (:mod:`rollup`, whole days, no subject) and the live part
of a report (today, and days changed since their roll-up): both are therefore counted one way.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.orm import Session, aliased

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.core.reports.rollup_models import ALL_CHANNEL, ALL_MERCHANT, COUNTS
from complaintdesk.core.timeline.models import TimelineEntry

#: Buckets per doubling of a duration: a bucket spans a factor 2^(1/8), so a percentile read at the
#: bucket's geometric middle is within 2^(1/16) - 1 < 4.5 % of the exact value (docs/reports.md).
BUCKETS_PER_DOUBLING = 8
#: ``complaint_times`` buckets (lower bound → label), as in ``report_day.times_N``.
REPEAT_BUCKETS: tuple[tuple[int, str], ...] = ((1, "1"), (2, "2"), (3, "3"), (4, "4-5"), (6, "6+"))
METRICS = ("first_response", "finish")
_SLA_EVENTS = ("sla_warning", "sla_breach")
_DECISIONS = ("refund_approve", "refund_reject")
#: [low, high) of each ``complaint_times`` bucket, in ``COUNTS`` order.
_TIMES_SPANS = tuple(
    (low, REPEAT_BUCKETS[n + 1][0] if n + 1 < len(REPEAT_BUCKETS) else 1 << 62)
    for n, (low, _label) in enumerate(REPEAT_BUCKETS)
)

_SHIFT = timedelta(hours=8)
#: (day, merchant account, account, channel): the key of every roll-up row.
Key = tuple[date, int, int, str]
#: A time range [start, end); a start of None reaches back to the first complaint.
Range = tuple[datetime | None, datetime]


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a duration (0: under a second, including negative clock skew)."""
    if seconds < 1:
        return 0
    return 1 + math.floor(math.log2(seconds) * BUCKETS_PER_DOUBLING)


def bucket_middle(bucket: int) -> float:
    """The geometric middle of a bucket (seconds)."""
    if bucket <= 0:
        return 0.5
    return float(2 ** ((bucket - 0.5) / BUCKETS_PER_DOUBLING))


@dataclass
class Extremes:
    """How many values a bucket holds and the smallest and largest of them."""

    n: int
    low: float
    high: float

    def add(self, n: int, low: float, high: float) -> None:
        self.n, self.low, self.high = self.n + n, min(self.low, low), max(self.high, high)


@dataclass
class Facts:
    """Roll-up rows: per key, counts, problem types, duration buckets and operators."""

    counts: dict[Key, Counter[str]] = field(default_factory=dict)
    problems: Counter[tuple[Key, str]] = field(default_factory=Counter)
    durations: dict[tuple[Key, str, int], Extremes] = field(default_factory=dict)
    operators: Counter[tuple[Key, str]] = field(default_factory=Counter)

    def count(self, key: Key, **values: int) -> None:
        self.counts.setdefault(key, Counter()).update(values)

    def duration(self, key: Key, metric: str, seconds: float) -> None:
        slot = (key, metric, bucket_of(seconds))
        if slot in self.durations:
            self.durations[slot].add(1, seconds, seconds)
        else:
            self.durations[slot] = Extremes(1, seconds, seconds)


def local_day(value: datetime) -> date:
    """The Asia/Shanghai day of an instant (UTC+8 all year since 1991, so a fixed shift)."""
    return (value.astimezone(UTC) + _SHIFT).date()


def within(column: Any, ranges: Sequence[Range]) -> ColumnElement[bool]:
    """``column`` falls in one of the ranges."""
    parts = [column < end if start is None else and_(column >= start, column < end) for start, end in ranges]
    return or_(*parts) if parts else ~true()


def _flags(session: Session, chosen: Any, low: int, high: int) -> dict[int, set[str]]:
    """Per complaint of ``chosen`` (a select of ids, all in ``low``…``high``): its SLA events, sent
    refund decisions, and whether its payer had complained about the merchant before.

    Separate semi-joins rather than ``EXISTS`` in the row query: under an ``OR`` PostgreSQL hashes
    every such event of the whole history. The id bounds are redundant but let the planners walk a
    short stretch of the ``(kind, complaint_id)`` indexes (a day's complaints have neighbouring ids).
    """
    found: dict[int, set[str]] = {}
    events = select(TimelineEntry.complaint_id, TimelineEntry.kind).where(
        TimelineEntry.kind.in_(_SLA_EVENTS),
        TimelineEntry.complaint_id.between(low, high),
        TimelineEntry.complaint_id.in_(chosen),
    )
    decisions = select(OutboundAction.complaint_id, OutboundAction.kind).where(
        OutboundAction.kind.in_(_DECISIONS),
        OutboundAction.status == ActionStatus.SENT,
        OutboundAction.complaint_id.between(low, high),
        OutboundAction.complaint_id.in_(chosen),
    )
    for statement in (events, decisions):
        for complaint_id, kind in session.execute(statement):
            found.setdefault(int(complaint_id), set()).add(str(kind))
    earlier = aliased(Complaint)
    returning = select(Complaint.id).where(
        Complaint.id.between(low, high),
        Complaint.id.in_(chosen),
        Complaint.payer_openid.is_not(None),
        Complaint.payer_openid != "",
        exists().where(
            earlier.payer_openid == Complaint.payer_openid,
            earlier.merchant_account_id == Complaint.merchant_account_id,
            or_(
                earlier.complained_at < Complaint.complained_at,
                and_(earlier.complained_at == Complaint.complained_at, earlier.id < Complaint.id),
            ),
        ),
    )
    for (complaint_id,) in session.execute(returning):
        found.setdefault(int(complaint_id), set()).add("returning")
    return found


def _keys(day: date, merchant: int, account: int, channel: str, *, with_all: bool) -> list[Key]:
    mine = (day, merchant, account, channel)
    return [mine, (day, ALL_MERCHANT, ALL_MERCHANT, ALL_CHANNEL)] if with_all else [mine]


def collect(
    session: Session, ranges: Sequence[Range], subject: Sequence[ColumnElement[bool]], *, with_all: bool
) -> Facts:
    """Roll-up rows of the days in ``ranges`` for the complaints matching ``subject``.

    ``with_all`` also adds the problem types, durations and operators to the day's :data:`ALL_MERCHANT`
    key (the stored roll-up does; the counts are few enough per account to be summed as they are).
    """
    facts = Facts()
    if not ranges:
        return facts
    where = [*subject, within(Complaint.complained_at, ranges)]
    received = session.execute(
        select(
            Complaint.id, Complaint.complained_at, Complaint.merchant_account_id, Complaint.account_id,
            Complaint.channel, Complaint.problem_type, Complaint.first_response_at, Complaint.resolved_at,
            Complaint.refund_requested, Complaint.refund_amount_fen, Complaint.complaint_times,
            Complaint.sla_state,
        ).where(*where)
    ).all()  # fmt: skip
    ids = [row[0] for row in received]
    flags = _flags(session, select(Complaint.id).where(*where), min(ids), max(ids)) if ids else {}
    sums: dict[Key, list[int]] = {}  # summed in COUNTS order (a Counter per row is slow on busy days)
    none: set[str] = set()
    for cid, at, merchant, account, channel, problem, first, done, asked, amount, times, state in received:
        seen = flags.get(cid, none)
        is_breached = state == "breached" or "sla_breach" in seen
        is_warned = not is_breached and (state == "warning" or "sla_warning" in seen)
        is_approved = "refund_approve" in seen
        is_rejected = not is_approved and "refund_reject" in seen
        is_returning = "returning" in seen
        fen = int(amount or 0)
        times = max(int(times or 1), 1)
        values = (
            1, 0, int(is_breached), int(is_warned), int(bool(asked)), int(is_approved), int(is_rejected),
            fen if asked else 0, fen if is_approved else 0, fen if is_rejected else 0,
            *(int(low <= times < high) for low, high in _TIMES_SPANS), int(is_returning),
        )  # fmt: skip
        day = local_day(at)
        mine = (day, merchant, account, channel)
        total = sums.get(mine)
        sums[mine] = list(values) if total is None else [a + b for a, b in zip(total, values, strict=True)]
        for key in _keys(day, merchant, account, channel, with_all=with_all):
            facts.problems[(key, str(problem or ""))] += 1
            if first is not None:
                facts.duration(key, "first_response", (first - at).total_seconds())
            if done is not None:
                facts.duration(key, "finish", (done - at).total_seconds())
    for key, numbers in sums.items():
        facts.count(key, **dict(zip(COUNTS, numbers, strict=True)))
    finished = session.execute(
        select(
            Complaint.resolved_at, Complaint.merchant_account_id, Complaint.account_id, Complaint.channel
        ).where(*subject, within(Complaint.resolved_at, ranges))
    )
    for done, merchant, account, channel in finished:
        if done is not None:  # always, by the condition: for the type checker
            facts.count((local_day(done), merchant, account, channel), finished=1)
    actions = session.execute(
        select(
            OutboundAction.created_at, Complaint.merchant_account_id, Complaint.account_id,
            Complaint.channel, OutboundAction.requested_by,
        )
        .join(Complaint, Complaint.id == OutboundAction.complaint_id)
        .where(*subject, within(OutboundAction.created_at, ranges))
    )  # fmt: skip
    for at, merchant, account, channel, who in actions:
        for key in _keys(local_day(at), merchant, account, channel, with_all=with_all):
            facts.operators[(key, str(who or ""))] += 1
    return facts
