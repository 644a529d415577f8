"""Records the WeChat Pay simulator keeps, and how they render as API JSON documents."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import rsa

from complaintdesk.sandbox.wechatpay.crypto import oaep_encrypt

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
API_BASE = "https://api.mch.weixin.qq.com"
MEDIA_PATH = "/v3/merchant-service/images/"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class ComplaintState(StrEnum):
    """``complaint_state`` values."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"


def rfc3339_millis(when: datetime) -> str:
    """``2015-05-20T13:29:35.120+08:00``."""
    return when.astimezone(SHANGHAI).isoformat(timespec="milliseconds")


def rfc3339(when: datetime) -> str:
    """``2015-05-20T13:29:35+08:00``."""
    return when.astimezone(SHANGHAI).isoformat(timespec="seconds")


def media_url(media_id: str, base: str = API_BASE) -> str:
    """The download URL of a media id on ``base``, with ``/``, ``+`` and ``=`` percent-escaped."""
    return base.rstrip("/") + MEDIA_PATH + quote(media_id, safe="")


def digits(rng: random.Random, count: int) -> str:
    """``count`` random decimal digits."""
    return "".join(rng.choice("0123456789") for _ in range(count))


def new_media_id(rng: random.Random) -> str:
    """A base64-looking opaque id that always contains ``/``, ``+`` and ``=``."""
    body = "".join(rng.choice(_B64) for _ in range(40))
    cut = rng.randrange(4, 36)
    return body[:cut] + "/" + body[cut : cut + 2] + "+" + body[cut + 2 :] + "="


def new_openid(rng: random.Random) -> str:
    """An openid like ``oUpF8uMuAJO_M2pxb1Q9zNjWeS6o``."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "oUpF8" + "".join(rng.choice(alphabet) for _ in range(23))


@dataclass
class HistoryEntry:
    """One negotiation-history record (§1.3)."""

    log_id: str
    operator: str
    operate_time: datetime
    operate_type: str
    operate_details: str | None = None
    media_type: str | None = None
    media_ids: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    via_api: bool = False  # created by a merchant's API call (not rendered)

    def document(self, base: str = API_BASE) -> dict[str, Any]:
        """The JSON object as the history API returns it (``complaint_media_list`` is one object).

        ``base`` is the host media URLs point at: the one the request reached (the real API, or a sandbox).
        """
        doc: dict[str, Any] = {
            "log_id": self.log_id,
            "operator": self.operator,
            "operate_time": rfc3339_millis(self.operate_time),
            "operate_type": self.operate_type,
        }
        if self.operate_details is not None:
            doc["operate_details"] = self.operate_details
        doc["image_list"] = []
        if self.media_ids:
            doc["complaint_media_list"] = {
                "media_type": self.media_type or "OPERATION_IMAGE",
                "media_url": [media_url(m, base) for m in self.media_ids],
            }
        doc.update(self.extra)
        return doc


@dataclass
class Complaint:
    """A complaint as WeChat Pay holds it."""

    complaint_id: str
    complaint_time: datetime
    complaint_detail: str
    complainted_mchid: str
    problem_type: str
    problem_description: str
    amount_fen: int
    transaction_id: str
    out_trade_no: str
    payer_openid: str
    payer_phone: str | None = None
    apply_refund_amount_fen: int | None = None
    need_immediate_service: bool = False
    user_tags: list[str] = field(default_factory=list)
    media_ids: list[str] = field(default_factory=list)
    state: ComplaintState = ComplaintState.PENDING
    full_refunded: bool = False
    incoming_user_response: bool = False
    user_complaint_times: int = 1
    in_platform_service: bool = False
    history: list[HistoryEntry] = field(default_factory=list)
    refund_decision: str | None = None  # APPROVE / REJECT (update-refund-progress), not rendered
    refund_received: bool = False  # the approved refund arrived

    @property
    def shanghai_date(self) -> str:
        """The complaint's calendar date in Asia/Shanghai (what list date filters compare)."""
        return self.complaint_time.astimezone(SHANGHAI).date().isoformat()

    def document(
        self, phone_key: rsa.RSAPublicKey | None, *, include_openid: bool, base: str = API_BASE
    ) -> dict[str, Any]:
        """The detail/list JSON object; ``payer_phone`` encrypted with ``phone_key`` (the caller's cert)."""
        doc: dict[str, Any] = {
            "complaint_id": self.complaint_id,
            "complaint_time": rfc3339_millis(self.complaint_time),
            "complaint_detail": self.complaint_detail,
            "complaint_state": str(self.state),
            "complainted_mchid": self.complainted_mchid,
        }
        if self.payer_phone is not None and phone_key is not None:
            doc["payer_phone"] = oaep_encrypt(phone_key, self.payer_phone)
        if include_openid:
            doc["payer_openid"] = self.payer_openid
        if self.media_ids:
            urls = [media_url(m, base) for m in self.media_ids]
            doc["complaint_media_list"] = [{"media_type": "USER_COMPLAINT_IMAGE", "media_url": urls}]
        doc["complaint_order_info"] = [
            {
                "transaction_id": self.transaction_id,
                "out_trade_no": self.out_trade_no,
                "amount": self.amount_fen,
            }
        ]
        doc.update(
            complaint_full_refunded=self.full_refunded,
            incoming_user_response=self.incoming_user_response,
            problem_description=self.problem_description,
            user_complaint_times=self.user_complaint_times,
            problem_type=self.problem_type,
        )
        if self.problem_type == "REFUND" and self.apply_refund_amount_fen is not None:
            doc["apply_refund_amount"] = self.apply_refund_amount_fen
        doc["user_tag_list"] = list(self.user_tags)
        doc["in_platform_service"] = self.in_platform_service
        doc["need_immediate_service"] = self.need_immediate_service
        return doc


@dataclass
class Notification:
    """One notification WeChat Pay decided to send (or drop), and what happened to it."""

    id: str
    complaint_id: str
    action_type: str
    mchid: str  # the merchant notified (the service provider for sub-merchant complaints)
    create_time: datetime
    probe: bool = False  # a WECHATPAY/SIGNTEST/ signature probe: must be refused
    duplicate: bool = False  # will be delivered a second time after success
    dropped: bool = False  # silently never sent
    attempts: int = 0
    answers: list[int | None] = field(default_factory=list)  # HTTP status, None = connection error/timeout
    delivered: bool = False
    gave_up: bool = False
    retries: int = 0
    next_due: float = 0.0
    body: bytes | None = None

    @property
    def event_type(self) -> str:
        """``COMPLAINT.CREATE`` or ``COMPLAINT.STATE_CHANGE``."""
        return "COMPLAINT.CREATE" if self.action_type == "CREATE_COMPLAINT" else "COMPLAINT.STATE_CHANGE"

    @property
    def finished(self) -> bool:
        """Nothing more will be sent for this notification."""
        return self.dropped or self.delivered or self.gave_up or (self.probe and self.attempts > 0)

    @property
    def probe_accepted(self) -> bool:
        """For probes: the receiver wrongly answered 2xx."""
        return self.probe and any(a is not None and 200 <= a < 300 for a in self.answers)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "id": self.id,
            "complaint_id": self.complaint_id,
            "action_type": self.action_type,
            "mchid": self.mchid,
            "probe": self.probe,
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
    ok: Counter[str] = field(default_factory=Counter)  # endpoint -> 2xx answers
    rate_limited: int = 0  # 429 from the rate limiter
    unauthorized: int = 0  # 401 SIGN_ERROR
    bad_requests: int = 0  # 400 answers (headers, parameters, business rules)
    injected_errors: int = 0  # error answers injected by Faults (error_rate, fail_next)
    timeouts: int = 0  # calls delayed by timeout_rate
    unrouted_notifications: int = 0  # events for merchants without a notify_url
    applied: Counter[str] = field(default_factory=Counter)  # action kind -> write calls applied
    dropped_responses: int = 0  # answers lost after applying (drop-after-apply faults)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {
            "calls": dict(self.calls),
            "ok": dict(self.ok),
            "rate_limited": self.rate_limited,
            "unauthorized": self.unauthorized,
            "bad_requests": self.bad_requests,
            "injected_errors": self.injected_errors,
            "timeouts": self.timeouts,
            "unrouted_notifications": self.unrouted_notifications,
            "applied": dict(self.applied),
            "dropped_responses": self.dropped_responses,
        }
