"""Sliding dedupe windows of notifications without an id (Huishouqian), through the inbox writer."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from tests.core.inbox_rows import account as _account

from complaintdesk.channels.base import OpenedNotification
from complaintdesk.core.inbox import service as inbox_service
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.core.inbox.writer import InboxWriter
from complaintdesk.db import make_engine

pytestmark = pytest.mark.anyio

SLOT_END = 1_709_259_660.0  # a multiple of 60: the old fixed slots changed here


def _row(account_id: int, identity: str, at: float, window: int = 60) -> dict[str, object]:
    opened = OpenedNotification(
        dedupe_key=identity,
        event_type="COMPLAINT_NOTIFY",
        external_id="c1",
        action="CREATE_COMPLAINT",
        payload={},
        window_seconds=window,
    )
    return inbox_service.build_row(
        channel="huishouqian",
        account_id=account_id,
        opened=opened,
        raw_body=b"a=1",
        received_at=datetime.fromtimestamp(at, tz=UTC),
    )


def _keys(engine: object) -> list[str]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return sorted(conn.scalars(select(InboxEvent.dedupe_key)))


async def test_a_retry_across_a_minute_boundary_is_one_notification(db_url: str) -> None:
    account_id = _account(db_url)
    engine = make_engine(db_url)
    writer = InboxWriter(engine)
    await writer.store(_row(account_id, "hsq:a", SLOT_END - 1))
    await writer.store(_row(account_id, "hsq:a", SLOT_END + 1))  # 2 s later, in the next minute
    assert _keys(engine) == ["hsq:a:0"]
    # each copy slides the window on: 50 s after the previous copy is still the same notification
    await writer.store(_row(account_id, "hsq:a", SLOT_END + 51))
    await writer.store(_row(account_id, "hsq:a", SLOT_END + 101))
    assert _keys(engine) == ["hsq:a:0"]
    # more than the window after the previous copy: a new event that looks the same
    await writer.store(_row(account_id, "hsq:a", SLOT_END + 162))
    await writer.store(_row(account_id, "hsq:b", SLOT_END + 162))
    assert _keys(engine) == ["hsq:a:0", "hsq:a:1", "hsq:b:0"]
    await writer.stop()
    engine.dispose()


async def test_window_zero_merges_identical_notifications_forever(db_url: str) -> None:
    account_id = _account(db_url)
    engine = make_engine(db_url)
    writer = InboxWriter(engine)
    await writer.store(_row(account_id, "hsq:z", 1.0, window=0))
    await writer.store(_row(account_id, "hsq:z", 9e9, window=0))
    await writer.stop()
    assert _keys(engine) == ["hsq:z:0"]
    engine.dispose()


async def test_copies_raced_through_two_writers_on_their_own_connections_are_stored_once(
    db_url: str,
) -> None:
    """Two writers (as two processes have), each with its own engine, store the same retries at once."""
    account_id = _account(db_url)
    engines = [make_engine(db_url), make_engine(db_url)]
    writers = [InboxWriter(engine, max_batch=8) for engine in engines]
    rows = [
        _row(account_id, f"hsq:{i % 10}", SLOT_END - 1 + (i % 3)) for i in range(120)
    ]  # 10 identities, copies spread over a minute boundary
    await asyncio.gather(*(writers[i % 2].store(r) for i, r in enumerate(rows)))
    for writer in writers:
        await writer.stop()
    assert _keys(engines[0]) == sorted(f"hsq:{i}:0" for i in range(10))
    for engine in engines:
        engine.dispose()


def _store_in_a_process(url: str, account_id: int, start: Any) -> None:
    """One process with its own engine and writer: the same 10 notifications, 12 copies each."""
    start.wait()

    async def go() -> None:
        engine = make_engine(url)
        writer = InboxWriter(engine, max_batch=4)
        rows = [_row(account_id, f"hsq:{i % 10}", SLOT_END - 1 + (i % 3)) for i in range(120)]
        await asyncio.gather(*(writer.store(r) for r in rows))
        await writer.stop()
        engine.dispose()

    asyncio.run(go())


def test_copies_raced_through_three_processes_are_stored_once(db_url: str) -> None:
    account_id = _account(db_url)
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    workers = [spawn.Process(target=_store_in_a_process, args=(db_url, account_id, start)) for _ in range(3)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    engine = make_engine(db_url)
    assert _keys(engine) == sorted(f"hsq:{i}:0" for i in range(10))
    engine.dispose()


async def test_one_batch_of_two_channels_with_windows_and_duplicates_commits_whole(db_url: str) -> None:
    """Rows of WeChat Pay and windowed Huishouqian rows queued together become one batch and one commit."""
    from tests.core.inbox_rows import row as wechat_row

    account_id = _account(db_url)
    engine = make_engine(db_url)
    writer = InboxWriter(engine, max_batch=512)
    rows = [wechat_row(account_id, f"wx-{i % 7}") for i in range(21)]
    rows += [_row(account_id, f"hsq:{i % 3}", SLOT_END + i) for i in range(9)]
    await asyncio.gather(*(writer.store(r) for r in rows))  # queued before the writer's first batch
    await writer.stop()
    assert _keys(engine) == sorted([f"wx-{i}" for i in range(7)] + [f"hsq:{i}:0" for i in range(3)])
    if engine.dialect.name == "postgresql":  # the batch's job was committed with it, once
        with engine.connect() as conn:
            jobs = conn.exec_driver_sql(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'complaintdesk.fan_out_inbox'"
            ).scalar()
        assert jobs == 1
    engine.dispose()
