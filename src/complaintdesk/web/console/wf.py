"""The console's calls into ``core/workflow`` and ``core/templates`` (one seam, so pages stay thin)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.templates import service as template_service
from complaintdesk.core.templates.models import ReplyTemplate
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.core.workflow import assignment, notes, phone, reads, tags
from complaintdesk.core.workflow.models import SavedView, Tag
from complaintdesk.db import as_id
from complaintdesk.errors import ActionRefused, NotFound
from complaintdesk.security import DataCipher


def assignee_choice(value: str, principal: Principal) -> int | None:
    """An assignee form value ("me", "none" or a user id) as a user id or None."""
    if value == "me":
        return principal.user_id
    return as_id(value)


def assign(
    db: Session, principal: Principal, ids: Iterable[int], assignee_id: int | None, now: datetime
) -> int:
    """Assign complaints (all in scope or none)."""
    return len(
        assignment.assign(
            session=db, principal=principal, complaint_ids=ids, assignee_id=assignee_id, now=now
        )
    )


def _tag_id(db: Session, principal: Principal, name: str, now: datetime, ip: str) -> int:
    existing = db.scalar(select(Tag).where(Tag.name == name.strip()))
    if existing is not None:
        return existing.id
    return tags.create_tag(session=db, principal=principal, name=name, now=now, ip=ip).id


def tag(db: Session, principal: Principal, ids: Iterable[int], name: str, now: datetime, ip: str = "") -> int:
    """Add the tag ``name`` (created on first use) to complaints."""
    if not name.strip():
        raise ActionRefused("a tag needs a name", field="tag")
    tag_id = _tag_id(db, principal, name, now, ip)
    return tags.tag(session=db, principal=principal, complaint_ids=ids, now=now, add=[tag_id], ip=ip)


def untag(
    db: Session, principal: Principal, complaint_id: int, name: str, now: datetime, ip: str = ""
) -> int:
    """Remove the tag ``name`` from one complaint."""
    existing = db.scalar(select(Tag).where(Tag.name == name.strip()))
    if existing is None:
        return 0
    return tags.tag(
        session=db, principal=principal, complaint_ids=[complaint_id], now=now, remove=[existing.id], ip=ip
    )


def tags_of(db: Session, complaint_id: int) -> list[Tag]:
    """The complaint's tags."""
    return tags.tags_for(session=db, complaint_ids=[complaint_id]).get(complaint_id, [])


def all_tags(db: Session) -> list[Tag]:
    """Every tag, by name."""
    return tags.list_tags(session=db)


def add_note(db: Session, principal: Principal, complaint: Complaint, text: str, now: datetime) -> None:
    """Add an internal note."""
    notes.add_note(session=db, principal=principal, complaint_id=complaint.id, text=text, now=now)


def mark_read(db: Session, principal: Principal, ids: Iterable[int], now: datetime) -> int:
    """Mark complaints read for this user."""
    return reads.mark_read(session=db, principal=principal, complaint_ids=ids, now=now)


def unread(db: Session, principal: Principal, ids: Iterable[int]) -> set[int]:
    """Which complaints changed since this user last read them."""
    return reads.unread_ids(session=db, user_id=principal.user_id, complaint_ids=ids)


def reveal_phone(
    db: Session, principal: Principal, complaint: Complaint, cipher: DataCipher, ip: str, now: datetime
) -> str:
    """The payer's phone in clear (audited by the core)."""
    return phone.reveal_phone(
        session=db, complaint=complaint, principal=principal, cipher=cipher, ip=ip, now=now
    )


def templates_for(db: Session, principal: Principal, complaint: Complaint) -> list[ReplyTemplate]:
    """Templates usable on this complaint."""
    return template_service.list_for(session=db, by=principal, complaint=complaint)


MAX_SAVED_VIEWS = 50


def saved_views(db: Session, principal: Principal) -> list[SavedView]:
    """The user's saved views, in order."""
    return list(
        db.scalars(
            select(SavedView)
            .where(SavedView.user_id == principal.user_id)
            .order_by(SavedView.position, SavedView.id)
        )
    )


def save_view(
    db: Session, principal: Principal, name: str, filters: dict[str, str], now: datetime
) -> SavedView:
    """Save (or overwrite by name) one of the user's views; filters are stored as validated JSON."""
    principal.require(Permission.VIEW_SAVE)
    clean = name.strip()[:64]
    if not clean:
        raise ActionRefused("a view needs a name", field="name")
    view = db.scalar(select(SavedView).where(SavedView.user_id == principal.user_id, SavedView.name == clean))
    if view is None:
        if len(saved_views(db, principal)) >= MAX_SAVED_VIEWS:
            raise ActionRefused(f"at most {MAX_SAVED_VIEWS} saved views per user", field="name")
        view = SavedView(
            user_id=principal.user_id, name=clean, position=len(saved_views(db, principal)), created_at=now
        )
        db.add(view)
    view.filters = dict(filters)
    view.updated_at = now
    db.flush()
    return view


def delete_view(db: Session, principal: Principal, view_id: int) -> None:
    """Delete one of the user's own views (others' are not found)."""
    view = db.get(SavedView, view_id)
    if view is None or view.user_id != principal.user_id:
        raise NotFound(f"no saved view {view_id}")
    db.delete(view)
    db.flush()
