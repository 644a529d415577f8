"""The inbox INSERT as the driver runs it, and SQLite's write-ahead-log checkpoints off the hot path."""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine

from complaintdesk.core.accounts.models import MerchantAccount  # noqa: F401  (inbox_event's foreign key target)
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.dbutil import ProcessRole, insert_ignore

log = logging.getLogger(__name__)

_CONFLICT = ("channel", "account_id", "dedupe_key")


class DriverInsert:
    """The inbox INSERT … ON CONFLICT DO NOTHING for a batch of rows, as the driver takes it.

    Values are bound by each column's own SQLAlchemy processor (JSON, UTC datetimes), so what the
    ORM reads back is what it would have written. On SQLite a batch is one multi-row statement,
    one call into SQLite instead of one per row (at most ``max_rows`` rows: SQLite caps the number
    of bound values). On PostgreSQL it is one statement whatever the batch's size: one array per
    column, ``unnest``-ed into rows (:meth:`postgres_batch`), so the server plans and runs one
    INSERT and the driver adapts a dozen lists instead of a dozen values per row.
    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        table = InboxEvent.__table__
        columns = [c for c in table.columns if not c.primary_key]
        stmt = insert_ignore(dialect.name, table, _CONFLICT)  # type: ignore[arg-type]
        compiled = stmt.compile(dialect=dialect, column_keys=[c.key for c in columns])
        order = list(compiled.positiontup or []) if compiled.positional else [c.key for c in columns]
        procs = {c.key: c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns}
        self._order = order
        self._procs = [(key, procs.get(key)) for key in order]
        #: Rows per statement: SQLite before 3.32 binds at most 999 values, later versions 32,766.
        self.max_rows = (32766 if sqlite3.sqlite_version_info >= (3, 32) else 999) // len(order)
        self._table = str(table.name)  # type: ignore[attr-defined]
        self._multirow_sql: dict[int, str] = {}
        self._unnest_sql = self._unnest_statement(dialect, {c.key: c for c in columns})

    def sqlite_batch(self, rows: list[dict[str, Any]]) -> tuple[str, list[Any]]:
        """SQLite: one multi-row statement and its flat parameters, for ``execute``."""
        flat: list[Any] = []
        for row in rows:
            flat.extend(self._values(row))
        return self._multirow_statement(len(rows)), flat

    def postgres_batch(self, rows: list[dict[str, Any]], *, then: str = "") -> tuple[str, list[list[Any]]]:
        """PostgreSQL: one INSERT of every row (one array per column), and its parameters.

        ``then``: a data-modifying statement run in the same statement (a CTE), e.g. the batch's job.
        The statement returns the number of rows inserted (duplicates are skipped).
        """
        columns = [list(values) for values in zip(*(self._values(row) for row in rows), strict=True)]
        sql = self._unnest_sql
        if then:
            sql = f"WITH side AS ({then}), {sql.removeprefix('WITH ')}"
        return sql, columns

    def _values(self, row: dict[str, Any]) -> list[Any]:
        return [proc(row.get(key)) if proc is not None else row.get(key) for key, proc in self._procs]

    def _unnest_statement(self, dialect: Any, columns: dict[str, Any]) -> str:
        """``WITH inserted AS (INSERT … SELECT * FROM unnest(%s::type[], …) …) SELECT count(*)``."""
        if dialect.name != "postgresql":
            return ""
        arrays = []
        for key in self._order:
            column = columns[key]
            kind = next(iter(column.foreign_keys)).column.type if column.foreign_keys else column.type
            arrays.append(f"%b::{kind.compile(dialect=dialect)}[]")  # binary: adapted in C
        # Identifiers and types come from our own table metadata; every value is a bound parameter.
        return (
            f"WITH inserted AS (INSERT INTO {self._table} ({', '.join(self._order)}) "  # noqa: S608
            f"SELECT * FROM unnest({', '.join(arrays)}) "
            f"ON CONFLICT ({', '.join(_CONFLICT)}) DO NOTHING RETURNING 1) SELECT count(*) FROM inserted"
        )

    def _multirow_statement(self, count: int) -> str:
        """SQLite's INSERT of ``count`` rows (built once per size; at most ``max_batch`` sizes)."""
        sql = self._multirow_sql.get(count)
        if sql is None:
            one = "(" + ", ".join("?" * len(self._order)) + ")"
            # Identifiers come from our own table metadata; every value is a bound parameter.
            head = f"INSERT INTO {self._table} ({', '.join(self._order)}) VALUES "  # noqa: S608
            sql = head + ", ".join([one] * count) + f" ON CONFLICT ({', '.join(_CONFLICT)}) DO NOTHING"
            self._multirow_sql[count] = sql
        return sql


class WalCheckpointer:
    """SQLite: copies the write-ahead log into the database file on a thread of its own.

    SQLite otherwise checkpoints inside whichever commit crosses ``wal_autocheckpoint`` pages,
    copying megabytes and syncing the file while that commit waits; on the webhook's event loop
    that stalls every request. While the writer runs, the connections it commits on have automatic
    checkpoints turned off and, every ``interval`` seconds, this thread copies the log into the
    database (PASSIVE: blocks no one), then, once the log holds ``restart_frames`` pages, has it
    start over (RESTART: holds off writers for the last few frames and a sync). Without the restart
    a busy log only ever grows, and every commit appends to fresh file blocks the kernel must
    allocate and zero (measured: 99 MB of log for 20,000 notifications, and about a tenth of the
    machine's time in the kernel's page zeroing).

    With ``serve --workers N`` one process checkpoints: the one holding an exclusive lock on
    ``<database>-checkpointer``; if it dies, the kernel drops the lock and another takes over.
    """

    def __init__(
        self, engine: Engine, *, interval: float = 0.5, restart_wait: float = 0.05, restart_frames: int = 4096
    ) -> None:
        """``restart_wait``: seconds the RESTART step may wait for the write lock, then for readers
        (while it waits for readers, it holds writers off); past that, the log starts over next tick.
        ``restart_frames``: the log starts over only once it holds this many pages (16 MB of 4 KB
        pages): each restart holds writers off for a sync of the database file (10–20 ms measured),
        so doing it every tick put that pause into the 99th percentile of acknowledgements."""
        self._engine = engine
        self._restart_frames = restart_frames
        self._interval = interval
        self._restart_wait_ms = max(1, round(restart_wait * 1000))
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._role = ProcessRole(engine, "checkpointer")

    def start(self) -> None:
        """Start the checkpoint thread (idempotent)."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after one last checkpoint."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(timeout=10)
        self._role.release()  # another process may take the role now

    def holds_role(self) -> bool:
        """Whether this process is the one that checkpoints (takes the role when it is free)."""
        return self._role.held()

    def checkpoint(self) -> None:
        """Copy the log into the database, then let the next commit start it over (the thread runs this)."""
        with self._engine.connect() as connection:
            passive = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").first()
            if passive is not None and 0 <= passive[1] < self._restart_frames:
                return  # a short log: not worth holding writers off to start it over
            connection.exec_driver_sql(f"PRAGMA busy_timeout={self._restart_wait_ms}")
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)").scalar()
            connection.exec_driver_sql("PRAGMA busy_timeout=30000")
            if busy:
                log.debug("WAL restart deferred: a reader or writer kept the log busy")

    def _run(self) -> None:
        while True:
            stopping = self._stopping.wait(self._interval)
            try:
                if self.holds_role():
                    self.checkpoint()
            except Exception as exc:  # a busy or failing checkpoint is retried on the next tick
                log.warning("WAL checkpoint failed: %s", type(exc).__name__)
            if stopping:
                return
