"""Internal notes: timeline entries only operators see (never sent to a channel)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.alerts import hooks as alert_hooks
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.core.workflow import reads
from complaintdesk.core.workflow.scope import complaint_in_scope
from complaintdesk.errors import ActionRefused

MAX_NOTE = 5000


def add_note(
    *, session: Session, principal: Principal, complaint_id: int, text: str, now: datetime, ip: str = ""
) -> TimelineEntry:
    """Add an internal note; the complaint becomes unread for everyone else."""
    complaint = complaint_in_scope(
        session=session,
        principal=principal,
        complaint_id=complaint_id,
        permission=Permission.COMPLAINT_NOTE,
        ip=ip,
    )
    body = text.strip()
    if not body:
        raise ActionRefused("a note needs some text", field="text")
    if len(body) > MAX_NOTE:
        raise ActionRefused(f"a note is at most {MAX_NOTE} characters", field="text")
    key = f"note:{uuid.uuid4().hex}"
    timeline_service.merge(
        session=session,
        rows=[
            {
                "complaint_id": complaint.id,
                "dedupe_key": key,
                "source": "note",
                "kind": "note",
                "actor": "operator",
                "actor_label": principal.username[:64],
                "occurred_at": now,
                "text": body,
                "media_urls": [],
                "known": True,
                "raw": {
                    "author": principal.username,
                    "author_id": principal.user_id,
                    "visibility": "internal",
                },
            }
        ],
    )
    complaint.updated_at = max(complaint.updated_at, now)
    audit_service.record(  # that a note was written, not what it says (notes may quote the user)
        session=session,
        action=audit_service.AuditAction.NOTE_ADDED,
        actor=principal.username,
        ip=ip,
        target_type="complaint",
        target_id=complaint.id,
        details={"entry": key},
        at=now,
    )
    session.flush()
    alert_hooks.on_note(
        session=session, complaint=complaint, text=body, entry_key=key, author_id=principal.user_id, now=now
    )
    reads.mark_read(
        session=session, principal=principal, complaint_ids=[complaint.id], now=complaint.updated_at
    )
    return session.scalars(
        select(TimelineEntry).where(
            TimelineEntry.complaint_id == complaint.id, TimelineEntry.dedupe_key == key
        )
    ).one()


def is_internal(entry: TimelineEntry) -> bool:
    """Whether a timeline entry is an internal note (operators only)."""
    return entry.source == "note"
