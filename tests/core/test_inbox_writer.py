from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from complaintdesk.channels.base import OpenedNotification
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.inbox import service as inbox_service
from complaintdesk.core.inbox.models import InboxEvent, InboxStatus
from complaintdesk.core.inbox.writer import InboxWriter
from complaintdesk.db import make_engine, make_session_factory, unit_of_work

pytestmark = pytest.mark.anyio


def _account(url: str) -> int:
    engine = make_engine(url, pool_size=0)
    with unit_of_work(make_session_factory(engine)) as s:
        account_id = account_service.create(
            session=s, name="shop", channel="wechatpay", mchid="1900000001"
        ).id
    engine.dispose()
    return account_id


def _row(account_id: int, key: str) -> dict[str, object]:
    opened = OpenedNotification(
        dedupe_key=key,
        event_type="COMPLAINT.CREATE",
        external_id="2001",
        action="CREATE_COMPLAINT",
        payload={},
    )
    return inbox_service.build_row(
        channel="wechatpay",
        account_id=account_id,
        opened=opened,
        raw_body=b"{}",
        received_at=datetime.now(UTC),
    )


async def test_concurrent_duplicates_are_stored_once_and_all_acknowledged(db_url: str) -> None:
    account_id = _account(db_url)
    engine = make_engine(db_url)
    writer = InboxWriter(engine, max_batch=64)
    writer.start()
    rows = [_row(account_id, f"n-{i % 50}") for i in range(500)]
    await asyncio.gather(*(writer.store(r) for r in rows))
    await writer.stop()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(InboxEvent)) == 50
    engine.dispose()


async def test_a_failed_commit_fails_every_waiter_and_stores_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    writer = InboxWriter(engine)
    writer.start()
    bad = _row(account_id=999_999, key="orphan")  # violates the foreign key
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError differs per database
        await writer.store(bad)
    await writer.stop()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(InboxEvent)) == 0
    engine.dispose()


def test_claims_are_exclusive_and_failures_back_off(db_url: str) -> None:
    account_id = _account(db_url)
    engine = make_engine(db_url, pool_size=0)
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as s:
        s.add_all([InboxEvent(**_row(account_id, f"k{i}")) for i in range(3)])
    now = datetime.now(UTC)
    with unit_of_work(sessions) as s:
        first = [e.id for e in inbox_service.claim_batch(session=s, now=now)]
    with unit_of_work(sessions) as s:
        assert inbox_service.claim_batch(session=s, now=now) == []
    with unit_of_work(sessions) as s:
        inbox_service.mark_failed(session=s, event_ids=first[:1], now=now, error="boom", max_attempts=1)
        inbox_service.mark_failed(session=s, event_ids=first[1:2], now=now, error="later", max_attempts=5)
        inbox_service.mark_done(session=s, event_ids=first[2:], now=now)
    with unit_of_work(sessions) as s:
        counts = inbox_service.counts(session=s)
        assert counts == {InboxStatus.FAILED: 1, InboxStatus.PENDING: 1, InboxStatus.DONE: 1}
        assert inbox_service.claim_batch(session=s, now=now) == []  # the retry is not due yet
    with unit_of_work(sessions) as s:
        assert inbox_service.requeue_failed(session=s) == 1
    engine.dispose()
