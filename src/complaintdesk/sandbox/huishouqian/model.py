"""Records the Huishouqian simulator keeps, and how they render inside the gateway's ``result`` JSON."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from urllib.parse import quote

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
#: Complaint media are WeChat Pay's (the gateway wraps 消费者投诉2.0), percent-escaped ids included.
MEDIA_BASE = "https://api.mch.weixin.qq.com/v3/merchant-service/images/"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
USER, MERCHANT, PLATFORM, SYSTEM = "投诉人", "商户", "微信支付客服", "系统"


class ComplaintState(StrEnum):
    """``complaintState`` values."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"


def compact_time(when: datetime) -> str:
    """``yyyyMMddHHmmss`` in Asia/Shanghai (``complaintTime``, ``operateTime``)."""
    return when.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")


def digits(rng: random.Random, count: int) -> str:
    """``count`` random decimal digits."""
    return "".join(rng.choice("0123456789") for _ in range(count))


def new_media_url(rng: random.Random) -> str:
    """A WeChat-style media URL whose id contains ``/``, ``+`` and ``=`` (percent-escaped)."""
    body = "".join(rng.choice(_B64) for _ in range(40))
    cut = rng.randrange(4, 36)
    media_id = body[:cut] + "/" + body[cut : cut + 2] + "+" + body[cut + 2 :] + "="
    return MEDIA_BASE + quote(media_id, safe="")


def new_openid(rng: random.Random) -> str:
    """An openid like ``o0WuojnPFrEhtiu9lUUfg9CxFhok``."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "o0Wuo" + "".join(rng.choice(alphabet) for _ in range(23))


@dataclass
class HistoryEntry:
    """One negotiation-history record."""

    log_id: str
    operator: str
    operate_time: datetime
    operate_type: str
    operate_details: str | None = None
    image_urls: list[str] = field(default_factory=list)
    via_api: bool = False  # written by a merchant's API call (not rendered)
    act_type: int | None = None  # ``actType`` of a COMMIT_RESPONSE (meaning unknown; not rendered)

    def document(self) -> dict[str, Any]:
        """The ``data[]`` object of ``COMPLAINT_QUERY_HISTORY`` (null fields omitted)."""
        doc: dict[str, Any] = {
            "logId": self.log_id,
            "operator": self.operator,
            "operateTime": compact_time(self.operate_time),
            "operateType": self.operate_type,
        }
        if self.operate_details is not None:
            doc["operateDetails"] = self.operate_details
        doc["imageList"] = list(self.image_urls)
        return doc


@dataclass
class Complaint:
    """A complaint as the gateway holds it."""

    complaint_id: str
    merchant_no: str
    agent_no: str | None
    complaint_time: datetime
    merchant_trade_no: str
    amount_fen: int
    problem_description: str
    complaint_detail: str
    payer_openid: str
    payer_phone: str | None = None
    state: ComplaintState = ComplaintState.PENDING
    user_complaint_times: int = 1
    incoming_user_response: bool = False
    full_refunded: bool = False
    history: list[HistoryEntry] = field(default_factory=list)

    @property
    def shanghai_date(self) -> str:
        """The complaint's calendar date in Asia/Shanghai (what ``beginDate``/``endDate`` compare)."""
        return self.complaint_time.astimezone(SHANGHAI).date().isoformat()

    def document(self) -> dict[str, Any]:
        """The ``data[]`` object of ``COMPLAINT_QUERY`` (flags as 0/1, null fields omitted)."""
        doc: dict[str, Any] = {
            "complaintId": self.complaint_id,
            "merchantTradeNo": self.merchant_trade_no,
            "amount": self.amount_fen,
            "complaintState": str(self.state),
            "complaintTime": compact_time(self.complaint_time),
            "problemDescription": self.problem_description,
            "complaintDetail": self.complaint_detail,
            "userComplaintTimes": self.user_complaint_times,
            "incomingUserResponse": int(self.incoming_user_response),
            "payerOpenid": self.payer_openid,
            "merchantNo": self.merchant_no,
            "complaintFullRefunded": int(self.full_refunded),
        }
        if self.agent_no is not None:
            doc["agentNo"] = self.agent_no
        if self.payer_phone is not None:
            doc["payerPhone"] = self.payer_phone
        return doc


@dataclass(frozen=True)
class Upload:
    """An image a merchant uploaded (``COMPLAINT_FILE_UPLOAD``)."""

    file_id: int
    owner: str
    content: bytes
    suffix: str


@dataclass
class Notification:
    """One notification the gateway decided to send (or drop), and what happened to it."""

    id: int
    complaint_id: str
    action_type: str
    merchant_no: str  # the recipient (the complaint's merchant or its agent)
    created: datetime
    duplicate: bool = False  # delivered a second time after success
    dropped: bool = False  # silently never sent
    attempts: int = 0
    answers: list[int | None] = field(default_factory=list)  # HTTP status per attempt, None = no answer
    bodies: list[str] = field(default_factory=list)  # response text per answered attempt (first 64 chars)
    delivered: bool = False
    gave_up: bool = False
    retries: int = 0
    next_due: float = 0.0

    @property
    def finished(self) -> bool:
        """Nothing more will be sent."""
        return self.dropped or self.delivered or self.gave_up

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "id": self.id,
            "complaint_id": self.complaint_id,
            "action_type": self.action_type,
            "merchant_no": self.merchant_no,
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

    calls: Counter[str] = field(default_factory=Counter)  # endpoint -> requests that reached it
    ok: Counter[str] = field(default_factory=Counter)  # endpoint -> successful answers
    errors: Counter[str] = field(default_factory=Counter)  # errorCode -> error answers
    bad_signatures: int = 0  # requests whose signature (or CFCA ciphertext) did not check out
    rate_limited: int = 0  # 000001 answers from the rate limiter
    injected_errors: int = 0  # errors injected by Faults
    timeouts: int = 0  # calls delayed by timeout_rate
    applied: Counter[str] = field(default_factory=Counter)  # write endpoint -> actions applied
    dropped_responses: int = 0  # answers lost after applying
    unrouted_notifications: int = 0  # events for recipients without a notify URL

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {
            "calls": dict(self.calls),
            "ok": dict(self.ok),
            "errors": dict(self.errors),
            "bad_signatures": self.bad_signatures,
            "rate_limited": self.rate_limited,
            "injected_errors": self.injected_errors,
            "timeouts": self.timeouts,
            "applied": dict(self.applied),
            "dropped_responses": self.dropped_responses,
            "unrouted_notifications": self.unrouted_notifications,
        }
