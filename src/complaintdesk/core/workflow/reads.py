"""Per-user read state: a complaint is unread when it changed after the user last read it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.users.permissions import Principal
from complaintdesk.core.workflow.models import ComplaintRead
from complaintdesk.core.workflow.scope import complaints_in_scope


def mark_read(
    *, session: Session, principal: Principal, complaint_ids: Iterable[int], now: datetime, ip: str = ""
) -> int:
    """Mark complaints read for the principal (all in scope, or nothing changes); returns how many."""
    complaints = complaints_in_scope(session=session, principal=principal, complaint_ids=complaint_ids, ip=ip)
    rows = [{"user_id": principal.user_id, "complaint_id": c.id, "read_at": now} for c in complaints]
    _upsert(session, rows)
    return len(rows)


def mark_unread(*, session: Session, principal: Principal, complaint_ids: Iterable[int], ip: str = "") -> int:
    """Forget that the principal read these complaints."""
    complaints = complaints_in_scope(session=session, principal=principal, complaint_ids=complaint_ids, ip=ip)
    session.execute(
        delete(ComplaintRead).where(
            ComplaintRead.user_id == principal.user_id,
            ComplaintRead.complaint_id.in_([c.id for c in complaints]),
        )
    )
    return len(complaints)


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(ComplaintRead)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "complaint_id"], set_={"read_at": stmt.excluded.read_at}
    )
    session.execute(stmt, rows)
    session.flush()


def unread_ids(*, session: Session, user_id: int, complaint_ids: Iterable[int]) -> set[int]:
    """Which of these complaints the user has not read since they last changed."""
    ids = list(complaint_ids)
    if not ids:
        return set()
    rows = session.execute(
        select(Complaint.id)
        .outerjoin(ComplaintRead, _read_join(user_id))
        .where(Complaint.id.in_(ids), unread_clause())
    ).scalars()
    return {int(i) for i in rows}


def _read_join(user_id: int) -> ColumnElement[bool]:
    return and_(ComplaintRead.complaint_id == Complaint.id, ComplaintRead.user_id == user_id)


def unread_clause() -> ColumnElement[bool]:
    """True for unread rows of ``Complaint`` outer-joined with ``ComplaintRead`` (see :func:`join_reads`)."""
    return or_(ComplaintRead.read_at.is_(None), Complaint.updated_at > ComplaintRead.read_at)


def join_reads(query: Select[Any], user_id: int) -> Select[Any]:
    """Outer-join the user's read state onto a ``select(Complaint…)``."""
    return query.outerjoin(ComplaintRead, _read_join(user_id))
