"""Tags: define them, put them on complaints (one or many at once), read them back."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.core.workflow.models import ComplaintTag, Tag
from complaintdesk.core.workflow.scope import complaints_in_scope
from complaintdesk.dbutil import execute_insert_ignore
from complaintdesk.errors import ActionRefused, AlreadyExists, NotFound

_COLOR_RE = re.compile(r"^(#[0-9a-fA-F]{6}|[a-z]{1,16})?$")


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 64:
        raise ActionRefused("a tag name is 1-64 characters", field="name")
    return cleaned


def create_tag(
    *, session: Session, principal: Principal, name: str, now: datetime, color: str = "", ip: str = ""
) -> Tag:
    """Define a new tag (audited)."""
    principal.require(Permission.COMPLAINT_TAG)
    cleaned = _clean_name(name)
    if not _COLOR_RE.match(color):
        raise ActionRefused("a colour is '#rrggbb' or a colour name", field="color")
    if session.scalar(select(Tag.id).where(Tag.name == cleaned)) is not None:
        raise AlreadyExists(f"a tag named {cleaned!r} exists already")
    tag = Tag(name=cleaned, color=color, created_by=principal.username, created_at=now)
    session.add(tag)
    session.flush()
    _audit(session, AuditAction.TAG_CREATED, principal, ip, "tag", tag.id, {"name": cleaned}, now)
    return tag


def list_tags(*, session: Session) -> list[Tag]:
    """Every tag by name."""
    return list(session.scalars(select(Tag).order_by(Tag.name)))


def rename_tag(
    *,
    session: Session,
    principal: Principal,
    tag_id: int,
    name: str,
    color: str | None = None,
    now: datetime | None = None,
    ip: str = "",
) -> Tag:
    """Rename (or recolour) a tag (audited with the names before and after)."""
    principal.require(Permission.TAG_MANAGE)
    tag = _get(session, tag_id)
    cleaned = _clean_name(name)
    if session.scalar(select(Tag.id).where(Tag.name == cleaned, Tag.id != tag_id)) is not None:
        raise AlreadyExists(f"a tag named {cleaned!r} exists already")
    details = {"name_before": tag.name, "name": cleaned}
    tag.name = cleaned
    if color is not None:
        if not _COLOR_RE.match(color):
            raise ActionRefused("a colour is '#rrggbb' or a colour name", field="color")
        tag.color = color
    session.flush()
    _audit(session, AuditAction.TAG_CHANGED, principal, ip, "tag", tag.id, details, now)
    return tag


def delete_tag(
    *, session: Session, principal: Principal, tag_id: int, now: datetime | None = None, ip: str = ""
) -> None:
    """Remove a tag from every complaint and delete it (audited)."""
    principal.require(Permission.TAG_MANAGE)
    tag = _get(session, tag_id)
    _audit(session, AuditAction.TAG_DELETED, principal, ip, "tag", tag.id, {"name": tag.name}, now)
    session.execute(delete(ComplaintTag).where(ComplaintTag.tag_id == tag_id))
    session.delete(tag)
    session.flush()


def _get(session: Session, tag_id: int) -> Tag:
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise NotFound(f"no tag with id {tag_id}")
    return tag


def tag(
    *,
    session: Session,
    principal: Principal,
    complaint_ids: Iterable[int],
    now: datetime,
    add: Iterable[int] = (),
    remove: Iterable[int] = (),
    ip: str = "",
) -> int:
    """Add and remove tags on complaints (all in scope, or nothing changes); returns complaints changed."""
    complaints = complaints_in_scope(
        session=session,
        principal=principal,
        complaint_ids=complaint_ids,
        permission=Permission.COMPLAINT_TAG,
        ip=ip,
    )
    add_ids, remove_ids = list(dict.fromkeys(add)), list(dict.fromkeys(remove))
    if set(add_ids) & set(remove_ids):
        raise ActionRefused("a tag cannot be added and removed at once", field="tags")
    wanted = set(add_ids) | set(remove_ids)
    names = {t.id: t.name for t in session.scalars(select(Tag).where(Tag.id.in_(wanted)))}
    if wanted - set(names):
        raise NotFound(f"no tag with id {sorted(wanted - set(names))[0]}")
    ids = [c.id for c in complaints]
    current = _pairs(session, ids)
    changed = 0
    for complaint_id in ids:
        added = [t for t in add_ids if (complaint_id, t) not in current]
        removed = [t for t in remove_ids if (complaint_id, t) in current]
        if not added and not removed:
            continue
        changed += 1
        execute_insert_ignore(
            session,
            ComplaintTag.__table__,  # type: ignore[arg-type]
            ("complaint_id", "tag_id"),
            [
                {
                    "complaint_id": complaint_id,
                    "tag_id": t,
                    "added_by": principal.username[:64],
                    "added_at": now,
                }
                for t in added
            ],
        )
        if removed:
            session.execute(
                delete(ComplaintTag).where(
                    ComplaintTag.complaint_id == complaint_id, ComplaintTag.tag_id.in_(removed)
                )
            )
        timeline_service.merge(
            session=session, rows=[_entry(complaint_id, principal, now, added, removed, names)]
        )
        details = {"added": [names[t] for t in added], "removed": [names[t] for t in removed]}
        _audit(session, AuditAction.COMPLAINT_TAGGED, principal, ip, "complaint", complaint_id, details, now)
    session.flush()
    return changed


def _audit(
    session: Session,
    action: AuditAction,
    principal: Principal,
    ip: str,
    target_type: str,
    target_id: int,
    details: dict[str, Any],
    now: datetime | None,
) -> None:
    audit_service.record(
        session=session, action=action, actor=principal.username, ip=ip, target_type=target_type,
        target_id=target_id, details=details, at=now,
    )  # fmt: skip


def _pairs(session: Session, complaint_ids: list[int]) -> set[tuple[int, int]]:
    rows = session.execute(
        select(ComplaintTag.complaint_id, ComplaintTag.tag_id).where(
            ComplaintTag.complaint_id.in_(complaint_ids)
        )
    ).all()
    return {(int(c), int(t)) for c, t in rows}


def _entry(
    complaint_id: int,
    principal: Principal,
    now: datetime,
    added: list[int],
    removed: list[int],
    names: dict[int, str],
) -> dict[str, Any]:
    parts = [*(f"+{names[t]}" for t in added), *(f"-{names[t]}" for t in removed)]
    return {
        "complaint_id": complaint_id,
        "dedupe_key": f"tag:{uuid.uuid4().hex}",
        "source": "system",
        "kind": "tagged",
        "actor": "operator",
        "actor_label": principal.username[:64],
        "occurred_at": now,
        "text": "标签 " + " ".join(parts),
        "media_urls": [],
        "known": True,
        "raw": {
            "by": principal.username,
            "added": [names[t] for t in added],
            "removed": [names[t] for t in removed],
        },
    }


def tags_for(*, session: Session, complaint_ids: Iterable[int]) -> dict[int, list[Tag]]:
    """The tags of each complaint (for list pages), by tag name."""
    ids = list(complaint_ids)
    result: dict[int, list[Tag]] = defaultdict(list)
    if not ids:
        return result
    rows = session.execute(
        select(ComplaintTag.complaint_id, Tag)
        .join(Tag, Tag.id == ComplaintTag.tag_id)
        .where(ComplaintTag.complaint_id.in_(ids))
        .order_by(Tag.name)
    ).all()
    for complaint_id, found in rows:
        result[int(complaint_id)].append(found)
    return result
