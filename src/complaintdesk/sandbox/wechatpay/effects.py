"""What merchant actions do to the simulator's state (used by the write API, scenarios and tests).

Decisions (see the module docstring of ``actions`` for the HTTP side):

* replies/immediate replies to a PROCESSED complaint, a second ``complete``, a refund decision on a
  non-REFUND complaint, on a PROCESSED one or after a decision was made raise ``InvalidState``;
* WeChat Pay does not notify a merchant about its own actions; the one notification caused by a merchant
  action is ``REFUND_SUCCESS`` when an approved refund arrives;
* an approved refund arrives ``refund_delay`` seconds (state clock) later when ``auto_refund`` is on,
  immediately for a delay of 0, otherwise when a test calls ``refund_arrives``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from complaintdesk.sandbox.wechatpay.model import Complaint, ComplaintState, new_media_id

if TYPE_CHECKING:
    from complaintdesk.sandbox.wechatpay.core import StateCore

MERCHANT, SYSTEM = "商户", "系统"
APPROVE, REJECT = "APPROVE", "REJECT"


class InvalidState(ValueError):
    """The action is not allowed in the complaint's current state."""


def _open(c: Complaint, what: str) -> None:
    if c.state == ComplaintState.PROCESSED:
        raise InvalidState(f"投诉单已处理完成，不能{what}")


def publish(state: StateCore, c: Complaint, upload_ids: Sequence[str]) -> list[str]:
    """Copy uploaded images into the complaint under fresh downloadable ids (the uploads stay private)."""
    published = []
    for upload_id in upload_ids:
        upload = state.media.upload(upload_id)
        if upload is None:
            raise ValueError(f"unknown uploaded media id {upload_id!r}")
        media_id = new_media_id(state.api_rng)
        while state.media.known(media_id):
            media_id = new_media_id(state.api_rng)
        state.media.register(media_id, c.complaint_id, (upload.content, upload.content_type))
        published.append(media_id)
    return published


def reply(
    state: StateCore,
    complaint_id: str,
    text: str | None,
    *,
    at: datetime | None = None,
    uploads: Sequence[str] = (),
    normal_message: dict[str, Any] | None = None,
    via_api: bool = False,
) -> str:
    """PENDING -> PROCESSING, user response answered, a ``MERCHANT_RESPONSE`` entry; returns its log_id."""
    c = state.get(complaint_id)
    _open(c, "回复")
    if c.state == ComplaintState.PENDING:
        c.state = ComplaintState.PROCESSING
    c.incoming_user_response = False
    media = publish(state, c, uploads)
    extra = {"normal_message": normal_message} if normal_message is not None else None
    entry = state.record(
        c, MERCHANT, "MERCHANT_RESPONSE", text, at, "OPERATION_IMAGE", media, extra, via_api=via_api
    )
    return entry.log_id


def immediate_reply(
    state: StateCore,
    complaint_id: str,
    message: dict[str, Any],
    idempotent_id: str,
    *,
    text: str | None = None,
    uploads: Sequence[str] = (),
    via_api: bool = False,
) -> tuple[str, bool]:
    """Reply with a rich message once per ``idempotent_id``; returns (log_id, applied now)."""
    key = (complaint_id, idempotent_id)
    if key in state.idempotent_replies:
        return state.idempotent_replies[key], False
    c = state.get(complaint_id)
    if not c.need_immediate_service:
        raise InvalidState("该投诉单不需要即时服务，请使用回复用户接口")
    log_id = reply(state, complaint_id, text, uploads=uploads, normal_message=message, via_api=via_api)
    state.idempotent_replies[key] = log_id
    return log_id, True


def complete(
    state: StateCore, complaint_id: str, *, at: datetime | None = None, via_api: bool = False
) -> str:
    """-> PROCESSED with a ``MERCHANT_CONFIRM_COMPLETE`` entry; no notification."""
    c = state.get(complaint_id)
    _open(c, "重复反馈处理完成")
    c.state = ComplaintState.PROCESSED
    return state.record(
        c, MERCHANT, "MERCHANT_CONFIRM_COMPLETE", "商户已处理完成", at, via_api=via_api
    ).log_id


def _decidable(c: Complaint) -> None:
    if c.problem_type != "REFUND":
        raise InvalidState("该投诉单不是申请退款单，不能更新退款审批结果")
    _open(c, "更新退款审批结果")
    if c.refund_decision is not None:
        raise InvalidState("该投诉单已提交过退款审批结果")


def approve_refund(
    state: StateCore,
    complaint_id: str,
    *,
    launch_refund_day: int | None = None,
    at: datetime | None = None,
    via_api: bool = False,
) -> str:
    """``MERCHANT_APPROVE_REFUND``; the complaint stays open until the refund arrives."""
    c = state.get(complaint_id)
    _decidable(c)
    c.refund_decision = APPROVE
    days = f"，预计{launch_refund_day}个工作日内发起退款" if launch_refund_day else ""
    entry = state.record(c, MERCHANT, "MERCHANT_APPROVE_REFUND", f"商户同意退款{days}", at, via_api=via_api)
    if state.auto_refund:
        if state.refund_delay <= 0:
            refund_arrives(state, complaint_id)
        else:
            state.refunds_due[complaint_id] = state.now() + timedelta(seconds=state.refund_delay)
    return entry.log_id


def reject_refund(
    state: StateCore,
    complaint_id: str,
    reason: str,
    *,
    uploads: Sequence[str] = (),
    at: datetime | None = None,
    via_api: bool = False,
) -> str:
    """``MERCHANT_REFUSE_RERUND`` (sic) with the reason; the complaint becomes PROCESSED."""
    c = state.get(complaint_id)
    _decidable(c)
    c.refund_decision = REJECT
    media = publish(state, c, uploads)
    c.state = ComplaintState.PROCESSED
    entry = state.record(
        c, MERCHANT, "MERCHANT_REFUSE_RERUND", reason, at, "OPERATION_IMAGE", media, via_api=via_api
    )
    return entry.log_id


def refund_arrives(state: StateCore, complaint_id: str, *, at: datetime | None = None) -> None:
    """The approved refund reached the user: fully refunded, PROCESSED, ``REFUND_SUCCESS`` queued."""
    c = state.get(complaint_id)
    if c.refund_decision != APPROVE or c.refund_received:
        raise InvalidState(f"complaint {complaint_id} has no approved refund waiting")
    state.refunds_due.pop(complaint_id, None)
    c.refund_received = True
    c.full_refunded = True
    c.state = ComplaintState.PROCESSED
    state.record(c, SYSTEM, "COMPLAINT_REFUND_RECEIVED_SYSTEM_MESSAGE", "退款已到账", at)
    state.enqueue(c, "REFUND_SUCCESS", True)


def run_scheduled(state: StateCore) -> int:
    """Let every refund whose arrival time has come arrive; returns how many did."""
    now = state.now()
    due = [cid for cid, when in state.refunds_due.items() if when <= now]
    for complaint_id in due:
        refund_arrives(state, complaint_id)
    return len(due)


def merchant_actions(state: StateCore, complaint_id: str, *, api_only: bool = False) -> list[dict[str, Any]]:
    """History documents written by the merchant (optionally only those created through the API)."""
    return [
        e.document()
        for e in state.get(complaint_id).history
        if e.operator == MERCHANT and (e.via_api or not api_only)
    ]
