"""Load complaints for a principal: anything outside the scope is "not found", and the attempt audited."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.errors import ActionRefused, ComplaintNotFound

MAX_BULK = 500


def complaints_in_scope(
    *,
    session: Session,
    principal: Principal,
    complaint_ids: Iterable[int],
    permission: Permission = Permission.COMPLAINT_READ,
    ip: str = "",
) -> list[Complaint]:
    """The complaints asked for, in the order asked; all of them or none (ComplaintNotFound)."""
    principal.require(permission)
    ids = list(dict.fromkeys(int(i) for i in complaint_ids))
    if not ids:
        raise ActionRefused("no complaints were selected", field="complaint_ids")
    if len(ids) > MAX_BULK:
        raise ActionRefused(f"at most {MAX_BULK} complaints at once", field="complaint_ids")
    found = {c.id: c for c in session.scalars(select(Complaint).where(Complaint.id.in_(ids)))}
    outside = [i for i in ids if i in found and not principal.allows(found[i])]
    if outside:
        audit_service.record_committed(
            session=session,
            action=AuditAction.COMPLAINT_DENIED,
            actor=principal.username,
            ip=ip,
            target_type="complaint",
            target_id=outside[0],
            details={"complaint_ids": outside[:50], "permission": permission.value},
        )
    missing = [i for i in ids if i not in found or i in outside]
    if missing:
        noun = "complaint" if len(missing) == 1 else "complaints"
        raise ComplaintNotFound(f"{len(missing)} of the selected {noun} not found: {missing[:10]}")
    return [found[i] for i in ids]


def complaint_in_scope(
    *,
    session: Session,
    principal: Principal,
    complaint_id: int,
    permission: Permission = Permission.COMPLAINT_READ,
    ip: str = "",
) -> Complaint:
    """One complaint the principal may use with ``permission``, or ComplaintNotFound / Forbidden."""
    try:
        return complaints_in_scope(
            session=session, principal=principal, complaint_ids=[complaint_id], permission=permission, ip=ip
        )[0]
    except ComplaintNotFound:
        raise ComplaintNotFound(f"no complaint with id {complaint_id}") from None
