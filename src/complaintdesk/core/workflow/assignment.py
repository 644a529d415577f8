"""Assign complaints to an operator (or nobody), one or many at once, with a timeline entry each."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from complaintdesk.core.alerts import hooks as alert_hooks
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.users import service as user_service
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import Permission, Principal, Role
from complaintdesk.core.workflow.scope import complaints_in_scope
from complaintdesk.errors import ActionRefused


def assign(
    *,
    session: Session,
    principal: Principal,
    complaint_ids: Iterable[int],
    assignee_id: int | None,
    now: datetime,
    ip: str = "",
) -> list[Complaint]:
    """Give complaints to ``assignee_id`` (None: unassign); all ids must be in scope or nothing changes."""
    complaints = complaints_in_scope(
        session=session,
        principal=principal,
        complaint_ids=complaint_ids,
        permission=Permission.COMPLAINT_ASSIGN,
        ip=ip,
    )
    assignee = _assignee(session, assignee_id, complaints) if assignee_id is not None else None
    for complaint in complaints:
        if complaint.assignee_id == assignee_id:
            continue
        before = complaint.assignee_id
        complaint.assignee_id = assignee_id
        key = f"assign:{uuid.uuid4().hex}"
        if assignee is not None and assignee.id != principal.user_id:
            alert_hooks.on_assigned(
                session=session, complaint=complaint, assignee_id=assignee.id, entry_key=key, now=now
            )
        timeline_service.merge(
            session=session,
            rows=[
                {
                    "complaint_id": complaint.id,
                    "dedupe_key": key,
                    "source": "system",
                    "kind": "assigned" if assignee is not None else "unassigned",
                    "actor": "operator",
                    "actor_label": principal.username[:64],
                    "occurred_at": now,
                    "text": f"分配给 {assignee.display_name or assignee.username}"
                    if assignee
                    else "取消分配",
                    "media_urls": [],
                    "known": True,
                    "raw": {
                        "by": principal.username,
                        "from": before,
                        "to": assignee_id,
                        "to_username": assignee.username if assignee else None,
                    },
                }
            ],
        )
        audit_service.record(
            session=session,
            action=audit_service.AuditAction.COMPLAINT_ASSIGNED,
            actor=principal.username,
            ip=ip,
            target_type="complaint",
            target_id=complaint.id,
            details={"from": before, "to": assignee_id},
            at=now,
        )
    session.flush()
    return complaints


def _assignee(session: Session, assignee_id: int, complaints: list[Complaint]) -> User:
    user = user_service.get(session=session, user_id=assignee_id)
    if not user.active or user.role == Role.VIEWER:
        raise ActionRefused("complaints can only be assigned to an active agent or admin", field="assignee")
    scope = user_service.principal_for(session=session, user=user)
    if not all(scope.allows(c) for c in complaints):
        raise ActionRefused(f"{user.username} cannot see every selected complaint", field="assignee")
    return user
