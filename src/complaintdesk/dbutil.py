"""Small portable SQL helpers (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
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
