"""Reveal a payer's phone number: permission and scope checked, decrypted, and audited every time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.errors import ComplaintNotFound, Forbidden, NotFound
from complaintdesk.security import DataCipher


def reveal_phone(
    *,
    session: Session,
    complaint: Complaint,
    principal: Principal,
    cipher: DataCipher,
    ip: str,
    now: datetime | None = None,
) -> str:
    """The payer's phone number in clear text; the reveal and any refusal are audited (kept on rollback)."""
    if not principal.allows(complaint):
        _denied(session, complaint, principal, ip, now, "out_of_scope")
        raise ComplaintNotFound(f"no complaint with id {complaint.id}")
    if not principal.can(Permission.PHONE_REVEAL):
        _denied(session, complaint, principal, ip, now, "role")
        raise Forbidden(f"the {principal.role.value} role may not reveal phone numbers")
    if not complaint.payer_phone_enc:
        raise NotFound("this complaint has no phone number")
    phone = cipher.decrypt(complaint.payer_phone_enc)
    audit_service.record_committed(  # durable before the number leaves, whatever the caller does next
        session=session,
        action=AuditAction.PHONE_REVEALED,
        actor=principal.username,
        ip=ip,
        target_type="complaint",
        target_id=complaint.id,
        details={"channel": complaint.channel, "external_id": complaint.external_id},
        at=now,
    )
    return phone


def _denied(
    session: Session, complaint: Complaint, principal: Principal, ip: str, now: datetime | None, reason: str
) -> None:
    audit_service.record_committed(
        session=session,
        action=AuditAction.COMPLAINT_DENIED,
        actor=principal.username,
        ip=ip,
        target_type="complaint",
        target_id=complaint.id,
        details={"attempted": AuditAction.PHONE_REVEALED.value, "reason": reason},
        at=now,
    )
