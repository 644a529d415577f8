"""Merge timeline entries idempotently and read them in order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from complaintdesk.channels.base import HistoryEntry
from complaintdesk.core.live import feed as live_feed
from complaintdesk.core.live.models import LiveKind
from complaintdesk.core.timeline import echo
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.dbutil import execute_insert_ignore

_CONFLICT = ("complaint_id", "dedupe_key")


def is_empty(entry: HistoryEntry) -> bool:
    """An entry that says nothing: no text, no images and no type (it is not stored)."""
    return not entry.text.strip() and not entry.media_urls and not entry.kind.strip()


def history_rows(complaint_id: int, history: list[HistoryEntry]) -> list[dict[str, Any]]:
    """Timeline rows for upstream history entries (keyed on the entry's stable identity; empties dropped)."""
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
        if not is_empty(entry)
    ]


def merge_history(*, session: Session, complaint_id: int, channel: str, history: list[HistoryEntry]) -> int:
    """Merge a fetched history: insert new entries, refresh the media of known ones, link our echoes.

    Returns the number of entries inserted.
    """
    rows = history_rows(complaint_id, history)
    added = merge(session=session, rows=rows)
    fetched = {row["dedupe_key"]: row for row in rows}
    stored = session.scalars(
        select(TimelineEntry).where(
            TimelineEntry.complaint_id == complaint_id, TimelineEntry.dedupe_key.in_(list(fetched))
        )
    ).all()
    for entry in stored:  # media URLs are re-signed upstream: keep the entry, refresh its links
        row = fetched[entry.dedupe_key]
        if entry.media_urls != row["media_urls"] or entry.raw != row["raw"]:
            entry.media_urls = row["media_urls"]
            entry.raw = row["raw"]
    echo.link(session=session, complaint_id=complaint_id, channel=channel, history=history, stored=stored)
    return added


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
    live_feed.emit(session, {(row["complaint_id"], LiveKind.TIMELINE) for row in fresh})
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
    actor_label: str = "",
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
        "actor_label": actor_label[:64],
        "occurred_at": occurred_at,
        "text": text,
        "media_urls": [],
        "known": known,
        "raw": raw or {},
    }
    return merge(session=session, rows=[row])


def list_for(*, session: Session, complaint_id: int) -> list[TimelineEntry]:
    """A complaint's timeline, oldest first (an upstream echo of our action is shown as the action)."""
    return list(
        session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.complaint_id == complaint_id, TimelineEntry.echo_of.is_(None))
            .order_by(TimelineEntry.occurred_at, TimelineEntry.id)
        )
    )


#: Timeline sources the consumer sees or writes: a change among them is what another operator must see first.
CONVERSATION_SOURCES = ("action", "history")


def conversation_version(*, session: Session, complaint_id: int) -> int:
    """The version of a complaint's conversation: grows with every reply sent and every upstream message.

    Internal notes, tags and assignments do not move it. An action carries the version its operator
    saw, and is refused when the conversation moved on since (see ``outbox.request_action``).
    """
    latest = session.scalar(
        select(func.max(TimelineEntry.id)).where(
            TimelineEntry.complaint_id == complaint_id, TimelineEntry.source.in_(CONVERSATION_SOURCES)
        )
    )
    return int(latest or 0)
