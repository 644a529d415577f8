"""The daily roll-up: the same numbers as the live tables, before and after changes (both databases)."""

from __future__ import annotations

import gc
import random
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session, sessionmaker
from tests.core import report_data
from tests.core.report_data import FIRST, LAST, NOW, Dataset, sh

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.live import feed as live_feed
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.reports import kpis, read, rollup
from complaintdesk.core.reports.collect import bucket_of
from complaintdesk.core.reports.filters import ReportFilters, scope_clause
from complaintdesk.core.reports.rollup_models import ReportDay, ReportRollupState, ReportStaleDay
from complaintdesk.core.reports.tables import as_json
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.db import make_engine, make_session_factory


@pytest.fixture
def db(db_url: str) -> Iterator[Session]:
    engine = make_engine(db_url, pool_size=0)
    factory = make_session_factory(engine)
    rollup.record_changes(factory)
    with factory() as session:
        yield session
    engine.dispose()


@pytest.fixture
def data(db: Session) -> Dataset:
    return report_data.build(db)


def _views(data: Dataset) -> list[tuple[ReportFilters, ColumnElement[bool]]]:
    wide = ReportFilters(date(2026, 5, 20), date(2026, 6, 20))
    return [
        (ReportFilters(FIRST, LAST), true()),
        (wide, true()),
        (ReportFilters(date(2026, 6, 3), date(2026, 6, 12)), true()),  # opening level from the roll-up
        (ReportFilters(FIRST, LAST, account_ids=(data.a,)), true()),
        (ReportFilters(FIRST, LAST, channels=("miniprogram",)), true()),
        (wide, scope_clause(all_accounts=False, account_ids=frozenset({data.b}))),
    ]


def _all_live(db: Session, data: Dataset) -> list[dict[str, Any]]:
    """Every view counted from the live tables only (the roll-up forgotten, then restored)."""
    state = db.get(ReportRollupState, 1)
    until = state.complete_until if state else None
    if state is not None:
        state.complete_until = None
        db.flush()
    out = [as_json(kpis.compute(db, f, scope)) for f, scope in _views(data)]
    if state is not None:
        state.complete_until = until
        db.flush()
    return out


def _reports(db: Session, data: Dataset) -> list[dict[str, Any]]:
    return [as_json(kpis.compute(db, f, scope)) for f, scope in _views(data)]


def test_the_rolled_up_days_give_the_live_numbers(db: Session, data: Dataset) -> None:
    live = _all_live(db, data)
    done = rollup.refresh(db, now=NOW)
    db.commit()
    assert done[0] == date(2026, 5, 31) and done[-1] == date(2026, 6, 14)  # first complaint → yesterday
    assert db.get(ReportRollupState, 1).complete_until == date(2026, 6, 15)  # type: ignore[union-attr]
    assert db.scalar(select(ReportDay.received).where(ReportDay.day == date(2026, 6, 2)).limit(1)) == 1
    plan = read.plan(db, ReportFilters(date(2026, 6, 10), date(2026, 6, 16)))
    assert plan.rolled == [(date(2026, 6, 10), date(2026, 6, 14))] and len(plan.live) == 1
    assert _reports(db, data) == live
    # a refresh is idempotent
    rollup.refresh_day(db, date(2026, 6, 2))
    db.commit()
    assert _reports(db, data) == live


def test_changes_mark_their_days_stale_and_read_the_same_as_live(db: Session, data: Dataset) -> None:
    rollup.refresh(db, now=NOW)
    db.commit()
    before = _reports(db, data)
    h = timedelta(hours=1)
    three = db.get(Complaint, data.ids[3])
    four = db.get(Complaint, data.ids[4])
    assert three is not None and four is not None
    three.resolved_at = sh(6, 4, 9)  # finished: day 06-04 changes too
    four.first_response_at = four.complained_at + 3 * h
    db.add(
        TimelineEntry(
            complaint_id=data.ids[7], dedupe_key="late-breach", source="system", kind="sla_breach",
            actor="system", occurred_at=sh(6, 11, 12),
        )
    )  # fmt: skip
    db.add(
        OutboundAction(
            id=str(uuid.uuid4()), complaint_id=data.ids[4], seq=1, account_id=data.a, channel="wechatpay",
            kind="refund_approve", status="sent", requested_by="user:dave", created_at=sh(6, 6, 9),
        )
    )  # fmt: skip
    db.commit()
    stale = set(db.scalars(select(ReportStaleDay.day)))
    assert {
        date(2026, 6, 2),
        date(2026, 6, 4),
        date(2026, 6, 5),
        date(2026, 6, 6),
        date(2026, 6, 10),
    } <= stale
    after = _reports(db, data)
    assert after != before and after == _all_live(db, data)
    assert after[0]["operators"][0] == {"operator": "bob", "actions": 2}
    assert {"operator": "dave", "actions": 1} in after[0]["operators"]
    # the periodic refresh rolls the stale days up again: same numbers, nothing stale
    rollup.refresh(db, now=NOW)
    db.commit()
    assert db.scalar(select(ReportStaleDay.day).limit(1)) is None
    assert _reports(db, data) == after


def test_a_column_reports_do_not_read_marks_nothing(db: Session, data: Dataset) -> None:
    rollup.refresh(db, now=NOW)
    db.commit()
    one = db.get(Complaint, data.ids[1])
    assert one is not None
    one.detail = "edited"
    one.sla_next_check_at = NOW
    db.commit()
    assert db.scalar(select(ReportStaleDay.day).limit(1)) is None


def test_new_and_deleted_complaints_are_counted(db: Session, data: Dataset) -> None:
    rollup.refresh(db, now=NOW)
    db.commit()
    for action in db.scalars(select(OutboundAction).where(OutboundAction.complaint_id == data.ids[1])):
        db.delete(action)
    seven = db.get(Complaint, data.ids[7])
    assert seven is not None
    db.delete(seven)
    db.add(
        Complaint(
            channel="wechatpay", account_id=data.a, merchant_account_id=data.a, merchant_id="m",
            external_id="R0100", status="open", raw_status="PENDING", complained_at=sh(6, 3, 8),
            payer_openid="u2",
        )
    )  # fmt: skip
    db.commit()
    assert _reports(db, data) == _all_live(db, data)


def test_percentiles_from_buckets_stay_within_the_documented_error(db: Session, data: Dataset) -> None:
    rng = random.Random(14)
    seconds = [rng.uniform(30, 200_000) for _ in range(300)]
    for n, value in enumerate(seconds):
        at = sh(6, 1 + n % 10, 12)
        db.add(
            Complaint(
                channel="wechatpay", account_id=data.a, merchant_account_id=data.a, merchant_id="m",
                external_id=f"P{n:04d}", status="open", raw_status="PENDING", complained_at=at,
                first_response_at=at + timedelta(seconds=value),
            )
        )  # fmt: skip
    db.commit()
    rollup.refresh(db, now=NOW)
    db.commit()
    exact = sorted([*seconds, 2 * 3600.0, 4 * 3600.0, 3600.0, 8 * 3600.0])  # with the data set's four
    first = kpis.first_response(db, ReportFilters(FIRST, LAST), true())
    assert first.count == len(exact)
    for got, rank in ((first.median_seconds, 0.5), (first.p90_seconds, 0.9)):
        want = exact[-(-len(exact) * int(rank * 10) // 10) - 1]  # nearest rank: ceil(p * n)
        assert got is not None and abs(got - want) / want < 2 ** (1 / 16) - 1
    assert bucket_of(0.2) == 0 and bucket_of(1.0) == 1 and bucket_of(2.0) == 9


def test_every_new_session_factory_is_watched_even_at_a_reused_address() -> None:
    """``event.contains`` keys by ``id()``: factories created and dropped in turn reuse addresses, and
    the listeners must still be on each new one."""
    for _ in range(50):
        factory: sessionmaker[Session] = sessionmaker()
        rollup.record_changes(factory)
        live_feed.record_changes(factory)
        listeners = list(factory().dispatch.after_flush)
        assert rollup._after_flush in listeners and live_feed._after_flush in listeners
        rollup.record_changes(factory)  # idempotent
        assert list(factory().dispatch.after_flush).count(rollup._after_flush) == 1
        del factory
        gc.collect()
