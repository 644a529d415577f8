"""Records the Mini Program simulator keeps, and how they render as the detail API's JSON."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from complaintdesk.sandbox.miniprogram.codes import AppealState, ItemType, Status

UrlFor = Callable[[str], str]  # image key -> expiring CDN URL


def unix(when: datetime | None) -> int:
    """Unix seconds (0 for None)."""
    return int(when.timestamp()) if when is not None else 0


@dataclass
class Item:
    """One history node (``item[]``); ``media`` holds image keys rendered as CDN URLs."""

    item_type: int
    time: datetime
    content: str = ""
    media: list[str] = field(default_factory=list)
    phone_number: str | None = None
    nick_name: str | None = None
    blame_result: int | None = None
    appeal_item_type: int = AppealState.NONE

    def document(self, url_for: UrlFor) -> dict[str, Any]:
        """The ``item`` element (``phoneNumber`` as a number, as documented)."""
        doc: dict[str, Any] = {
            "itemType": int(self.item_type),
            "time": unix(self.time),
            "content": self.content,
            "mediaIdList": [url_for(key) for key in self.media],
        }
        if self.phone_number is not None:
            doc["phoneNumber"] = int(self.phone_number)
        if self.nick_name is not None:
            doc["nickName"] = self.nick_name
        if self.item_type in (ItemType.MERCHANT_LIABLE, ItemType.MERCHANT_LIABLE_RETURN):
            doc["blameResult"] = self.blame_result if self.blame_result is not None else 0
        doc["appealItemType"] = int(self.appeal_item_type)
        return doc


@dataclass
class ReturnBill:
    """The waybill of goods the user sends back (``returnBill``)."""

    return_id: int
    waybill_id: str
    delivery_name: str
    order_status: int

    def document(self) -> dict[str, Any]:
        """The ``returnBill`` object."""
        return {
            "returnId": self.return_id,
            "waybillId": self.waybill_id,
            "deliveryName": self.delivery_name,
            "orderStatus": int(self.order_status),
        }


@dataclass
class Complaint:
    """A transaction complaint as the platform holds it."""

    complaint_order_id: str
    appid: str
    open_id: str
    create_time: datetime
    phone_number: str
    type: int
    content: str
    media: list[str]
    order_id: str
    out_trade_no: str
    product_name: str
    pay_time: datetime
    total_cost: int  # fen
    nick_name: str
    head_img_url: str
    status: int = Status.PENDING_MERCHANT
    expire_time: datetime | None = None
    appeal_state: int = AppealState.NONE
    appeal_deadline: datetime | None = None
    items: list[Item] = field(default_factory=list)
    return_bill: ReturnBill | None = None
    merchant_log: list[dict[str, Any]] = field(default_factory=list)

    def document(self, url_for: UrlFor) -> dict[str, Any]:
        """The whole detail response (``errcode`` 0), as ``complaintOrderDetail`` returns it."""
        order: dict[str, Any] = {
            "complaintOrderId": self.complaint_order_id,
            "openid": self.open_id,
            "createTime": unix(self.create_time),
            "phoneNumber": int(self.phone_number),
            "type": self.type,
            "status": int(self.status),
            "customerMaterial": {"content": self.content, "mediaIdList": [url_for(k) for k in self.media]},
            "orderId": self.order_id,
            "outTradeNo": self.out_trade_no,
            "productName": self.product_name,
            "payTime": unix(self.pay_time),
            "totalCost": str(self.total_cost),
            "expireTime": unix(self.expire_time),
            "headImgUrl": self.head_img_url,
            "nickName": self.nick_name,
            "appealState": int(self.appeal_state),
        }
        doc: dict[str, Any] = {
            "errcode": 0,
            "errmsg": "ok",
            "complaintOrder": order,
            "item": [item.document(url_for) for item in self.items],
        }
        if self.return_bill is not None:
            doc["returnBill"] = self.return_bill.document()
        return doc


@dataclass
class Push:
    """One message the platform decided to push (or drop), and what happened to it."""

    id: int
    appid: str
    event: str
    create_time: int  # ``CreateTime``: the same on every attempt
    from_user: str
    info: dict[str, Any]  # the event's own fields (``BussiCallBackInfo`` for complaints)
    history: list[dict[str, Any]] = field(default_factory=list)
    complaint_order_id: str | None = None
    status: int | None = None
    duplicate: bool = False  # delivered a second time after success
    dropped: bool = False  # silently never sent
    attempts: int = 0
    answers: list[int | None] = field(default_factory=list)  # HTTP status; None = timeout/connection error
    replies: list[bytes] = field(default_factory=list)  # response bodies (b"" for None answers)
    delivered: bool = False
    gave_up: bool = False
    retries: int = 0
    next_due: float = 0.0

    @property
    def finished(self) -> bool:
        """Nothing more will be sent for this push."""
        return self.dropped or self.delivered or self.gave_up

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "id": self.id,
            "appid": self.appid,
            "event": self.event,
            "complaint_order_id": self.complaint_order_id,
            "status": self.status,
            "create_time": self.create_time,
            "duplicate": self.duplicate,
            "dropped": self.dropped,
            "attempts": self.attempts,
            "answers": list(self.answers),
            "delivered": self.delivered,
            "gave_up": self.gave_up,
        }


@dataclass
class Stats:
    """What the simulator's API saw."""

    calls: Counter[str] = field(default_factory=Counter)  # endpoint -> requests
    ok: Counter[str] = field(default_factory=Counter)  # endpoint -> errcode 0 answers
    errcodes: Counter[int] = field(default_factory=Counter)  # errcode -> answers
    rate_limited: int = 0
    token_errors: int = 0  # 40001 / 40014 / 41001 / 42001 on API calls
    injected_errors: int = 0
    timeouts: int = 0
    applied: Counter[str] = field(default_factory=Counter)  # action -> write calls applied
    dropped_responses: int = 0
    unrouted_pushes: int = 0  # events of apps without a push URL

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {
            "calls": dict(self.calls),
            "ok": dict(self.ok),
            "errcodes": {str(code): n for code, n in self.errcodes.items()},
            "rate_limited": self.rate_limited,
            "token_errors": self.token_errors,
            "injected_errors": self.injected_errors,
            "timeouts": self.timeouts,
            "applied": dict(self.applied),
            "dropped_responses": self.dropped_responses,
            "unrouted_pushes": self.unrouted_pushes,
        }
