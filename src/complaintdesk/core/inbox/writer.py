"""Group commit for the webhook hot path: many concurrent requests share one transaction.

A request hands its row to :meth:`InboxWriter.store` and awaits it; a single writer task
commits whatever has queued up in one INSERT … ON CONFLICT DO NOTHING, then resolves every
waiting request. Only after that resolution may the webhook answer 2xx, so an acknowledged
notification is always on disk. If the commit fails, every waiter gets the exception (→ 5xx).

The INSERT is compiled once and executed on the driver with values bound by each column's own
SQLAlchemy processor, so the hot path skips the ORM and the per-statement compilation. On SQLite the
write runs on the event loop: it is CPU work inside this process, and a worker thread would release
and re-take the GIL for every row while the loop holds it (measured: slower and with a longer tail,
``bench/ingest.py``). On PostgreSQL it runs in a thread, since the commit waits on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.dbutil import insert_ignore

log = logging.getLogger(__name__)

_CONFLICT = ("channel", "account_id", "dedupe_key")


class _DriverInsert:
    """The inbox INSERT compiled once for the engine's driver, with each column's bind processor.

    ``params`` turns a row built by ``inbox.service.build_row`` into what the driver takes: a tuple
    in placeholder order (SQLite's ``?``) or a dict (psycopg's ``%(name)s``).
    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        table = InboxEvent.__table__
        columns = [c for c in table.columns if not c.primary_key]
        stmt = insert_ignore(dialect.name, table, _CONFLICT)  # type: ignore[arg-type]
        compiled = stmt.compile(dialect=dialect, column_keys=[c.key for c in columns])
        self.sql = str(compiled)
        self.positional = compiled.positional
        order = list(compiled.positiontup or []) if compiled.positional else [c.key for c in columns]
        procs = {c.key: c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns}
        self.order = order
        self.procs = [(key, procs.get(key)) for key in order]

    def params(self, row: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """Driver parameters for one row (absent keys are NULL)."""
        values = [proc(row.get(key)) if proc is not None else row.get(key) for key, proc in self.procs]
        return tuple(values) if self.positional else dict(zip(self.order, values, strict=True))


class InboxWriter:
    """Batches inbox inserts from concurrent requests into single commits."""

    def __init__(
        self, engine: Engine, *, max_batch: int = 512, on_stored: Callable[[], None] | None = None
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._on_stored = on_stored
        self._insert = _DriverInsert(engine)
        self._on_loop = engine.dialect.name == "sqlite"

    async def store(self, row: dict[str, Any]) -> None:
        """Queue one inbox row and wait until it is committed."""
        if self._task is None:
            self.start()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        self._wakeup.set()
        await future

    def start(self) -> None:
        """Start the writer task on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        """Flush what is queued and stop."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pending:
            await self._flush()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._flush()

    async def _flush(self) -> None:
        batch = self._pending[: self._max_batch]
        del self._pending[: len(batch)]
        rows = [row for row, _ in batch]
        try:
            if self._on_loop:
                self._write(rows)
            else:
                await asyncio.to_thread(self._write, rows)
        except Exception as exc:
            log.error("inbox write failed for %d notifications: %s", len(rows), type(exc).__name__)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)
        if self._on_stored is not None:
            self._on_stored()

    def _write(self, rows: list[dict[str, Any]]) -> None:
        params = [self._insert.params(row) for row in rows]
        with self._engine.begin() as connection:
            connection.exec_driver_sql(self._insert.sql, params)
