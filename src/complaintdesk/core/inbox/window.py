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

__all__ = ["WINDOW_KEYS", "apply_windows"]

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


def apply_windows(cursor: Any, rows: list[dict[str, Any]], *, sqlite: bool) -> None:
    """Set the final ``dedupe_key`` of every windowed row (idempotent: a retried batch recomputes)."""
    windowed = [row for row in rows if row.get("dedupe_identity")]
    sql = SQLITE_UPSERT if sqlite else POSTGRES_UPSERT
    for row in sorted(windowed, key=lambda r: (r["account_id"], r["dedupe_identity"], r["dedupe_at"])):
        window = int(row["dedupe_window"])
        cursor.execute(
            sql,
            (
                row["channel"],
                row["account_id"],
                row["dedupe_identity"],
                float(row["dedupe_at"]),
                window,
                window,
            ),
        )
        generation = int(cursor.fetchone()[0])
        row["dedupe_key"] = f"{row['dedupe_identity']}:{generation}"[:128]
