"""Sliding dedupe windows for notifications that carry no id (Huishouqian), inside the inbox write.

A row built with ``window_seconds`` (see ``service.build_row``) has a content identity instead of a
final dedupe key. In the writer's transaction, before the inbox INSERT, one UPSERT per identity on
``notify_window`` returns its generation: unchanged when the previous copy arrived at most the window
ago (so the INSERT conflicts: a duplicate), one more when it is older (a new event). The row lock of
the UPSERT (PostgreSQL) or the write lock (SQLite) orders concurrent processes, so two copies of a
retry never both see an expired window. Identities are taken in sorted order (no deadlocks).
"""

from __future__ import annotations

from typing import Any

__all__ = ["WINDOW_KEYS", "apply_windows", "set_generation", "window_upserts"]

#: Row keys the writer consumes (not inbox columns).
WINDOW_KEYS = ("dedupe_identity", "dedupe_window", "dedupe_at")

_UPSERT = (
    "INSERT INTO notify_window (channel, account_id, identity, generation, last_seen) "
    "VALUES ({p}, {p}, {p}, 0, {p}) "
    "ON CONFLICT (channel, account_id, identity) DO UPDATE SET "
    "generation = CASE WHEN {p} > 0 AND excluded.last_seen - notify_window.last_seen > {p} "
    "THEN notify_window.generation + 1 ELSE notify_window.generation END, "
    "last_seen = CASE WHEN excluded.last_seen > notify_window.last_seen "
    "THEN excluded.last_seen ELSE notify_window.last_seen END "
    "RETURNING generation"
)
SQLITE_UPSERT = _UPSERT.format(p="?")
POSTGRES_UPSERT = _UPSERT.format(p="%s")


#: A windowed row, its UPSERT and the UPSERT's parameters.
Upsert = tuple[dict[str, Any], str, tuple[Any, ...]]


def window_upserts(rows: list[dict[str, Any]], *, sqlite: bool) -> list[Upsert]:
    """The UPSERT (row, statement, parameters) of every windowed row, in lock order."""
    sql = SQLITE_UPSERT if sqlite else POSTGRES_UPSERT
    windowed = [row for row in rows if row.get("dedupe_identity")]
    windowed.sort(key=lambda r: (r["account_id"], r["dedupe_identity"], r["dedupe_at"]))
    return [
        (
            row,
            sql,
            (
                row["channel"],
                row["account_id"],
                row["dedupe_identity"],
                float(row["dedupe_at"]),
                int(row["dedupe_window"]),
                int(row["dedupe_window"]),
            ),
        )
        for row in windowed
    ]


def set_generation(row: dict[str, Any], generation: int) -> None:
    """Give a windowed row its final ``dedupe_key``: the identity and the generation its UPSERT returned."""
    row["dedupe_key"] = f"{row['dedupe_identity']}:{generation}"[:128]


def apply_windows(cursor: Any, rows: list[dict[str, Any]], *, sqlite: bool) -> None:
    """Set the final ``dedupe_key`` of every windowed row (idempotent: a retried batch recomputes)."""
    for row, sql, params in window_upserts(rows, sqlite=sqlite):
        cursor.execute(sql, params)
        set_generation(row, int(cursor.fetchone()[0]))
