"""Merge timeline entries idempotently and read them in order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.channels.base import HistoryEntry
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.dbutil import execute_insert_ignore

_CONFLICT = ("complaint_id", "dedupe_key")


def history_rows(complaint_id: int, history: list[HistoryEntry]) -> list[dict[str, Any]]:
    """Timeline rows for upstream history entries (dedupe on the upstream log id)."""
    return [
        {
            "complaint_id": complaint_id,
            "dedupe_key": f"h:{entry.external_id}"[:128],
            "source": "history",
            "kind": entry.kind[:64],
            "actor": entry.actor,
            "actor_label": entry.actor_label[:64],
            "occurred_at": entry.occurred_at,
            "text": entry.text,
            "media_urls": list(entry.media_urls),
            "known": entry.known,
            "raw": entry.raw,
        }
        for entry in history
    ]


def merge(*, session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert rows whose dedupe key is new for their complaint; returns the number inserted."""
    if not rows:
        return 0
    complaint_ids = {row["complaint_id"] for row in rows}
    found = session.execute(
        select(TimelineEntry.complaint_id, TimelineEntry.dedupe_key).where(
            TimelineEntry.complaint_id.in_(complaint_ids)
        )
    ).all()
    existing = {(int(cid), str(key)) for cid, key in found}
    fresh: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for row in rows:
        key = (row["complaint_id"], row["dedupe_key"])
        if key in existing or key in seen:
            continue
        seen.add(key)
        fresh.append(row)
    execute_insert_ignore(session, TimelineEntry.__table__, _CONFLICT, fresh)  # type: ignore[arg-type]
    return len(fresh)


def add_event(
    *,
    session: Session,
    complaint_id: int,
    dedupe_key: str,
    kind: str,
    occurred_at: datetime,
    text: str = "",
    actor: str = "system",
    source: str = "system",
    raw: dict[str, Any] | None = None,
    known: bool = True,
) -> int:
    """Add one system/notification entry (idempotent on ``dedupe_key``)."""
    row = {
        "complaint_id": complaint_id,
        "dedupe_key": dedupe_key[:128],
        "source": source,
        "kind": kind[:64],
        "actor": actor,
        "actor_label": "",
        "occurred_at": occurred_at,
        "text": text,
        "media_urls": [],
        "known": known,
        "raw": raw or {},
    }
    return merge(session=session, rows=[row])


def list_for(*, session: Session, complaint_id: int) -> list[TimelineEntry]:
    """A complaint's timeline, oldest first."""
    return list(
        session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.complaint_id == complaint_id)
            .order_by(TimelineEntry.occurred_at, TimelineEntry.id)
        )
    )
