"""SQLite's write-ahead log under the inbox writer: checkpointed off the loop, started over, kept bounded."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests.core.inbox_rows import account as _account
from tests.core.inbox_rows import row as _row

from complaintdesk import db
from complaintdesk.core.inbox.driver import WalCheckpointer
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.core.inbox.writer import InboxWriter
from complaintdesk.db import make_engine
from complaintdesk.migrate import upgrade

pytestmark = pytest.mark.anyio

PAGE = 4096


def _database(tmp_path: Path) -> tuple[str, int]:
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    upgrade(make_engine(url, pool_size=0))
    return url, _account(url)


async def _store_big_rows(writer: InboxWriter, account_id: int, prefix: str, count: int) -> None:
    """``count`` rows of about one page each, committed in batches as the webhook would."""
    rows = []
    for i in range(count):
        row = _row(account_id, f"{prefix}-{i}")
        row["raw_body"] = "x" * 3000
        rows.append(row)
    await asyncio.gather(*(writer.store(row) for row in rows))


def _hold_snapshot(reader: sqlite3.Connection) -> None:
    """Open a read transaction: the log cannot be copied past this snapshot while it lasts."""
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM inbox_event").fetchone()


def _checkpoint_as_the_reader_finishes(reader: sqlite3.Connection, checkpointer: WalCheckpointer) -> None:
    """Checkpoint while the reader ends its snapshot 50 ms later (the copy stops short of the end)."""
    finish = threading.Timer(0.05, reader.execute, ("COMMIT",))
    finish.start()
    checkpointer.checkpoint()
    finish.join()


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(InboxEvent)) or 0


async def test_the_log_starts_over_even_when_a_reader_held_back_the_copy(tmp_path: Path) -> None:
    """The copy can stop short of the log's end (a reader's older snapshot, or commits landing
    meanwhile, as under steady webhook traffic); the checkpoint must still let the log start over.

    Otherwise every later commit appends to fresh file blocks that the kernel must allocate and
    zero, and the log grows for as long as traffic lasts.
    """
    url, account_id = _database(tmp_path)
    engine = make_engine(url)
    writer = InboxWriter(engine, max_batch=100, checkpoint_every=3600)  # checkpoints run by hand here
    wal = tmp_path / "inbox.db-wal"
    await _store_big_rows(writer, account_id, "before-the-reader", 300)
    reader = sqlite3.connect(tmp_path / "inbox.db", isolation_level=None, check_same_thread=False)
    _hold_snapshot(reader)
    await _store_big_rows(writer, account_id, "after-the-reader", 300)
    grown = wal.stat().st_size
    _checkpoint_as_the_reader_finishes(reader, WalCheckpointer(engine, restart_wait=5, restart_frames=0))
    reader.close()
    await _store_big_rows(writer, account_id, "next", 300)
    assert wal.stat().st_size <= grown  # written over the old frames, not appended after them
    await writer.stop()
    assert _count(engine) == 900
    engine.dispose()


async def test_a_log_grown_by_a_burst_is_cut_back_once_it_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "WAL_SIZE_LIMIT", 256 * 1024)
    url, account_id = _database(tmp_path)
    engine = make_engine(url)
    writer = InboxWriter(engine, max_batch=100, checkpoint_every=3600)
    wal = tmp_path / "inbox.db-wal"
    await _store_big_rows(writer, account_id, "burst", 400)
    assert wal.stat().st_size > 400 * PAGE
    WalCheckpointer(engine, restart_frames=0).checkpoint()
    await writer.store(_row(account_id, "after-the-burst"))  # this commit starts the log over
    assert wal.stat().st_size <= 256 * 1024
    await writer.stop()
    assert _count(engine) == 401
    engine.dispose()


async def test_a_held_back_log_is_started_over_only_past_the_threshold(tmp_path: Path) -> None:
    """Each restart holds writers off for a sync: below ``restart_frames`` the log just goes on.

    (A log copied to its end with no reader starts over by itself at the next commit; this is about
    the log that steady traffic or a reader keeps from being copied whole.)
    """
    url, account_id = _database(tmp_path)
    engine = make_engine(url)
    writer = InboxWriter(engine, max_batch=100, checkpoint_every=3600)
    wal = tmp_path / "inbox.db-wal"
    await _store_big_rows(writer, account_id, "first", 200)
    reader = sqlite3.connect(tmp_path / "inbox.db", isolation_level=None, check_same_thread=False)
    _hold_snapshot(reader)
    await _store_big_rows(writer, account_id, "second", 200)
    below = WalCheckpointer(engine, restart_wait=5, restart_frames=100_000)  # below: no restart
    _checkpoint_as_the_reader_finishes(reader, below)
    grown = wal.stat().st_size
    await _store_big_rows(writer, account_id, "third", 200)
    held_back = wal.stat().st_size
    assert held_back > grown  # appended after the old frames
    _hold_snapshot(reader)
    await _store_big_rows(writer, account_id, "fourth", 100)
    past = WalCheckpointer(engine, restart_wait=5, restart_frames=held_back // PAGE // 2)
    _checkpoint_as_the_reader_finishes(reader, past)
    reader.close()
    before = wal.stat().st_size
    await _store_big_rows(writer, account_id, "fifth", 200)
    assert wal.stat().st_size <= before  # started over: written over the old frames
    await writer.stop()
    assert _count(engine) == 900
    engine.dispose()


def test_one_process_at_a_time_holds_the_checkpointer_role(tmp_path: Path) -> None:
    """Each ``serve`` worker has a checkpointer; a lock beside the database elects one of them."""
    url, _ = _database(tmp_path)
    first, second = make_engine(url), make_engine(url)
    elsewhere = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    a, b, c = WalCheckpointer(first), WalCheckpointer(second), WalCheckpointer(elsewhere)
    assert a.holds_role()
    assert a.holds_role()  # kept, not taken twice
    assert not b.holds_role()
    assert c.holds_role()  # another database has its own role
    a.stop()  # the holder stops (or dies: the kernel drops its lock the same way)
    assert b.holds_role()
    b.stop()
    c.stop()
    for engine in (first, second, elsewhere):
        engine.dispose()


async def test_only_the_role_holder_checkpoints(tmp_path: Path) -> None:
    url, account_id = _database(tmp_path)
    engine = make_engine(url)
    writer = InboxWriter(engine, max_batch=100, checkpoint_every=3600)
    await _store_big_rows(writer, account_id, "rows", 300)
    database = tmp_path / "inbox.db"
    before = database.stat().st_size
    holder = WalCheckpointer(engine)
    assert holder.holds_role()
    standby = WalCheckpointer(engine, interval=0.01)
    standby.start()
    await asyncio.sleep(0.2)
    assert database.stat().st_size == before  # the standby's thread ran twenty ticks and copied nothing
    holder.stop()
    deadline = time.monotonic() + 5
    while database.stat().st_size < before + 150 * PAGE and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert database.stat().st_size >= before + 150 * PAGE  # it took the role and copied the rows in
    standby.stop()
    await writer.stop()
    engine.dispose()
