from __future__ import annotations

import asyncio
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from tests.core.inbox_rows import account as _account
from tests.core.inbox_rows import row as _row

from complaintdesk.channels.base import OpenedNotification
from complaintdesk.core.inbox import service as inbox_service
from complaintdesk.core.inbox.models import InboxEvent, InboxStatus
from complaintdesk.core.inbox.writer import InboxWriter
from complaintdesk.db import make_engine, make_session_factory, unit_of_work
from complaintdesk.migrate import upgrade

pytestmark = pytest.mark.anyio


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
    account_id = _account(db_url)
    engine = make_engine(db_url)
    writer = InboxWriter(engine)
    writer.start()
    bad = _row(account_id=999_999, key="orphan")  # violates the foreign key
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError differs per database
        await writer.store(bad)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(InboxEvent)) == 0
    await writer.store(_row(account_id, "after-the-failure"))  # the next batch gets a fresh connection
    await writer.stop()
    with engine.connect() as conn:
        assert list(conn.scalars(select(InboxEvent.dedupe_key))) == ["after-the-failure"]
    engine.dispose()


def test_due_notifications_and_failures_back_off(db_url: str) -> None:
    account_id = _account(db_url)
    engine = make_engine(db_url, pool_size=0)
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as s:
        s.add_all([InboxEvent(**_row(account_id, f"k{i}")) for i in range(3)])
    now = datetime.now(UTC)
    with unit_of_work(sessions) as s:
        keys = inbox_service.due_keys(session=s, now=now)
        assert len(keys) == 1  # the three rows name one complaint: one job processes them together
        first = [
            e.id
            for e in inbox_service.pending_for(
                session=s, account_id=keys[0][0], external_id=keys[0][1], now=now
            )
        ]
        assert len(first) == 3
    with unit_of_work(sessions) as s:
        inbox_service.mark_failed(session=s, event_ids=first[:1], now=now, error="boom", max_attempts=1)
        inbox_service.mark_failed(session=s, event_ids=first[1:2], now=now, error="later", max_attempts=5)
        inbox_service.mark_done(session=s, event_ids=first[2:], now=now)
    with unit_of_work(sessions) as s:
        counts = inbox_service.counts(session=s)
        assert counts == {InboxStatus.FAILED: 1, InboxStatus.PENDING: 1, InboxStatus.DONE: 1}
        assert inbox_service.due_keys(session=s, now=now) == []  # the retry is not due yet
        later = now + timedelta(hours=2)
        assert inbox_service.due_keys(session=s, now=later) == keys
    with unit_of_work(sessions) as s:
        assert inbox_service.requeue_failed(session=s) == 1
    engine.dispose()


async def test_rows_written_by_the_driver_read_back_through_the_orm_unchanged(db_url: str) -> None:
    """The writer binds values itself (no ORM on the hot path): every type must round-trip."""
    account_id = _account(db_url)
    engine = make_engine(db_url)
    received = datetime(2026, 11, 22, 3, 4, 5, 678901, tzinfo=UTC)
    opened = OpenedNotification(
        dedupe_key="n-types",
        event_type="COMPLAINT.STATE_CHANGE",
        external_id=None,
        action=None,
        payload={"complaint_detail": "商品没收到 \u2028", "amount": 1999, "nested": [{"ok": True}, None]},
        known=False,
    )
    row = inbox_service.build_row(
        channel="wechatpay",
        account_id=account_id,
        opened=opened,
        raw_body='{"summary":"投诉"}'.encode(),
        received_at=received,
        raw_body_plaintext=False,
    )
    writer = InboxWriter(engine)
    await writer.store(row)
    await writer.stop()
    with unit_of_work(make_session_factory(engine)) as s:
        event = s.scalars(select(InboxEvent)).one()
        assert event.payload == opened.payload
        assert event.received_at == received
        assert event.known is False
        assert (event.external_id, event.action, event.next_attempt_at) == (None, None, None)
        assert event.raw_body == '{"summary":"投诉"}'
        assert (event.status, event.attempts) == (InboxStatus.PENDING, 0)
    engine.dispose()


def test_plaintext_bodies_are_stored_with_phones_masked_and_envelopes_verbatim() -> None:
    opened = OpenedNotification(
        dedupe_key="k", event_type="E", external_id="1", action="A", payload={"phone": "masked elsewhere"}
    )
    body = b'{"content":"call me on 13812345678"}'
    plain = inbox_service.build_row(
        channel="huishouqian", account_id=1, opened=opened, raw_body=body, received_at=datetime.now(UTC)
    )
    assert "13812345678" not in plain["raw_body"] and "138****5678" in str(plain["raw_body"])
    envelope = inbox_service.build_row(
        channel="wechatpay",
        account_id=1,
        opened=opened,
        raw_body=body,
        received_at=datetime.now(UTC),
        raw_body_plaintext=False,
    )
    assert envelope["raw_body"] == body.decode()


async def test_on_sqlite_commits_leave_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    """The webhook's commits never copy the log into the database; the background checkpoint does."""
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    upgrade(make_engine(url, pool_size=0))
    account_id = _account(url)
    engine = make_engine(url)
    writer = InboxWriter(engine, max_batch=200, checkpoint_every=3600)  # the thread stays idle here
    database, wal = tmp_path / "wal.db", tmp_path / "wal.db-wal"
    big = "x" * 3000  # about one page per row: 2,500 rows go far past SQLite's 1,000-page autocheckpoint
    rows = []
    for i in range(2500):
        row = _row(account_id, f"wal-{i}")
        row["raw_body"] = big
        rows.append(row)
    await asyncio.gather(*(writer.store(r) for r in rows))
    # A checkpoint inside a commit would have restarted the log near 1,000 pages; it kept growing,
    # and the rows are not in the database file yet.
    assert wal.stat().st_size > 2000 * 4096
    assert database.stat().st_size < 1000 * 4096
    await writer.stop()  # stopping runs the checkpointer's last checkpoint
    assert database.stat().st_size > 2000 * 4096
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(InboxEvent)) == 2500
    engine.dispose()


async def test_on_sqlite_a_held_write_lock_delays_the_batch_without_stalling_the_loop(tmp_path: Path) -> None:
    """Another process holding SQLite's write lock: the loop keeps running, the batch lands after."""
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    upgrade(make_engine(url, pool_size=0))
    account_id = _account(url)
    engine = make_engine(url)
    writer = InboxWriter(engine)
    holder = sqlite3.connect(tmp_path / "lock.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # what a `complaintdesk worker` mid-transaction looks like
    store = asyncio.ensure_future(writer.store(_row(account_id, "waits-for-the-lock")))
    # Were the writer to wait inside SQLite's busy handler, these sleeps could not run until the
    # lock came free (it never would: this coroutine frees it) and the store would fail after 30 s.
    for _ in range(50):
        await asyncio.sleep(0.002)
    assert not store.done()
    holder.execute("COMMIT")
    holder.close()
    await asyncio.wait_for(store, timeout=5)
    await writer.stop()
    with engine.connect() as conn:
        assert list(conn.scalars(select(InboxEvent.dedupe_key))) == ["waits-for-the-lock"]
    engine.dispose()


async def test_stopping_commits_every_queued_row_and_answers_every_request(db_url: str) -> None:
    account_id = _account(db_url)
    engine = make_engine(db_url)
    writer = InboxWriter(engine, max_batch=16)
    answers: list[Exception | None] = []
    for i in range(200):
        writer.submit(_row(account_id, f"queued-{i}"), answers.append)
    await writer.stop()  # nothing was flushed yet: the writer task had not run
    assert answers == [None] * 200
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(InboxEvent)) == 200
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite serialises its writers
async def test_a_duplicate_committed_during_the_batch_is_skipped_and_the_rest_stored(db_url: str) -> None:
    """A row another connection has inserted but not committed holds the batch's insert of it back; once
    committed, the batch skips it, stores the rest, answers every request, and still brings its job."""
    account_id = _account(db_url)
    engine = make_engine(db_url)
    other = engine.raw_connection()
    cursor = other.cursor()
    cursor.execute(
        "INSERT INTO inbox_event (channel, account_id, dedupe_key, event_type, known, payload, raw_body,"
        " received_at, status, attempts, last_error) VALUES ('wechatpay', %s, 'raced', 'COMPLAINT.CREATE',"
        " true, '{}', '{}', now(), 'pending', 0, '')",
        (account_id,),
    )  # not committed yet: the batch's insert of 'raced' waits on it
    writer = InboxWriter(engine)
    writer.start()
    stored = asyncio.gather(
        *(writer.store(_row(account_id, key)) for key in ("raced", "fresh", "stored-late"))
    )
    await asyncio.sleep(0.5)
    assert not stored.done()  # blocked behind the uncommitted row
    other.commit()
    await asyncio.wait_for(stored, 10)
    await writer.store(_row(account_id, "fresh"))  # already stored: skipped
    await writer.stop()
    other.close()
    with engine.connect() as conn:
        keys = sorted(conn.scalars(select(InboxEvent.dedupe_key)))
        assert keys == ["fresh", "raced", "stored-late"]
        jobs = conn.exec_driver_sql(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'complaintdesk.fan_out_inbox'"
        ).scalar()
        assert jobs == 1  # one waits at a time
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a server that drops the connection
async def test_a_dropped_connection_fails_its_batch_and_the_next_batch_reconnects(db_url: str) -> None:
    account_id = _account(db_url)
    engine = make_engine(db_url)
    writer = InboxWriter(engine)
    writer.start()
    await writer.store(_row(account_id, "before"))
    with engine.connect() as conn:  # the writer's connection, idle after its INSERT … unnest
        dropped = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND query LIKE '%%unnest(%%'"
        ).scalar()
    assert dropped == 1
    with pytest.raises(Exception):  # noqa: B017 - psycopg's OperationalError: the server closed it
        await writer.store(_row(account_id, "lost-with-the-connection"))
    await writer.store(_row(account_id, "after"))
    await writer.stop()
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(InboxEvent.dedupe_key))) == ["after", "before"]
    engine.dispose()


async def test_a_postgresql_server_that_never_answers_fails_the_batch_instead_of_holding_it() -> None:
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        port = silent.getsockname()[1]
        engine = make_engine(f"postgresql+psycopg://complaintdesk@127.0.0.1:{port}/inbox", pool_size=0)
        writer = InboxWriter(engine)
        writer.CONNECT_TIMEOUT = 1
        writer.start()
        with pytest.raises(psycopg.OperationalError):
            await asyncio.wait_for(writer.store(_row(1, "waits-on-nobody")), 60)
        await writer.stop()
        engine.dispose()
    finally:
        silent.close()
