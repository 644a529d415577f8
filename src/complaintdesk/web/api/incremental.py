"""Incremental pulls of the complaint list: ``updated_since`` and a stable keyset cursor.

Rows come in ``(updated_at, id)`` order; the cursor is the last row's key, so a page boundary never
skips or repeats a row that did not change. A complaint changed while a client pages moves to the end
and is delivered again (clients upsert by ``id``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.db import as_id
from complaintdesk.errors import ActionRefused
from complaintdesk.web.api.schemas import ComplaintPage, ComplaintSummary


def encode(at: datetime, complaint_id: int) -> str:
    """The cursor after the row ``(at, complaint_id)``."""
    raw = json.dumps([at.astimezone(UTC).isoformat(), complaint_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, int]:
    """The key a cursor carries; anything malformed is a 422 naming ``cursor``."""
    try:
        at_text, complaint_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = datetime.fromisoformat(str(at_text))
        key = as_id(str(complaint_id))
    except (ValueError, TypeError):
        key = None
    if key is None:
        raise ActionRefused("cursor is not one this API returned", field="cursor")
    return (at if at.tzinfo else at.replace(tzinfo=UTC)), key


def page(
    session: Session,
    query: Any,
    updated_since: datetime | None,
    cursor: str | None,
    limit: int,
    offset: int,
    summary: Callable[[Complaint], ComplaintSummary],
) -> ComplaintPage:
    """One page of changes, oldest first (``offset`` is refused: the cursor replaces it)."""
    if offset:
        raise ActionRefused("use cursor, not offset, with updated_since", field="offset")
    if updated_since is not None:
        since = updated_since if updated_since.tzinfo else updated_since.replace(tzinfo=UTC)
        query = query.where(Complaint.updated_at >= since)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if cursor is not None:
        at, after = decode(cursor)
        query = query.where(tuple_(Complaint.updated_at, Complaint.id) > tuple_(at, after))
    rows = list(session.scalars(query.order_by(Complaint.updated_at, Complaint.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    following = encode(rows[-1].updated_at, rows[-1].id) if more else None
    return ComplaintPage(
        items=[summary(c) for c in rows], total=total, limit=limit, offset=0, next_cursor=following
    )
