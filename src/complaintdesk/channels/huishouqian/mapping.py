"""Translate Huishouqian ``result`` rows into the neutral shapes of ``channels.base``.

Media references: a history image can only be downloaded with its complaint id and media type, so its
URL becomes ``hsq:<complaintId>:<mediaType>:<mediaUrl>`` (id and type percent-encoded, the upstream URL
verbatim); :func:`parse_media_ref` reads it back for ``download_image``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote

from pydantic import ValidationError

from complaintdesk.channels import base
from complaintdesk.channels.huishouqian.models import ComplaintRow, HistoryRow
from complaintdesk.channels.wechatpay.mapping import OPERATE_TYPE_LABELS, actor_for
from complaintdesk.errors import ChannelError

__all__ = [
    "ACTION_TYPE_LABELS",
    "MEDIA_REF_PREFIX",
    "OPERATE_TYPE_LABELS",
    "STATUS_LABELS",
    "media_ref",
    "parse_media_ref",
    "to_history_entry",
    "to_snapshot",
    "unified_status",
]

CHANNEL = "huishouqian"
MEDIA_REF_PREFIX = "hsq:"
STATUS_LABELS: dict[str, str] = {"PENDING": "待处理", "PROCESSING": "处理中", "PROCESSED": "已处理完成"}
#: Notification ``actionType`` values (they mirror WeChat Pay ``action_type``).
ACTION_TYPE_LABELS: dict[str, str] = {
    "CREATE_COMPLAINT": "用户提交投诉",
    "CONTINUE_COMPLAINT": "用户继续投诉",
    "USER_RESPONSE": "用户新留言",
    "RESPONSE_BY_PLATFORM": "平台新留言",
    "SELLER_REFUND": "收款方全额退款",
    "MERCHANT_RESPONSE": "商户新回复",
    "MERCHANT_CONFIRM_COMPLETE": "商户反馈处理完成",
}
_STATUS = {
    "PENDING": base.UnifiedStatus.OPEN,
    "PROCESSING": base.UnifiedStatus.RESPONDED,
    "PROCESSED": base.UnifiedStatus.RESOLVED,
}


def unified_status(state: str) -> base.UnifiedStatus:
    """Map ``complaintState`` to the unified status (unknown values → UNKNOWN)."""
    return _STATUS.get(state, base.UnifiedStatus.UNKNOWN)


def media_ref(complaint_id: str, media_type: str, media_url: str) -> str:
    """Build the ``hsq:`` reference of one complaint image."""
    return f"{MEDIA_REF_PREFIX}{quote(complaint_id, safe='')}:{quote(media_type, safe='')}:{media_url}"


def parse_media_ref(ref: str) -> tuple[str, str, str]:
    """Return (complaintId, mediaType, mediaUrl) of an ``hsq:`` reference; ``ChannelError`` otherwise."""
    parts = ref.split(":", 3) if ref.startswith(MEDIA_REF_PREFIX) else []
    if len(parts) != 4 or not parts[1] or not parts[3]:
        raise ChannelError(
            "not a Huishouqian media reference (hsq:<complaintId>:<mediaType>:<mediaUrl>)", channel=CHANNEL
        )
    return unquote(parts[1]), unquote(parts[2]), parts[3]


def _parse(model: type[ComplaintRow] | type[HistoryRow], doc: Any, what: str) -> Any:
    if isinstance(doc, model):
        return doc
    try:
        return model.from_raw(doc)
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['type']}"
            for err in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise ChannelError(f"{what} does not match the protocol ({where})", channel=CHANNEL) from None


def to_history_entry(
    doc: HistoryRow | dict[str, Any], *, complaint_id: str, media_type: str = "OPERATION_IMAGE"
) -> base.HistoryEntry:
    """Translate one history row; it needs ``logId`` and a readable ``operateTime``."""
    row: HistoryRow = _parse(HistoryRow, doc, "history row")
    if row.operate_time is None:
        raise ChannelError(f"history row {row.log_id[:64]!r} has no usable operateTime", channel=CHANNEL)
    actor, known = actor_for(row.operate_type)
    urls = [
        media_ref(complaint_id, image.media_type or media_type, image.media_url) for image in row.image_list
    ]
    return base.HistoryEntry(
        external_id=row.log_id,
        occurred_at=row.operate_time,
        kind=row.operate_type,
        actor=actor,
        actor_label=row.operator,
        text=row.operate_details,
        media_urls=tuple(dict.fromkeys(urls)),
        known=known,
        raw=row.raw or row.model_dump(mode="json", by_alias=True),
    )


def to_snapshot(
    doc: ComplaintRow | dict[str, Any],
    *,
    history: Sequence[HistoryRow | base.HistoryEntry | dict[str, Any]] | None = None,
    default_merchant_no: str = "",
    media_type: str = "OPERATION_IMAGE",
) -> base.ComplaintSnapshot:
    """Translate a ``COMPLAINT_QUERY`` row; ``merchant_id`` is the row's ``merchantNo`` (routing)."""
    row: ComplaintRow = _parse(ComplaintRow, doc, "complaint row")
    if row.complaint_time is None:
        raise ChannelError(
            f"complaint {row.complaint_id[:64]!r} has no usable complaintTime", channel=CHANNEL
        )
    notes: list[str] = []
    status = unified_status(row.complaint_state)
    if status is base.UnifiedStatus.UNKNOWN:
        notes.append(f"complaintState:{row.complaint_state}")
    notes.extend(f"drift:{name}" for name in row.drift)
    entries: list[base.HistoryEntry] | None = None
    if history is not None:
        entries = [
            item
            if isinstance(item, base.HistoryEntry)
            else to_history_entry(item, complaint_id=row.complaint_id, media_type=media_type)
            for item in history
        ]
        notes.extend(f"operateType:{entry.kind}" for entry in entries if not entry.known)
    raw = dict(row.raw or row.model_dump(mode="json", by_alias=True))
    raw.pop("payerPhone", None)
    orders = []
    if row.merchant_trade_no:
        orders.append(
            base.OrderRef(transaction_id="", out_trade_no=row.merchant_trade_no, amount_fen=row.amount)
        )
    return base.ComplaintSnapshot(
        channel=CHANNEL,
        external_id=row.complaint_id,
        merchant_id=row.merchant_no or default_merchant_no,
        raw_status=row.complaint_state,
        status=status,
        complained_at=row.complaint_time,
        detail=row.complaint_detail,
        problem_description=row.problem_description,
        amount_fen=row.amount,
        orders=orders,
        payer_phone=row.payer_phone or None,
        payer_openid=row.payer_openid or None,
        user_message_waiting=row.incoming_user_response,
        fully_refunded=row.complaint_full_refunded,
        complaint_times=row.user_complaint_times or 1,
        history=entries,
        unknown_values=list(dict.fromkeys(notes)),
        raw=raw,
    )
