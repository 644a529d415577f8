"""Request, claim and settle outbound actions; one open action at a time per complaint.

Claims (fence + lease, who may send) live in ``outbox.claims``; ``settle`` here records an attempt's
outcome only for the current claim's holder.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from complaintdesk.channels.base import ActionChannel, ActionKind, ComplaintFacts
from complaintdesk.core.alerts import hooks as alert_hooks
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import service as media_service
from complaintdesk.core.media.models import MediaFile
from complaintdesk.core.media.storage import MediaStorage
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction, UploadedMedia
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.dbutil import execute_insert_ignore
from complaintdesk.errors import ActionRefused, ConversationMoved, NotFound
from complaintdesk.jobs import queue


def facts_for(complaint: Complaint, session: Session | None = None) -> ComplaintFacts:
    """The facts a channel's status guard needs (with the history's entry kinds when a session is given)."""
    raw = dict(complaint.raw)
    if session is not None:
        kinds = session.scalars(
            select(TimelineEntry.kind).where(
                TimelineEntry.complaint_id == complaint.id, TimelineEntry.source == "history"
            )
        )
        raw["history"] = [{"kind": kind} for kind in kinds]
    return ComplaintFacts(
        raw_status=complaint.raw_status,
        problem_type=complaint.problem_type,
        immediate_service=complaint.immediate_service,
        fully_refunded=complaint.fully_refunded,
        raw=raw,
    )


def summary(kind: str, params: dict[str, Any]) -> str:
    """Timeline text for an action."""
    if kind == ActionKind.REPLY:
        return str(params.get("content", ""))
    remark = f"；备注：{params['remark']}" if params.get("remark") else ""
    if kind == ActionKind.REFUND_REJECT:
        return f"拒绝退款：{params.get('reject_reason', '')}{remark}"
    if kind == ActionKind.REFUND_APPROVE:
        days = f"（{params['launch_refund_day']} 个工作日内发起）" if "launch_refund_day" in params else ""
        return f"同意退款{days}{remark}"
    if kind == ActionKind.COMPLETE:
        return "反馈处理完成"
    texts = [b.get("text", {}).get("text", "") for b in params.get("blocks") or [] if isinstance(b, dict)]
    return " ".join(t for t in texts if t) or "即时服务回复"


def request_action(
    *,
    session: Session,
    complaint: Complaint,
    kind: ActionKind,
    params: dict[str, Any],
    channel: ActionChannel,
    storage: MediaStorage,
    requested_by: str,
    now: datetime,
    seen_version: int | None = None,
) -> OutboundAction:
    """Validate an action and write it with its ``pending`` timeline entry (the caller commits).

    ``seen_version``: the conversation version the operator saw (``timeline.conversation_version``);
    when a reply or a consumer message arrived since, ``ConversationMoved`` is raised and nothing is
    written. The complaint row is locked first, so of two operators answering the same version at
    once, the second is refused.
    """
    if seen_version is not None:
        session.execute(select(Complaint.id).where(Complaint.id == complaint.id).with_for_update())
        current = timeline_service.conversation_version(session=session, complaint_id=complaint.id)
        if current != seen_version:
            raise ConversationMoved(
                "a reply or a message from the user arrived since you opened this complaint: "
                "read it, then send again to confirm",
                current_version=current,
            )
    normalised = channel.validate(kind, params, facts_for(complaint, session))
    refs = channel.image_refs(kind, normalised)
    for ref in refs:
        record = _usable_image(session, complaint, ref)
        channel.check_image(media_service.read_bytes(storage, ref), f"{ref}{_suffix(record.content_type)}")
    if kind in (ActionKind.COMPLETE, ActionKind.REFUND_APPROVE, ActionKind.REFUND_REJECT):
        waiting = session.scalar(
            select(func.count())
            .select_from(OutboundAction)
            .where(
                OutboundAction.complaint_id == complaint.id,
                OutboundAction.kind.in_(_exclusive_with(kind)),
                OutboundAction.status.in_(ActionStatus.OPEN),
            )
        )
        if waiting:
            raise ActionRefused("the same decision is already being sent for this complaint", field="kind")
    last = session.scalar(
        select(func.max(OutboundAction.seq)).where(OutboundAction.complaint_id == complaint.id)
    )
    action = OutboundAction(
        id=str(uuid.uuid4()),
        complaint_id=complaint.id,
        seq=(last or 0) + 1,
        account_id=complaint.account_id,
        channel=complaint.channel,
        kind=kind.value,
        params=normalised,
        image_refs=refs,
        status=ActionStatus.PENDING,
        requested_by=requested_by[:128],
        created_at=now,
        updated_at=now,
    )
    session.add(action)
    try:
        session.flush()
    except IntegrityError as exc:  # the same ``seq``: another action of this complaint, written just now
        raise ConversationMoved(
            "another action on this complaint was requested at the same moment: reload it and send again",
            current_version=None,
        ) from exc
    queue.defer(session, queue.dispatch_complaint(complaint.id))
    audit_service.record(
        session=session,
        action=audit_service.AuditAction.ACTION_REQUESTED,
        actor=audit_service.actor_of(requested_by),
        target_type="complaint",
        target_id=complaint.id,
        details={
            "action_id": action.id,
            "kind": kind.value,
            "summary": summary(kind, normalised)[:500],
            **({"remark": str(normalised["remark"])} if normalised.get("remark") else {}),
        },
        at=now,
    )
    timeline_service.add_event(
        session=session,
        complaint_id=complaint.id,
        dedupe_key=f"a:{action.id}",
        kind=kind.value,
        occurred_at=now,
        text=summary(kind, normalised),
        actor="merchant",
        actor_label=requested_by,  # our operator: kept when the upstream's echo is linked to this entry
        source="action",
        raw={"action_id": action.id, "status": ActionStatus.PENDING, "images": refs},
    )
    return action


def _usable_image(session: Session, complaint: Complaint, ref: str) -> MediaFile:
    """An image the action may carry: this merchant's evidence, or uploaded for its account.

    Everything else is refused with one message, whether the file is archived for another merchant
    or not at all, so a refusal tells nothing about other merchants' archives.
    """
    refusal = ActionRefused(
        f"image {ref[:12]}… is not in this merchant's archive; upload it first", field="images"
    )
    if not media_service.usable_for(session=session, sha256=ref, complaint=complaint):
        raise refusal
    try:
        return media_service.get_file(session=session, sha256=ref)
    except NotFound:
        raise refusal from None


def _exclusive_with(kind: ActionKind) -> list[str]:
    if kind == ActionKind.COMPLETE:
        return [ActionKind.COMPLETE.value]
    return [ActionKind.REFUND_APPROVE.value, ActionKind.REFUND_REJECT.value]


def _suffix(content_type: str) -> str:
    return {"image/jpeg": ".jpg", "image/png": ".png", "image/bmp": ".bmp"}.get(content_type, ".bin")


def settle(
    *,
    session: Session,
    action_id: str,
    status: str,
    now: datetime,
    fence: int | None = None,
    retry_in: float | None = None,
    error_code: str = "",
    error_message: str = "",
    upstream_ref: str | None = None,
) -> OutboundAction | None:
    """Record the outcome of one attempt and mirror it on the action's timeline entry.

    With ``fence``, only the current claim's holder may settle: a sender that lost its claim gets None
    and changes nothing (the sender that took over owns the outcome). A retry defers the next send.
    """
    action = session.get(OutboundAction, action_id, with_for_update=fence is not None)
    if action is None:
        raise NotFound(f"no action {action_id}")
    if fence is not None and (action.fence != fence or action.status != ActionStatus.SENDING):
        return None
    action.status = status
    action.updated_at = now
    action.claimed_at = None
    action.lease_until = None
    action.next_attempt_at = now + timedelta(seconds=retry_in) if retry_in is not None else None
    action.error_code = error_code[:64]
    action.error_message = error_message[:2000]
    if upstream_ref:
        action.upstream_ref = upstream_ref
    if status == ActionStatus.SENT:
        action.sent_at = now
    entry = session.scalar(
        select(TimelineEntry).where(
            TimelineEntry.complaint_id == action.complaint_id, TimelineEntry.dedupe_key == f"a:{action.id}"
        )
    )
    if entry is not None:
        entry.raw = {
            **entry.raw,
            "status": status,
            "error_code": error_code,
            "error_message": error_message[:500],
        }
    session.flush()
    if status in (ActionStatus.FAILED, ActionStatus.SENT):
        alert_hooks.on_action_settled(
            session=session,
            complaint_id=action.complaint_id,
            action_id=action.id,
            kind=action.kind,
            sent=status == ActionStatus.SENT,
            code=error_code,
            message=error_message,
            now=now,
        )
    queue.defer(session, queue.dispatch_complaint(action.complaint_id, at=action.next_attempt_at))
    return action


def get(*, session: Session, action_id: str) -> OutboundAction:
    """An action by id, or NotFound."""
    action = session.get(OutboundAction, action_id)
    if action is None:
        raise NotFound(f"no action {action_id}")
    return action


def for_complaint(*, session: Session, complaint_id: int) -> list[OutboundAction]:
    """Every action of a complaint, oldest first."""
    return list(
        session.scalars(
            select(OutboundAction)
            .where(OutboundAction.complaint_id == complaint_id)
            .order_by(OutboundAction.created_at)
        )
    )


def uploaded_media_id(
    *,
    session: Session,
    account_id: int,
    sha256: str,
    now: datetime | None = None,
    ttl_seconds: float | None = None,
) -> str | None:
    """The upstream media id already uploaded for this image and account, if any and still valid."""
    query = select(UploadedMedia.media_id).where(
        UploadedMedia.account_id == account_id, UploadedMedia.sha256 == sha256
    )
    if now is not None and ttl_seconds is not None:
        query = query.where(UploadedMedia.uploaded_at > now - timedelta(seconds=ttl_seconds))
    return session.scalar(query)


def forget_uploads(*, session: Session, account_id: int, sha256s: list[str]) -> None:
    """Drop cached media ids (the upstream said they expired): the next attempt uploads again."""
    session.execute(
        delete(UploadedMedia).where(UploadedMedia.account_id == account_id, UploadedMedia.sha256.in_(sha256s))
    )


def remember_upload(*, session: Session, account_id: int, sha256: str, media_id: str, now: datetime) -> None:
    """Keep an upstream media id for reuse by later actions (replacing an expired one)."""
    session.execute(
        delete(UploadedMedia).where(UploadedMedia.account_id == account_id, UploadedMedia.sha256 == sha256)
    )
    execute_insert_ignore(
        session,
        UploadedMedia.__table__,  # type: ignore[arg-type]
        ("account_id", "sha256"),
        [{"account_id": account_id, "sha256": sha256, "media_id": media_id, "uploaded_at": now}],
    )
