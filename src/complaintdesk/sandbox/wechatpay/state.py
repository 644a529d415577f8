"""The stateful model behind the WeChat Pay simulator: merchants, complaints, history, notifications."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from complaintdesk.clock import Clock, SystemClock
from complaintdesk.sandbox.faults import Faults
from complaintdesk.sandbox.wechatpay.crypto import load_private_key
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.wechatpay.model import (
    SHANGHAI,
    Complaint,
    ComplaintState,
    HistoryEntry,
    Notification,
    Stats,
    digits,
    new_media_id,
    new_openid,
)
from complaintdesk.sandbox.wechatpay.queue import NotificationQueue, SlidingWindows
from complaintdesk.sandbox.wechatpay.registry import MerchantRegistry

DEFAULT_LIMITS: dict[str, int] = {"list": 200, "detail": 200, "history": 200, "certificates": 600}
_PROBLEM_DESCRIPTIONS = {"REFUND": "申请退款", "SERVICE_NOT_WORK": "服务权益未生效", "OTHERS": "其他问题"}
USER, MERCHANT, SUPPORT, SYSTEM = "投诉人", "商户", "微信支付客服", "系统"


class SignMode(StrEnum):
    """Which WeChat Pay key signs responses and notifications."""

    CERTIFICATE = "certificate"
    PUBLIC_KEY = "public_key"
    MIGRATING = "migrating"


class UnknownComplaint(KeyError):
    """No complaint with that id."""


class InvalidState(ValueError):
    """The action is not allowed in the complaint's current state."""


class SimulatorState:
    """Everything WeChat Pay knows; pure Python, driven by tests, the API app and the notifier."""

    def __init__(
        self,
        *,
        platform: PlatformKeys,
        clock: Clock | None = None,
        sign_mode: SignMode = SignMode.CERTIFICATE,
        limits: dict[str, int] | None = None,
        seed: int = 0,
        faults: Faults | None = None,
        history_max_limit: int = 300,
        continue_reopens: bool = True,
    ) -> None:
        self.platform = platform
        self.clock: Clock = clock or SystemClock()
        self._monotonic = clock is None
        self.sign_mode = SignMode(sign_mode)
        self.limits: dict[str, int] = {**DEFAULT_LIMITS, **(limits or {})}
        self.rng = random.Random(seed)  # ids and scenario decisions: independent of API traffic
        self.fault_rng = random.Random(seed + 1)  # traffic-time decisions (faults, migrating key mix)
        self.faults = faults or Faults()
        self.history_max_limit = history_max_limit
        self.continue_reopens = continue_reopens  # UNCONFIRMED upstream: does "continue" reopen? (spec §1.14)
        self.stats = Stats()
        self.queue = NotificationQueue(self.rng, self.faults)
        self.windows = SlidingWindows(self.limits)
        self.merchants = MerchantRegistry()
        self._complaints: dict[str, Complaint] = {}
        self._media: dict[str, str] = {}
        self._sequence = itertools.count(1)
        self.certificate_key = load_private_key(platform.cert_private_key_pem)
        self.public_key_key = load_private_key(platform.pubkey_private_key_pem)

    # ----------------------------------------------------------------- time
    def now(self) -> datetime:
        """Current instant from the state's clock."""
        return self.clock.now()

    def tick(self) -> float:
        """Seconds for windows and retry schedules: monotonic by default, the injected clock otherwise."""
        return time.monotonic() if self._monotonic else self.clock.now().timestamp()

    # ------------------------------------------------------------ merchants
    def register_merchant(
        self, merchant: MerchantCredentials, *, sub_mchids: Sequence[str] = (), notify_url: str | None = None
    ) -> None:
        """Register a direct merchant, or a service provider that sees all of ``sub_mchids``' complaints."""
        self.merchants.register(merchant, sub_mchids, notify_url)

    def set_notify_url(self, mchid: str, url: str | None) -> None:
        """Set or clear the complaint notification URL of a registered merchant."""
        self.merchants.require(mchid).notify_url = url

    def notify_url(self, mchid: str) -> str | None:
        """The merchant's current notification URL."""
        merchant = self.merchants.get(mchid)
        return merchant.notify_url if merchant else None

    # -------------------------------------------------------------- signing
    def response_signer(self, request_serial: str | None) -> tuple[rsa.RSAPrivateKey, str]:
        """Key and ``Wechatpay-Serial`` for an API response."""
        wants_public = bool(request_serial and request_serial.startswith("PUB_KEY_ID_"))
        if self.sign_mode == SignMode.PUBLIC_KEY or (self.sign_mode == SignMode.MIGRATING and wants_public):
            return self.public_key_key, self.platform.public_key_id
        return self.certificate_key, self.platform.serial_no

    def notification_signer(self) -> tuple[rsa.RSAPrivateKey, str]:
        """Key and serial for a notification (a random mix of both while migrating)."""
        if self.sign_mode == SignMode.PUBLIC_KEY or (
            self.sign_mode == SignMode.MIGRATING and self.fault_rng.random() < 0.5
        ):
            return self.public_key_key, self.platform.public_key_id
        return self.certificate_key, self.platform.serial_no

    # ---------------------------------------------------------- rate limits
    def admit(self, mchid: str, endpoint: str) -> bool:
        """Sliding 60-second window per (merchant, endpoint); False when over the limit."""
        return self.windows.admit(mchid, endpoint, self.tick())

    # ----------------------------------------------------------- complaints
    def create_complaint(
        self,
        complainted_mchid: str,
        *,
        detail: str = "商品一直没有发货，联系商家也没有回复，要求退款。",
        problem_type: str = "REFUND",
        amount_fen: int = 9900,
        apply_refund_amount_fen: int | None = None,
        payer_phone: str | None = "13800138000",
        images: int = 0,
        complaint_time: datetime | None = None,
        need_immediate_service: bool = False,
        notify: bool = True,
        problem_description: str | None = None,
        user_tags: Sequence[str] = (),
    ) -> str:
        """A user files a complaint; returns its 27-digit id."""
        if not self.merchants.knows(complainted_mchid):
            raise ValueError(
                f"merchant {complainted_mchid} is not registered (directly or as a sub-merchant)"
            )
        if not 1 <= len(detail) <= 300:
            raise ValueError("complaint detail must be 1..300 characters")
        if problem_type != "REFUND" and apply_refund_amount_fen is not None:
            raise ValueError("apply_refund_amount only exists for REFUND complaints")
        refund = apply_refund_amount_fen if apply_refund_amount_fen is not None else amount_fen
        if problem_type == "REFUND" and not 0 < refund <= amount_fen:
            raise ValueError("apply_refund_amount must be within the order amount")
        when = complaint_time or self.now()
        day = when.astimezone(SHANGHAI).strftime("%Y%m%d")
        complaint_id = self._unique(
            lambda: f"2000{day}{next(self._sequence) % 100000:05d}{digits(self.rng, 10)}"
        )
        complaint = Complaint(
            complaint_id=complaint_id,
            complaint_time=when,
            complaint_detail=detail,
            complainted_mchid=complainted_mchid,
            problem_type=problem_type,
            problem_description=problem_description or _PROBLEM_DESCRIPTIONS.get(problem_type, "其他问题"),
            amount_fen=amount_fen,
            transaction_id=f"4200{digits(self.rng, 6)}{day}{digits(self.rng, 10)}",
            out_trade_no=f"T{day}{digits(self.rng, 10)}",
            payer_openid=new_openid(self.rng),
            payer_phone=payer_phone,
            apply_refund_amount_fen=refund if problem_type == "REFUND" else None,
            need_immediate_service=need_immediate_service,
            user_tags=list(user_tags),
            media_ids=self._new_media(complaint_id, images),
        )
        self._complaints[complaint_id] = complaint
        media = complaint.media_ids
        self._log(complaint, USER, "USER_CREATE_COMPLAINT", detail, when, "USER_COMPLAINT_IMAGE", media)
        self._enqueue(complaint, "CREATE_COMPLAINT", notify)
        return complaint_id

    def user_message(
        self,
        complaint_id: str,
        text: str,
        images: int = 0,
        *,
        at: datetime | None = None,
        notify: bool = True,
    ) -> None:
        """The user leaves a message (notification USER_RESPONSE)."""
        c = self.get(complaint_id)
        c.incoming_user_response = True
        self._log(
            c, USER, "USER_RESPONSE", text, at, "OPERATION_IMAGE", self._new_media(complaint_id, images)
        )
        self._enqueue(c, "USER_RESPONSE", notify)

    def continue_complaint(
        self, complaint_id: str, text: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """The user complains again (notification CONTINUE_COMPLAINT)."""
        c = self.get(complaint_id)
        c.user_complaint_times += 1
        c.incoming_user_response = True
        if self.continue_reopens:
            c.state = ComplaintState.PENDING
        self._log(c, USER, "USER_CONTINUE_COMPLAINT", text, at)
        self._enqueue(c, "CONTINUE_COMPLAINT", notify)

    def platform_message(
        self, complaint_id: str, text: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """WeChat Pay customer service writes (notification RESPONSE_BY_PLATFORM)."""
        c = self.get(complaint_id)
        self._log(c, SUPPORT, "PLATFORM_RESPONSE", text, at)
        self._enqueue(c, "RESPONSE_BY_PLATFORM", notify)

    def apply_platform_service(
        self,
        complaint_id: str,
        reason: str,
        *,
        description: str | None = None,
        at: datetime | None = None,
        notify: bool = True,
    ) -> None:
        """The user asks the platform to step in (平台协助)."""
        c = self.get(complaint_id)
        c.in_platform_service = True
        extra = {"user_appy_platform_service_reason": reason}
        if description is not None:
            extra["user_appy_platform_service_reason_description"] = description
        self._log(c, USER, "USER_APPLY_PLATFORM_SERVICE", reason, at, extra=extra)
        self._enqueue(c, "USER_APPLY_PLATFORM_SERVICE", notify)

    def cancel_platform_service(
        self, complaint_id: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """The user withdraws the platform-assistance request."""
        c = self.get(complaint_id)
        c.in_platform_service = False
        self._log(c, USER, "USER_CANCEL_PLATFORM_SERVICE", None, at)
        self._enqueue(c, "USER_CANCEL_PLATFORM_SERVICE", notify)

    def finish_platform_service(
        self, complaint_id: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """Customer service ends platform assistance."""
        c = self.get(complaint_id)
        c.in_platform_service = False
        self._log(c, SUPPORT, "PLATFORM_SERVICE_FINISHED", "客服已结束平台协助", at)
        self._enqueue(c, "PLATFORM_SERVICE_FINISHED", notify)

    def seller_refund(self, complaint_id: str, *, at: datetime | None = None, notify: bool = True) -> None:
        """The order was fully refunded (notification SELLER_REFUND)."""
        c = self.get(complaint_id)
        c.full_refunded = True
        self._log(c, SYSTEM, "COMPLAINT_FULL_REFUNDED_SYSTEM_MESSAGE", "订单已全额退款", at)
        self._enqueue(c, "SELLER_REFUND", notify)

    def merchant_reply(self, complaint_id: str, text: str, *, at: datetime | None = None) -> None:
        """Effect of the reply API: PENDING -> PROCESSING, history entry; WeChat sends no notification."""
        c = self.get(complaint_id)
        if c.state == ComplaintState.PENDING:
            c.state = ComplaintState.PROCESSING
        c.incoming_user_response = False
        self._log(c, MERCHANT, "MERCHANT_RESPONSE", text, at)

    def complete(self, complaint_id: str, *, at: datetime | None = None) -> None:
        """Effect of the complete API: -> PROCESSED; no notification."""
        c = self.get(complaint_id)
        if c.state == ComplaintState.PROCESSED:
            raise InvalidState(f"complaint {complaint_id} is already PROCESSED")
        c.state = ComplaintState.PROCESSED
        self._log(c, MERCHANT, "MERCHANT_CONFIRM_COMPLETE", "商户已处理完成", at)

    # -------------------------------------------------------------- queries
    def get(self, complaint_id: str) -> Complaint:
        """The complaint record (raises ``UnknownComplaint``)."""
        try:
            return self._complaints[complaint_id]
        except KeyError:
            raise UnknownComplaint(complaint_id) from None

    def complaint(self, complaint_id: str, *, for_mchid: str | None = None) -> dict[str, Any]:
        """The detail document; ``payer_phone`` encrypted for ``for_mchid`` (default: SP or the merchant)."""
        c = self.get(complaint_id)
        viewer = for_mchid or self.merchants.parent(c.complainted_mchid) or c.complainted_mchid
        return c.document(self.merchants.require(viewer).public_key, include_openid=True)

    def history(self, complaint_id: str) -> list[dict[str, Any]]:
        """Negotiation history documents, oldest first."""
        return [entry.document() for entry in self.get(complaint_id).history]

    def complaint_ids(self) -> list[str]:
        """All complaint ids in creation order."""
        return list(self._complaints)

    def complaints_between(self, mchids: set[str], begin: str, end: str) -> list[Complaint]:
        """Complaints of ``mchids`` whose Shanghai date is in [begin, end], by time then id."""
        found = [
            c
            for c in self._complaints.values()
            if c.complainted_mchid in mchids and begin <= c.shanghai_date <= end
        ]
        return sorted(found, key=lambda c: (c.complaint_time, c.complaint_id))

    def media_owner(self, media_id: str) -> Complaint | None:
        """The complaint a media id belongs to."""
        complaint_id = self._media.get(media_id)
        return self._complaints.get(complaint_id) if complaint_id else None

    # -------------------------------------------------------- notifications
    @property
    def notifications(self) -> list[Notification]:
        """Every notification decided so far (sent, pending, dropped, probes)."""
        return self.queue.log

    def due_notifications(self) -> list[Notification]:
        """Queued notifications whose next attempt is due."""
        return self.queue.due(self.tick())

    def settle(self) -> None:
        """Forget finished notifications from the queue."""
        self.queue.settle()

    def _enqueue(self, complaint: Complaint, action_type: str, notify: bool) -> None:
        if not notify:
            return
        for mchid in self.merchants.recipients(complaint.complainted_mchid):
            if self.merchants.require(mchid).notify_url is None:
                self.stats.unrouted_notifications += 1
                continue
            self.queue.add(complaint.complaint_id, action_type, mchid, self.now())

    # -------------------------------------------------------------- helpers
    def _unique(self, make: Any) -> str:
        while True:
            value: str = make()
            if value not in self._complaints:
                return value

    def _new_media(self, complaint_id: str, count: int) -> list[str]:
        media = [new_media_id(self.rng) for _ in range(count)]
        for media_id in media:
            self._media[media_id] = complaint_id
        return media

    def _log(
        self,
        c: Complaint,
        operator: str,
        operate_type: str,
        details: str | None,
        at: datetime | None,
        media_type: str | None = None,
        media_ids: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        when = at or self.now()
        day = when.astimezone(SHANGHAI).strftime("%Y%m%d")
        log_id = f"300{day}{next(self._sequence) % 1000000:06d}{digits(self.rng, 10)}"
        entry = HistoryEntry(
            log_id, operator, when, operate_type, details, media_type, media_ids or [], extra or {}
        )
        c.history.append(entry)
