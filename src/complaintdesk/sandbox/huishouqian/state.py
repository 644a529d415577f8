"""The stateful model behind the Huishouqian simulator: merchants, agents, complaints, history, media.

State machine (as WeChat Pay 消费者投诉2.0, which the gateway wraps): a complaint starts PENDING; the first
merchant reply moves it to PROCESSING; ``complete`` moves it to PROCESSED; replying to or completing a
PROCESSED complaint raises ``InvalidState``; a continued complaint reopens it (PENDING) unless
``continue_reopens`` is off. Unlike WeChat Pay v2, the gateway's notification list includes the merchant's
own actions (``MERCHANT_RESPONSE``, ``MERCHANT_CONFIRM_COMPLETE``), so they are notified while
``notify_own_actions`` is on (ASSUMPTION).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from complaintdesk.clock import Clock, SystemClock
from complaintdesk.sandbox.faults import Faults
from complaintdesk.sandbox.huishouqian.crypto import image_suffix, load_private_key
from complaintdesk.sandbox.huishouqian.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.huishouqian.media import MediaStore
from complaintdesk.sandbox.huishouqian.model import (
    MERCHANT,
    PLATFORM,
    SHANGHAI,
    SYSTEM,
    USER,
    Complaint,
    ComplaintState,
    HistoryEntry,
    Notification,
    Stats,
    Upload,
    digits,
    new_openid,
)
from complaintdesk.sandbox.huishouqian.queue import NotificationQueue, SlidingWindows
from complaintdesk.sandbox.huishouqian.registry import MerchantRegistry

#: Calls per merchant and endpoint per sliding minute (not published: ASSUMPTION, generous vs the client).
DEFAULT_LIMITS: dict[str, int] = {
    "query": 200,
    "queryHistory": 200,
    "download": 200,
    "commitResponse": 60,
    "commitComplete": 60,
    "upload": 60,
}


class UnknownComplaint(KeyError):
    """No complaint with that id."""


class InvalidState(ValueError):
    """The action is not allowed in the complaint's current state."""


class HuishouqianState:
    """Everything the gateway knows; pure Python, driven by tests, the API app and the notifier.

    Options: ``reply_max_chars`` (200), ``max_reply_images`` (4), ``max_query_limit`` (500, seed),
    ``history_max_limit`` (300, WeChat's), ``max_span_days`` (30: ``endDate - beginDate`` may be at most
    30 days), ``success_as_string`` (answer ``"success":"true"`` instead of the seed's boolean),
    ``success_code`` (``errorCode`` of successful answers: None as in the seed, or e.g. ``"000000"``).
    """

    def __init__(
        self,
        platform: PlatformKeys,
        clock: Clock | None = None,
        seed: int = 0,
        faults: Faults | None = None,
        limits: dict[str, int] | None = None,
        *,
        reply_max_chars: int = 200,
        max_reply_images: int = 4,
        max_query_limit: int = 500,
        history_max_limit: int = 300,
        max_span_days: int = 30,
        notify_own_actions: bool = True,
        continue_reopens: bool = True,
        success_as_string: bool = False,
        success_code: str | None = None,
    ) -> None:
        self.platform = platform
        self.platform_key = load_private_key(platform.private_key_pem)
        self.clock: Clock = clock or SystemClock()
        self._monotonic = clock is None
        self.faults = faults or Faults()
        self.limits: dict[str, int] = {**DEFAULT_LIMITS, **(limits or {})}
        self.rng = random.Random(seed)  # ids and scenario decisions
        self.fault_rng = random.Random(seed + 1)  # traffic-time fault decisions
        self.api_rng = random.Random(seed + 2)  # ids created by merchants' API calls
        self.reply_max_chars = reply_max_chars
        self.max_reply_images = max_reply_images
        self.max_query_limit = max_query_limit
        self.history_max_limit = history_max_limit
        self.max_span_days = max_span_days
        self.notify_own_actions = notify_own_actions
        self.continue_reopens = continue_reopens
        self.success_as_string = success_as_string
        self.success_code = success_code
        self.merchants = MerchantRegistry()
        self.media = MediaStore()
        self.stats = Stats()
        self.windows = SlidingWindows(self.limits)
        self.queue = NotificationQueue(self.rng, self.faults)
        self._complaints: dict[str, Complaint] = {}
        self._sequence = itertools.count(1)

    # ----------------------------------------------------------------- time
    def now(self) -> datetime:
        """Current instant from the state's clock."""
        return self.clock.now()

    def tick(self) -> float:
        """Seconds for windows and retry schedules: monotonic by default, the injected clock otherwise."""
        return time.monotonic() if self._monotonic else self.clock.now().timestamp()

    # ------------------------------------------------------------ merchants
    def register_merchant(
        self,
        creds: MerchantCredentials,
        *,
        agent_of: str | None = None,
        notify_url: str | None = None,
        key_configured: bool = True,
    ) -> None:
        """Register a merchant; ``agent_of`` puts it under a registered agent (代理商).

        ``key_configured=False`` simulates a merchant whose sign key the gateway has not set up: every
        call is answered ``130011``. CFCA merchants are those whose credentials say ``sign_type="CFCA"``.
        """
        self.merchants.register(
            creds, agent_of=agent_of, notify_url=notify_url, key_configured=key_configured
        )

    def set_notify_url(self, merchant_no: str, url: str | None) -> None:
        """Set or clear a merchant's notification URL."""
        self.merchants.require(merchant_no).notify_url = url

    def admit(self, merchant_no: str, endpoint: str) -> bool:
        """Sliding 60-second window per (merchant, endpoint); False when over the limit."""
        return self.windows.admit(merchant_no, endpoint, self.tick())

    # ----------------------------------------------------------- complaints
    def create_complaint(
        self,
        merchant_no: str,
        *,
        detail: str = "昨天晚上我都没有充电，为什么要扣款请核对一下。",
        problem_description: str = "其他问题",
        amount_fen: int = 300,
        payer_phone: str | None = "13800138000",
        images: int = 0,
        complaint_time: datetime | None = None,
        merchant_trade_no: str | None = None,
        notify: bool = True,
    ) -> str:
        """A user files a complaint against ``merchant_no``; returns its 27-digit ``complaintId``."""
        merchant = self.merchants.require(merchant_no)
        if not 1 <= len(detail) <= 300 or not 1 <= len(problem_description) <= 256:
            raise ValueError("detail must be 1..300 and problem_description 1..256 characters")
        if amount_fen < 1:
            raise ValueError("amount_fen must be positive")
        when = complaint_time or self.now()
        day = when.astimezone(SHANGHAI).strftime("%Y%m%d")
        complaint_id = (
            f"2002{digits(self.rng, 4)}{day}{next(self._sequence) % 100000:05d}{digits(self.rng, 6)}"
        )
        while complaint_id in self._complaints:
            complaint_id = complaint_id[:-6] + digits(self.rng, 6)
        complaint = Complaint(
            complaint_id=complaint_id,
            merchant_no=merchant_no,
            agent_no=merchant.agent_no,
            complaint_time=when,
            merchant_trade_no=merchant_trade_no or f"M{day}{digits(self.rng, 10)}",
            amount_fen=amount_fen,
            problem_description=problem_description,
            complaint_detail=detail,
            payer_openid=new_openid(self.rng),
            payer_phone=payer_phone,
        )
        self._complaints[complaint_id] = complaint
        self.record(
            complaint, USER, "USER_CREATE_COMPLAINT", detail, when, self._new_media(complaint, images)
        )
        self.enqueue(complaint, "CREATE_COMPLAINT", notify)
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
        """The user leaves a message (``USER_RESPONSE``)."""
        c = self.get(complaint_id)
        c.incoming_user_response = True
        self.record(c, USER, "USER_RESPONSE", text, at, self._new_media(c, images))
        self.enqueue(c, "USER_RESPONSE", notify)

    def continue_complaint(
        self, complaint_id: str, text: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """The user complains again (``CONTINUE_COMPLAINT``; ``userComplaintTimes`` + 1)."""
        c = self.get(complaint_id)
        c.user_complaint_times += 1
        c.incoming_user_response = True
        if self.continue_reopens:
            c.state = ComplaintState.PENDING
        self.record(c, USER, "USER_CONTINUE_COMPLAINT", text, at)
        self.enqueue(c, "CONTINUE_COMPLAINT", notify)

    def platform_message(
        self, complaint_id: str, text: str, *, at: datetime | None = None, notify: bool = True
    ) -> None:
        """WeChat Pay customer service writes (``RESPONSE_BY_PLATFORM``)."""
        c = self.get(complaint_id)
        self.record(c, PLATFORM, "PLATFORM_RESPONSE", text, at)
        self.enqueue(c, "RESPONSE_BY_PLATFORM", notify)

    def seller_refund(self, complaint_id: str, *, at: datetime | None = None, notify: bool = True) -> None:
        """The payee refunded in full (``SELLER_REFUND``; ``complaintFullRefunded`` becomes 1)."""
        c = self.get(complaint_id)
        c.full_refunded = True
        self.record(c, SYSTEM, "COMPLAINT_FULL_REFUNDED_SYSTEM_MESSAGE", "订单已全额退款", at)
        self.enqueue(c, "SELLER_REFUND", notify)

    # ------------------------------------------------------ merchant actions
    def merchant_reply(
        self,
        complaint_id: str,
        text: str,
        *,
        uploads: Sequence[int] = (),
        act_type: int | None = None,
        at: datetime | None = None,
        via_api: bool = False,
        notify: bool = True,
    ) -> str:
        """Reply to the user: PENDING -> PROCESSING, user message answered; returns the entry's logId."""
        c = self._open(complaint_id, "回复")
        media = self._publish(c, uploads)
        if c.state == ComplaintState.PENDING:
            c.state = ComplaintState.PROCESSING
        c.incoming_user_response = False
        entry = self.record(c, MERCHANT, "MERCHANT_RESPONSE", text, at, media, via_api)
        entry.act_type = act_type
        self.enqueue(c, "MERCHANT_RESPONSE", notify and self.notify_own_actions)
        return entry.log_id

    def complete(
        self,
        complaint_id: str,
        text: str | None = None,
        *,
        uploads: Sequence[int] = (),
        at: datetime | None = None,
        via_api: bool = False,
        notify: bool = True,
    ) -> str:
        """Report handling complete: -> PROCESSED; returns the entry's logId."""
        c = self._open(complaint_id, "重复反馈处理完成")
        media = self._publish(c, uploads)
        c.state = ComplaintState.PROCESSED
        details = text if text else "商户已处理完成"
        entry = self.record(c, MERCHANT, "MERCHANT_CONFIRM_COMPLETE", details, at, media, via_api)
        self.enqueue(c, "MERCHANT_CONFIRM_COMPLETE", notify and self.notify_own_actions)
        return entry.log_id

    def upload_image(self, merchant_no: str, content: bytes) -> int:
        """Keep an image ``merchant_no`` uploaded (JPG/PNG/BMP bytes); returns its new ``fileId``."""
        suffix = image_suffix(content)
        if suffix is None:
            raise ValueError("not a JPG, PNG or BMP image")
        file_id = self.api_rng.randrange(10**17, 10**18)
        while self.media.upload(file_id) is not None:
            file_id = self.api_rng.randrange(10**17, 10**18)
        self.media.add_upload(Upload(file_id, merchant_no, content, suffix))
        return file_id

    def merchant_actions(self, complaint_id: str, *, api_only: bool = False) -> list[dict[str, Any]]:
        """History documents written by the merchant, oldest first (optionally only API-made ones)."""
        return [
            e.document()
            for e in self.get(complaint_id).history
            if e.operator == MERCHANT and (e.via_api or not api_only)
        ]

    # -------------------------------------------------------------- queries
    def get(self, complaint_id: str) -> Complaint:
        """The complaint record (raises ``UnknownComplaint``)."""
        try:
            return self._complaints[complaint_id]
        except KeyError:
            raise UnknownComplaint(complaint_id) from None

    def complaint(self, complaint_id: str) -> dict[str, Any]:
        """The ``COMPLAINT_QUERY`` document of one complaint."""
        return self.get(complaint_id).document()

    def history(self, complaint_id: str) -> list[dict[str, Any]]:
        """``COMPLAINT_QUERY_HISTORY`` documents, oldest first."""
        return [entry.document() for entry in self.get(complaint_id).history]

    def complaint_ids(self) -> list[str]:
        """All complaint ids in creation order."""
        return list(self._complaints)

    def find(
        self,
        merchant_nos: set[str],
        *,
        begin: str | None = None,
        end: str | None = None,
        complaint_id: str | None = None,
        merchant_trade_no: str | None = None,
    ) -> list[Complaint]:
        """Complaints of ``merchant_nos`` matching every given filter (dates inclusive), by time then id."""
        found = [
            c
            for c in self._complaints.values()
            if c.merchant_no in merchant_nos
            and (begin is None or c.shanghai_date >= begin)
            and (end is None or c.shanghai_date <= end)
            and (complaint_id is None or c.complaint_id == complaint_id)
            and (merchant_trade_no is None or c.merchant_trade_no == merchant_trade_no)
        ]
        return sorted(found, key=lambda c: (c.complaint_time, c.complaint_id))

    # -------------------------------------------------------- notifications
    @property
    def notifications(self) -> list[Notification]:
        """Every notification decided so far (sent, pending, dropped)."""
        return self.queue.log

    def due_notifications(self) -> list[Notification]:
        """Queued notifications whose next attempt is due."""
        return self.queue.due(self.tick())

    def settle(self) -> None:
        """Forget finished notifications from the queue."""
        self.queue.settle()

    def enqueue(self, complaint: Complaint, action_type: str, notify: bool) -> None:
        """Queue ``action_type`` for the complaint's merchant and its agent (unless ``notify`` is false)."""
        if not notify:
            return
        for merchant in self.merchants.recipients(complaint.merchant_no):
            if merchant.notify_url is None:
                self.stats.unrouted_notifications += 1
                continue
            self.queue.add(complaint.complaint_id, action_type, merchant.merchant_no, self.now())

    # -------------------------------------------------------------- helpers
    def record(
        self,
        c: Complaint,
        operator: str,
        operate_type: str,
        details: str | None,
        at: datetime | None,
        image_urls: list[str] | None = None,
        via_api: bool = False,
    ) -> HistoryEntry:
        """Append a history entry and return it."""
        when = at or self.now()
        rng = self.api_rng if via_api else self.rng
        log_id = f"{when.astimezone(SHANGHAI):%Y%m%d}{next(self._sequence) % 1000000:06d}{digits(rng, 6)}"
        entry = HistoryEntry(log_id, operator, when, operate_type, details, image_urls or [], via_api)
        c.history.append(entry)
        return entry

    def _open(self, complaint_id: str, what: str) -> Complaint:
        c = self.get(complaint_id)
        if c.state == ComplaintState.PROCESSED:
            raise InvalidState(f"投诉单已处理完成，不能{what}")
        return c

    def _new_media(self, c: Complaint, count: int) -> list[str]:
        return [self.media.attach(c.complaint_id, self.rng) for _ in range(count)]

    def _publish(self, c: Complaint, file_ids: Sequence[int]) -> list[str]:
        """Attach uploaded files to the complaint under fresh downloadable URLs."""
        uploads = [self.media.upload(file_id) for file_id in file_ids]
        found = [upload for upload in uploads if upload is not None]
        if len(found) != len(uploads):
            raise ValueError("unknown fileId")
        return [self.media.attach(c.complaint_id, self.api_rng, (u.content, u.suffix)) for u in found]
