"""Small portable SQL helpers (SQLite and PostgreSQL)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


def insert_ignore(dialect_name: str, table: Table, conflict_columns: Sequence[str]) -> Insert:
    """An INSERT that silently skips rows violating the unique key on ``conflict_columns``."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    raise NotImplementedError(f"database {dialect_name} is not supported")


def execute_insert_ignore(
    bind: Session | Connection, table: Table, conflict_columns: Sequence[str], rows: list[dict[str, Any]]
) -> int:
    """Insert rows, skipping duplicates; for one row returns 1 if it was new else 0, for many -1 (unknown)."""
    if not rows:
        return 0
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    stmt = insert_ignore(dialect, table, conflict_columns)
    if len(rows) == 1:  # RETURNING tells exactly whether the row was new, on every backend
        pk = list(table.primary_key.columns)
        return 1 if bind.execute(stmt.returning(*pk), rows[0]).first() is not None else 0
    bind.execute(stmt, rows)
    return -1


def take_sqlite_write_lock(session: Session) -> None:
    """On SQLite, open the transaction holding the write lock (``BEGIN IMMEDIATE``); elsewhere, nothing.

    The driver starts a SQLite transaction lazily, and a SAVEPOINT opens a deferred one: its first
    write then fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT, no busy wait) whenever
    another connection committed after its first read. A transaction that reads, then writes inside
    savepoints, takes the lock first and waits for it like any writer. No-op inside a transaction.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    dbapi = session.connection().connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        session.execute(text("BEGIN IMMEDIATE"))


class ProcessRole:
    """A role one process of a SQLite database holds at a time: an exclusive ``flock`` on ``<db>-<name>``.

    If the holder dies, the kernel drops the lock and the next process to ask takes the role over.
    On other databases (and in-memory SQLite) every process holds it: they coordinate in the database.
    """

    def __init__(self, engine: Engine, name: str) -> None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._path = f"{database}-{name}" if database and database != ":memory:" else None
        self._fd: int | None = None

    def held(self) -> bool:
        """Whether this process holds the role (taking it when it is free)."""
        if self._path is None or self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the role up (another process may take it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
