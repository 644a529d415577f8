"""Group commit for the webhook hot path: many concurrent requests share one transaction.

A request hands its row to :meth:`InboxWriter.store` and awaits it (or to :meth:`InboxWriter.submit`
with a callback, which is what ``serve``'s HTTP protocol does); a single writer task commits
whatever has queued up in one INSERT … ON CONFLICT DO NOTHING, then settles every waiting request.
Only after that may the webhook answer 2xx, so an acknowledged notification is always on disk. If
the commit fails, every waiter gets the exception (→ 5xx).

The batch runs on the writer's own driver connection (``inbox.driver``: no ORM, no per-statement
compilation), on the event loop. On PostgreSQL it is psycopg's asynchronous connection, so the loop
serves requests while the commit travels; a worker thread's hand-over cost a third of each batch's
time (``bench/ingest.py``). On SQLite the batch runs on the loop too, which measured faster on the
2-core benchmark machine than a thread fighting the loop for the GIL; SQLite's write lock is taken with
``BEGIN IMMEDIATE`` and no busy timeout, so while another process holds it the loop goes on
serving requests and the batch is retried a fraction of a millisecond later, instead of the
whole process sleeping in SQLite's busy handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from complaintdesk.core.inbox.driver import DriverInsert, WalCheckpointer
from complaintdesk.core.inbox.window import apply_windows, set_generation, window_upserts
from complaintdesk.jobs import queue
from complaintdesk.ops.metrics import count_notifications

log = logging.getLogger(__name__)

#: Called once a row's batch is committed (``None``) or has failed (the exception).
StoredCallback = Callable[[Exception | None], None]


def _resolve(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():  # the awaiting request was cancelled
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _by_channel(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The batch's rows by channel, in order (one group unless several channels share the batch)."""
    first = rows[0]["channel"] if rows else ""
    if all(row["channel"] == first for row in rows):
        return {first: rows}
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["channel"], []).append(row)
    return groups


class InboxWriter:
    """Batches inbox inserts from concurrent requests into single commits."""

    #: SQLite: how long a batch waits for another process's write lock before failing (→ 5xx, retried).
    LOCK_WAIT = 30.0
    #: SQLite: pause between attempts to take the write lock.
    LOCK_RETRY = 0.0003
    #: PostgreSQL: seconds to open the writer's connection (a ``connect_timeout`` in the URL wins).
    CONNECT_TIMEOUT = 10

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 512,
        on_stored: Callable[[], None] | None = None,
        checkpoint_every: float = 0.5,
    ) -> None:
        self._engine = engine
        self._pending: list[tuple[dict[str, Any], StoredCallback]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._on_stored = on_stored
        self._insert = DriverInsert(engine)
        self._sqlite = engine.dialect.name == "sqlite"
        self._max_batch = min(max_batch, self._insert.max_rows) if self._sqlite else max_batch
        self._checkpointer = WalCheckpointer(engine, interval=checkpoint_every) if self._sqlite else None
        self._connection: PoolProxiedConnection | None = None  # SQLite
        self._postgres: psycopg.AsyncConnection[Any] | None = None

    async def store(self, row: dict[str, Any]) -> None:
        """Queue one inbox row and wait until it is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.submit(row, partial(_resolve, future))
        await future

    def submit(self, row: dict[str, Any], on_stored: StoredCallback) -> None:
        """Queue one inbox row; ``on_stored`` is called on the loop once its batch committed or failed."""
        if self._task is None:
            self.start()
        self._pending.append((row, on_stored))
        self._wakeup.set()

    def start(self) -> None:
        """Start the writer task on the running loop."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="inbox-writer")
            if self._checkpointer is not None:
                self._checkpointer.start()

    async def stop(self) -> None:
        """Commit what is queued (every waiting request is answered), then stop.

        The writer task is not cancelled: a batch in the middle of its commit finishes first.
        """
        task = self._task
        if task is not None:
            self._stopping = True
            self._wakeup.set()
            await task
            self._task = None
        while self._pending:  # queued while the task never ran
            await self._flush()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        if self._connection is not None:  # closed, not pooled: its pragmas are the writer's own
            self._discard(self._connection)
        if self._postgres is not None:
            await self._postgres.close()
            self._postgres = None

    async def _run(self) -> None:
        while not self._stopping:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._flush()

    async def _flush(self) -> None:
        batch = self._pending[: self._max_batch]
        del self._pending[: len(batch)]
        groups = _by_channel([row for row, _ in batch])
        try:
            if self._sqlite:
                inserted = await self._write_sqlite(groups)
            else:
                inserted = await self._write_postgres(groups)
        except Exception as exc:
            log.error("inbox write failed for %d notifications: %s", len(batch), type(exc).__name__)
            self._settle(batch, exc)
            return
        self._settle(batch, None)
        for (channel, rows), stored in zip(groups.items(), inserted, strict=True):
            count_notifications(channel, "stored", stored)
            count_notifications(channel, "duplicate", len(rows) - stored)
        if self._on_stored is not None:
            self._on_stored()

    @staticmethod
    def _settle(batch: list[tuple[dict[str, Any], StoredCallback]], error: Exception | None) -> None:
        """Tell every request of the batch; one failing callback does not keep the others waiting."""
        for _, on_stored in batch:
            try:
                on_stored(error)
            except Exception:
                log.exception("a stored-notification callback failed")

    async def _write_sqlite(self, groups: dict[str, list[dict[str, Any]]]) -> list[int]:
        """Insert and commit on the loop; while another process holds the write lock, yield and retry.

        One statement per channel in the batch (almost always one); returns the rows each inserted.
        """
        windowed = any(row.get("dedupe_identity") for rows in groups.values() for row in rows)
        statements = [] if windowed else [self._insert.sqlite_batch(rows) for rows in groups.values()]
        deadline = time.monotonic() + self.LOCK_WAIT
        while True:
            connection = self._sqlite_connection()
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    if windowed:  # the keys depend on what is committed: computed under the lock
                        for rows in groups.values():
                            apply_windows(cursor, rows, sqlite=True)
                        statements = [self._insert.sqlite_batch(rows) for rows in groups.values()]
                    inserted = []
                    for sql, params in statements:
                        cursor.execute(sql, params)
                        inserted.append(cursor.rowcount)
                finally:
                    cursor.close()
                connection.commit()
                return inserted
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    self._discard(connection)
                    raise
                connection.rollback()
            except Exception:
                self._discard(connection)
                raise
            await asyncio.sleep(self.LOCK_RETRY)

    async def _write_postgres(self, groups: dict[str, list[dict[str, Any]]]) -> list[int]:
        """PostgreSQL, on the loop: the batch and its job in one statement, one round trip.

        The writer's connection is in autocommit mode, so the statement is its own transaction: when
        its result arrives, the rows are committed (with ``synchronous_commit`` as the server has it:
        never turn it off for acknowledged data). It commits together with a ``fan_out_inbox`` job
        (unless one is already waiting), so a stored notification always has a job that leads to its
        processing. A batch with sliding-window rows (Huishouqian) runs its window UPSERTs first, in
        one explicit transaction with the insert. Returns the rows inserted per channel.
        """
        connection = await self._postgres_connection()
        windowed = any(row.get("dedupe_identity") for rows in groups.values() for row in rows)
        try:
            transaction = connection.transaction() if windowed else contextlib.nullcontext()
            async with transaction, connection.cursor() as cursor:
                inserted = []
                job = queue.FAN_OUT_SQL_DRIVER
                for rows in groups.values():
                    for row, sql, params in window_upserts(rows, sqlite=False):
                        await cursor.execute(sql, params)
                        set_generation(row, int((await cursor.fetchone() or (0,))[0]))
                    statement, columns = self._insert.postgres_batch(rows, then=job)
                    job = ""  # one job for the whole batch
                    await cursor.execute(statement, columns)
                    (count,) = await cursor.fetchone() or (0,)
                    inserted.append(int(count))
        except BaseException:  # whatever state it is in (cancelled mid-statement too), start afresh
            self._postgres = None
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        return inserted

    async def _postgres_connection(self) -> psycopg.AsyncConnection[Any]:
        """The writer's own asynchronous connection (autocommit), opened again after a failure.

        It is opened with the arguments SQLAlchemy's dialect would give the driver for the engine's
        URL, outside the engine's pool: the loop waits on its socket instead of a thread on a
        blocking one (the thread's hand-over measured a third of each batch's time).
        """
        if self._postgres is None:
            args, kwargs = self._engine.dialect.create_connect_args(self._engine.url)
            # A server that does not answer fails the batch (→ 5xx: the upstream retries) instead of
            # holding every waiting request until the operating system gives up on the connection.
            kwargs.setdefault("connect_timeout", self.CONNECT_TIMEOUT)
            self._postgres = await psycopg.AsyncConnection.connect(*args, **{**kwargs, "autocommit": True})
        return self._postgres

    def _discard(self, connection: PoolProxiedConnection) -> None:
        """Whatever state the connection is in, the next batch starts on a fresh one."""
        self._connection = None
        connection.invalidate()

    def _sqlite_connection(self) -> PoolProxiedConnection:
        """The writer's own driver connection, kept between batches (opened again after a failure)."""
        if self._connection is None:
            connection = self._engine.raw_connection()
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's thread does it
            cursor.execute("PRAGMA busy_timeout=0")  # a busy lock returns at once; we retry
            cursor.close()
            self._connection = connection
        return self._connection
