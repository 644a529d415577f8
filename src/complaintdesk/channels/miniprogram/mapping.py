"""Translate ``complaintOrderDetail`` into the neutral shapes of ``channels.base``.

* status → :class:`UnifiedStatus` by :data:`UNIFIED_STATUS` (every code of the spec's table);
* needs-action (``raw["needs_action"]``) = the ``mp_action`` values :func:`.actions.allowed_mp_actions` gives;
* ``expireTime`` (deadline of the current status) → ``deadline_at`` and ``raw["deadline_at"]`` (ISO 8601);
* ``item`` → history entries; the API gives no node id, so :func:`item_key` derives one from type, time
  and text (never from the media URLs, which change on every fetch);
* ``returnBill`` stays in ``raw``; the phone number is taken out of ``raw`` (the core stores it encrypted).
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError

from complaintdesk.channels import base
from complaintdesk.channels.miniprogram.actions import allowed_mp_actions
from complaintdesk.channels.miniprogram.enums import (
    APPEAL_STATES,
    COMPLAINT_TYPES,
    ITEM_TYPES,
    RETURN_ORDER_STATUSES,
)
from complaintdesk.channels.miniprogram.errors import shape_error
from complaintdesk.channels.miniprogram.models import ComplaintDetail, Item, amount_fen, from_unix
from complaintdesk.errors import ChannelError

__all__ = [
    "ITEM_ACTORS",
    "UNIFIED_STATUS",
    "item_key",
    "parse_detail",
    "to_history",
    "to_snapshot",
    "unified_status",
]

CHANNEL = "miniprogram"
_U = base.UnifiedStatus
#: Every status of the spec's table. 202/308/309 wait for the user (RESPONDED: the ball is not with us);
#: 206 waits for the merchant's proof (OPEN); 312 ends in a platform refund (RESOLVED).
UNIFIED_STATUS: dict[int, base.UnifiedStatus] = {
    **dict.fromkeys((101, 103, 104, 105, 107, 109, 305, 307, 310), _U.IN_PLATFORM),
    102: _U.CLOSED,
    106: _U.IN_PLATFORM,
    108: _U.IN_PLATFORM,
    **dict.fromkeys((112, 115, 116, 205), _U.RESOLVED),
    201: _U.OPEN,
    202: _U.RESPONDED,
    203: _U.RESPONDED,
    204: _U.RESPONDED,
    206: _U.OPEN,
    207: _U.IN_PLATFORM,
    208: _U.IN_PLATFORM,
    209: _U.CLOSED,
    308: _U.RESPONDED,
    309: _U.RESPONDED,
    311: _U.IN_PLATFORM,
    312: _U.RESOLVED,
}
#: ``itemType`` → who acted.
ITEM_ACTORS: dict[int, str] = {
    **dict.fromkeys((1, 2, 7, 11, 12, 104), "user"),
    **dict.fromkeys((3, 8, 109, 110), "merchant"),
    **dict.fromkeys((13, 14, 16, 18, 26, 30, 31, 32, 33, 36, 37, 118), "platform"),
    **dict.fromkeys((101, 107, 108, 111, 112, 113), "system"),
}
_USER_MESSAGES = frozenset({2, 7})
_REFUND_PROOF_STATUSES = frozenset({206, 308, 309})
_PERSONAL = ("phoneNumber", "phone_number")


def parse_detail(doc: ComplaintDetail | dict[str, Any]) -> ComplaintDetail:
    """Return ``doc`` as a ComplaintDetail; raise ``ChannelError`` when it has no usable complaint id."""
    if isinstance(doc, ComplaintDetail):
        return doc
    try:
        return ComplaintDetail.from_raw(doc)
    except ValidationError as exc:
        raise shape_error("complaint detail", exc) from None


def unified_status(status: int | None) -> base.UnifiedStatus:
    """Map a ``status`` code (unknown → UNKNOWN)."""
    return UNIFIED_STATUS.get(status, _U.UNKNOWN) if status is not None else _U.UNKNOWN


def _without_personal(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {key: _without_personal(value) for key, value in doc.items() if key not in _PERSONAL}
    if isinstance(doc, list):
        return [_without_personal(value) for value in doc]
    return doc


def item_key(item_type: int | None, time: int | None, content: str) -> str:
    """The identity of a node from its stable fields only: ``<itemType>@<time>:<digest of content>``.

    Media URLs are re-signed on every fetch and ``nickName``/``blameResult`` may change, so none of them
    is part of the identity (they are refreshed on the stored entry instead).
    """
    digest = hashlib.sha256(content.strip().encode()).hexdigest()[:12]
    return f"{item_type if item_type is not None else 'x'}@{time or 0}:{digest}"


def _item_id(item: Item, seen: dict[str, int]) -> str:
    """A node's key; the n-th identical node (same type, time and text) gets ``#n``."""
    key = item_key(item.item_type, item.time, item.content)
    seen[key] = seen.get(key, 0) + 1
    return key if seen[key] == 1 else f"{key}#{seen[key]}"


def to_history(
    detail: ComplaintDetail | dict[str, Any], *, notes: list[str] | None = None
) -> list[base.HistoryEntry]:
    """Translate ``item`` into history entries, oldest first (a node without time takes the complaint's)."""
    parsed = parse_detail(detail)
    fallback = from_unix(parsed.complaint_order.create_time)
    seen: dict[str, int] = {}
    entries: list[base.HistoryEntry] = []
    for item in parsed.item:
        occurred = from_unix(item.time) or fallback
        if occurred is None:
            continue
        code = item.item_type
        known = code is not None and code in ITEM_TYPES
        if not known and notes is not None:
            notes.append(f"itemType:{code}")
        if item.time is None and notes is not None:
            notes.append("item.time:missing")
        raw = _without_personal(item.raw or item.model_dump(mode="json", by_alias=True))
        entries.append(
            base.HistoryEntry(
                external_id=_item_id(item, seen),
                occurred_at=occurred,
                kind=str(code) if code is not None else "",
                actor=ITEM_ACTORS.get(code, "system") if code is not None else "system",
                actor_label=item.nick_name,
                text=item.content,
                media_urls=tuple(dict.fromkeys(url for url in item.media_id_list if url)),
                known=known,
                raw=raw if isinstance(raw, dict) else {},
            )
        )
    entries.sort(key=lambda entry: entry.occurred_at)
    return entries


def _user_message_waiting(entries: list[base.HistoryEntry]) -> bool:
    """Whether the last user-or-merchant node is a user's message or evidence."""
    for entry in reversed(entries):
        if entry.actor in ("user", "merchant"):
            return entry.actor == "user" and entry.kind in {str(code) for code in _USER_MESSAGES}
    return False


def to_snapshot(
    doc: ComplaintDetail | dict[str, Any], *, appid: str, with_history: bool = True
) -> base.ComplaintSnapshot:
    """Translate a detail answer into a ``ComplaintSnapshot`` (``merchant_id`` is the appid)."""
    detail = parse_detail(doc)
    order = detail.complaint_order
    complained_at = from_unix(order.create_time)
    if complained_at is None:
        raise ChannelError(
            f"complaint {order.complaint_order_id[:64]!r} has no usable createTime", channel=CHANNEL
        )
    notes: list[str] = []
    status = unified_status(order.status)
    if status is _U.UNKNOWN:
        notes.append(f"status:{order.status}")
    for name, table, value in (
        ("type", COMPLAINT_TYPES, order.type),
        ("appealState", APPEAL_STATES, order.appeal_state),
        (
            "returnBill.orderStatus",
            RETURN_ORDER_STATUSES,
            detail.return_bill.order_status if detail.return_bill else None,
        ),
    ):
        if value is not None and value not in table:
            notes.append(f"{name}:{value}")
    notes.extend(f"drift:{name}" for name in detail.drift)
    entries = to_history(detail, notes=notes)
    deadline = from_unix(order.expire_time)
    raw: dict[str, Any] = _without_personal(detail.raw or detail.model_dump(mode="json", by_alias=True))
    for envelope in ("errcode", "errmsg"):
        raw.pop(envelope, None)
    raw["appid"] = appid
    raw["deadline_at"] = deadline.isoformat() if deadline else None
    facts = base.ComplaintFacts(raw_status=str(order.status) if order.status is not None else "", raw=raw)
    raw["needs_action"] = sorted(allowed_mp_actions(facts))
    amount = amount_fen(order.total_cost)
    orders = (
        [base.OrderRef(transaction_id=order.order_id, out_trade_no=order.out_trade_no, amount_fen=amount)]
        if order.order_id or order.out_trade_no
        else []
    )
    type_label = COMPLAINT_TYPES.get(order.type) if order.type is not None else None
    return base.ComplaintSnapshot(
        channel=CHANNEL,
        external_id=order.complaint_order_id,
        merchant_id=appid,
        raw_status=facts.raw_status,
        status=status,
        complained_at=complained_at,
        detail=order.customer_material.content,
        problem_description=type_label.zh if type_label else "",
        problem_type=str(order.type) if order.type is not None else "",
        amount_fen=amount,
        orders=orders,
        payer_phone=order.phone_number or None,
        payer_openid=order.openid or None,
        user_message_waiting=_user_message_waiting(entries),
        refund_requested=order.status in _REFUND_PROOF_STATUSES,
        platform_assistance=status is _U.IN_PLATFORM or any(entry.kind == "11" for entry in entries),
        media_urls=list(dict.fromkeys(url for url in order.customer_material.media_id_list if url)),
        signed_media_links=True,  # CDN links re-signed on every read
        deadline_at=deadline,
        history=entries if with_history else None,
        unknown_values=list(dict.fromkeys(notes)),
        raw=raw,
    )
