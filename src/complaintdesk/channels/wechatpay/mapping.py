"""Translate WeChat Pay complaint documents into the neutral shapes of ``channels.base``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from complaintdesk.channels import base
from complaintdesk.channels.wechatpay.errors import shape_error
from complaintdesk.channels.wechatpay.models import Complaint, HistoryEntry, MediaItem
from complaintdesk.errors import ChannelError

__all__ = [
    "ACTION_TYPE_LABELS",
    "KNOWN_OPERATE_TYPES",
    "KNOWN_PROBLEM_TYPES",
    "KNOWN_STATES",
    "OPERATE_TYPE_LABELS",
    "PROBLEM_TYPE_LABELS",
    "STATUS_LABELS",
    "actor_for",
    "parse_complaint",
    "parse_history_entry",
    "to_history_entry",
    "to_snapshot",
    "unified_status",
]

CHANNEL = "wechatpay"

STATUS_LABELS: dict[str, str] = {"PENDING": "待处理", "PROCESSING": "处理中", "PROCESSED": "已处理完成"}
PROBLEM_TYPE_LABELS: dict[str, str] = {
    "REFUND": "申请退款",
    "SERVICE_NOT_WORK": "服务权益未生效",
    "OTHERS": "其他",
}
OPERATE_TYPE_LABELS: dict[str, str] = {
    "USER_CREATE_COMPLAINT": "用户提交投诉",
    "USER_CONTINUE_COMPLAINT": "用户继续投诉",
    "USER_RESPONSE": "用户留言",
    "PLATFORM_RESPONSE": "平台留言",
    "MERCHANT_RESPONSE": "商户留言",
    "MERCHANT_CONFIRM_COMPLETE": "商户申请结单",
    "USER_CREATE_COMPLAINT_SYSTEM_MESSAGE": "用户提交投诉系统通知",
    "COMPLAINT_FULL_REFUNDED_SYSTEM_MESSAGE": "投诉单全额退款系统通知",
    "USER_CONTINUE_COMPLAINT_SYSTEM_MESSAGE": "用户继续投诉系统通知",
    "USER_REVOKE_COMPLAINT": "用户主动撤诉",
    "USER_COMFIRM_COMPLAINT": "用户确认投诉",
    "PLATFORM_HELP_APPLICATION": "平台问询",
    "USER_APPLY_PLATFORM_HELP": "用户申请协助",
    "MERCHANT_APPROVE_REFUND": "商户同意退款申请",
    "MERCHANT_REFUSE_RERUND": "商户拒绝退款申请",
    "USER_SUBMIT_SATISFACTION": "用户提交满意度调查结果",
    "SERVICE_ORDER_CANCEL": "服务订单已取消",
    "SERVICE_ORDER_COMPLETE": "服务订单已完成",
    "COMPLAINT_PARTIAL_REFUNDED_SYSTEM_MESSAGE": "投诉单部分退款系统通知",
    "COMPLAINT_REFUND_RECEIVED_SYSTEM_MESSAGE": "投诉单退款到账系统通知",
    "COMPLAINT_ENTRUSTED_REFUND_SYSTEM_MESSAGE": "投诉单受托退款系统通知",
    "USER_APPLY_PLATFORM_SERVICE": "用户申请平台协助",
    "USER_CANCEL_PLATFORM_SERVICE": "用户取消平台协助",
    "PLATFORM_SERVICE_FINISHED": "客服结束平台协助",
    "USER_CLICK_RESPONSE": "用户点击消息",
}
ACTION_TYPE_LABELS: dict[str, str] = {
    "CREATE_COMPLAINT": "用户提交投诉",
    "CONTINUE_COMPLAINT": "用户继续投诉",
    "USER_RESPONSE": "用户新留言",
    "RESPONSE_BY_PLATFORM": "平台新留言",
    "SELLER_REFUND": "收款方全额退款",
    "MERCHANT_RESPONSE": "商户新回复",
    "MERCHANT_CONFIRM_COMPLETE": "商户反馈处理完成",
    "MERCHANT_APPROVE_REFUND": "商户同意退款",
    "MERCHANT_REJECT_REFUND": "商户驳回退款",
    "REFUND_SUCCESS": "退款成功",
    "USER_APPLY_PLATFORM_SERVICE": "用户申请平台协助",
    "USER_APPLY_PLATFORM_SERIVCE": "用户申请平台协助",
    "USER_CANCEL_PLATFORM_SERVICE": "用户取消平台协助",
    "PLATFORM_SERVICE_FINISHED": "客服结束平台协助",
}

KNOWN_STATES: frozenset[str] = frozenset(STATUS_LABELS)
KNOWN_PROBLEM_TYPES: frozenset[str] = frozenset(PROBLEM_TYPE_LABELS)
KNOWN_OPERATE_TYPES: frozenset[str] = frozenset(OPERATE_TYPE_LABELS)

_STATUS = {
    "PENDING": base.UnifiedStatus.OPEN,
    "PROCESSING": base.UnifiedStatus.RESPONDED,
    "PROCESSED": base.UnifiedStatus.RESOLVED,
}
_SYSTEM_PREFIXES = ("SERVICE_ORDER_", "COMPLAINT_")

HistoryInput = HistoryEntry | base.HistoryEntry | dict[str, Any]


def parse_complaint(doc: Complaint | dict[str, Any]) -> Complaint:
    """Return ``doc`` as a Complaint; raise ``ChannelError`` when it has no usable ``complaint_id``."""
    if isinstance(doc, Complaint):
        return doc
    try:
        return Complaint.from_raw(doc)
    except ValidationError as exc:
        raise shape_error("complaint document", exc) from None


def parse_history_entry(doc: HistoryEntry | dict[str, Any]) -> HistoryEntry:
    """Return ``doc`` as a history entry; raise ``ChannelError`` when it has no ``log_id``."""
    if isinstance(doc, HistoryEntry):
        return doc
    try:
        return HistoryEntry.from_raw(doc)
    except ValidationError as exc:
        raise shape_error("negotiation-history entry", exc) from None


def unified_status(state: str, *, in_platform_service: bool | None) -> base.UnifiedStatus:
    """Map ``complaint_state`` (and platform assistance) to the unified status."""
    status = _STATUS.get(state, base.UnifiedStatus.UNKNOWN)
    if status is base.UnifiedStatus.RESPONDED and in_platform_service:
        return base.UnifiedStatus.IN_PLATFORM
    return status


def actor_for(operate_type: str) -> tuple[str, bool]:
    """Return (actor, known) for an ``operate_type``."""
    known = operate_type in KNOWN_OPERATE_TYPES
    if operate_type.endswith("_SYSTEM_MESSAGE") or operate_type.startswith(_SYSTEM_PREFIXES):
        return "system", known
    if operate_type.startswith("USER_"):
        return "user", known
    if operate_type.startswith("MERCHANT_"):
        return "merchant", known
    if operate_type.startswith("PLATFORM_") or operate_type == "RESPONSE_BY_PLATFORM":
        return "platform", known
    return "system", False


def _media_urls(items: Iterable[MediaItem], extra: Iterable[str] = ()) -> list[str]:
    """Flatten media lists into unique URLs, keeping order."""
    seen: dict[str, None] = dict.fromkeys(extra)
    for item in items:
        seen.update(dict.fromkeys(url for url in item.media_url if url))
    return [url for url in seen if url]


def _message_text(message: dict[str, Any] | None) -> str:
    """Return the text blocks of a rich ``normal_message``."""
    if not message:
        return ""
    parts: list[str] = []
    blocks = message.get("blocks")
    for block in blocks if isinstance(blocks, list) else []:
        text = block.get("text") if isinstance(block, dict) else None
        if isinstance(text, dict) and isinstance(text.get("text"), str):
            parts.append(text["text"])
    return "\n".join(parts)


def to_history_entry(doc: HistoryEntry | dict[str, Any]) -> base.HistoryEntry:
    """Translate one negotiation-history entry; it must carry ``log_id`` and an RFC3339 ``operate_time``."""
    entry = parse_history_entry(doc)
    if entry.operate_time is None:
        raise ChannelError(f"history entry {entry.log_id[:64]!r} has no usable operate_time", channel=CHANNEL)
    actor, known = actor_for(entry.operate_type)
    return base.HistoryEntry(
        external_id=entry.log_id,
        occurred_at=entry.operate_time,
        kind=entry.operate_type,
        actor=actor,
        actor_label=entry.operator,
        text=entry.operate_details or _message_text(entry.normal_message),
        media_urls=tuple(_media_urls(entry.complaint_media_list, entry.image_list)),
        known=known,
        raw=entry.raw or entry.model_dump(mode="json"),
    )


def _history(items: Sequence[HistoryInput]) -> list[base.HistoryEntry]:
    """Translate history inputs of any accepted form."""
    return [item if isinstance(item, base.HistoryEntry) else to_history_entry(item) for item in items]


def _phone(
    ciphertext: str | None, decrypt_phone: Callable[[str], str] | None, notes: list[str]
) -> str | None:
    """Decrypt ``payer_phone``; failures become None plus a note, never an exception or a log line."""
    if not ciphertext or decrypt_phone is None:
        return None
    try:
        return decrypt_phone(ciphertext)
    except Exception:
        notes.append("payer_phone:undecryptable")
        return None


class _LazyPhoneSnapshot(base.ComplaintSnapshot):
    """A snapshot whose ``payer_phone`` is decrypted when first read, not when mapped.

    The core reads the phone only to store a new or changed complaint, so a sync that finds the payload
    unchanged costs no RSA decryption. Reading ``unknown_values`` decrypts as well, so the
    ``payer_phone:undecryptable`` note is there whichever field is read first.
    """

    __slots__ = ("_ciphertext", "_decrypt", "_notes", "_phone")
    _ciphertext: str | None
    _decrypt: Callable[[str], str] | None
    _notes: list[str]
    _phone: str | None

    def defer_phone(self, ciphertext: str | None, decrypt_phone: Callable[[str], str] | None) -> None:
        """Keep the ciphertext; ``decrypt_phone`` runs at most once, on first read."""
        self._ciphertext, self._decrypt = ciphertext, decrypt_phone

    def _resolve(self) -> None:
        ciphertext, decrypt = self._ciphertext, self._decrypt
        if ciphertext is not None:
            self._ciphertext = self._decrypt = None
            self._phone = _phone(ciphertext, decrypt, self._notes)

    @property
    def payer_phone(self) -> str | None:
        """The plaintext phone (decrypted now if it was not yet); never log it."""
        self._resolve()
        return self._phone

    @payer_phone.setter
    def payer_phone(self, value: str | None) -> None:
        self._ciphertext, self._decrypt, self._phone = None, None, value

    @property
    def unknown_values(self) -> list[str]:
        """Enum values we did not recognise, and ``payer_phone:undecryptable`` when it applies."""
        self._resolve()
        return self._notes

    @unknown_values.setter
    def unknown_values(self, value: list[str]) -> None:
        self._notes = value


def to_snapshot(
    doc: Complaint | dict[str, Any],
    *,
    history: Sequence[HistoryInput] | None = None,
    decrypt_phone: Callable[[str], str] | None = None,
) -> base.ComplaintSnapshot:
    """Translate a complaint (detail or list item) into a ``ComplaintSnapshot``.

    The document needs a ``complaint_id`` and an RFC3339 ``complaint_time``; everything else is optional.
    ``payer_phone`` is decrypted with ``decrypt_phone`` only when the snapshot's phone is first read.
    """
    complaint = parse_complaint(doc)
    if complaint.complaint_time is None:
        raise ChannelError(
            f"complaint {complaint.complaint_id[:64]!r} has no usable complaint_time", channel=CHANNEL
        )
    notes: list[str] = []
    state = complaint.complaint_state
    status = unified_status(state, in_platform_service=complaint.in_platform_service)
    if status is base.UnifiedStatus.UNKNOWN:
        notes.append(f"complaint_state:{state}")
    if complaint.problem_type and complaint.problem_type not in KNOWN_PROBLEM_TYPES:
        notes.append(f"problem_type:{complaint.problem_type}")
    notes.extend(f"drift:{name}" for name in complaint.drift)
    entries = _history(history) if history is not None else None
    for entry in entries or ():
        if not entry.known:
            notes.append(f"operate_type:{entry.kind}")
    amounts = [order.amount for order in complaint.complaint_order_info if order.amount is not None]
    raw = dict(complaint.raw or complaint.model_dump(mode="json"))
    raw.pop("payer_phone", None)
    snapshot = _LazyPhoneSnapshot(
        channel=CHANNEL,
        external_id=complaint.complaint_id,
        merchant_id=complaint.complainted_mchid,
        raw_status=state,
        status=status,
        complained_at=complaint.complaint_time,
        detail=complaint.complaint_detail,
        problem_description=complaint.problem_description,
        problem_type=complaint.problem_type or "",
        amount_fen=sum(amounts) if amounts else None,
        refund_amount_fen=complaint.apply_refund_amount,
        orders=[
            base.OrderRef(transaction_id=o.transaction_id, out_trade_no=o.out_trade_no, amount_fen=o.amount)
            for o in complaint.complaint_order_info
        ],
        payer_openid=complaint.payer_openid,
        user_message_waiting=complaint.incoming_user_response,
        refund_requested=complaint.problem_type == "REFUND",
        immediate_service=bool(complaint.need_immediate_service),
        platform_assistance=bool(complaint.in_platform_service),
        fully_refunded=complaint.complaint_full_refunded,
        complaint_times=complaint.user_complaint_times or 1,
        media_urls=_media_urls(complaint.complaint_media_list),
        history=entries,
        unknown_values=list(dict.fromkeys(notes)),
        raw=raw,
    )
    snapshot.defer_phone(complaint.payer_phone, decrypt_phone)
    return snapshot
