"""The base of the simulator's state: clock, merchants, signing keys, limits, records, notifications."""

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
from complaintdesk.sandbox.wechatpay import effects
from complaintdesk.sandbox.wechatpay.crypto import load_private_key
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.wechatpay.media import MediaStore, Upload, sniff_image
from complaintdesk.sandbox.wechatpay.model import (
    SHANGHAI,
    Complaint,
    HistoryEntry,
    Notification,
    Stats,
    digits,
    new_media_id,
)
from complaintdesk.sandbox.wechatpay.queue import NotificationQueue, SlidingWindows
from complaintdesk.sandbox.wechatpay.registry import MerchantRegistry
from complaintdesk.sandbox.wechatpay.rotation import CertificateRing

#: Calls per merchant per sliding minute (spec §3.9; ``refund_progress`` and ``notify_url`` are not
#: published: 60 like the other write endpoints). ``reply`` is shared by both reply endpoints.
DEFAULT_LIMITS: dict[str, int] = {
    "list": 200,
    "detail": 200,
    "history": 200,
    "certificates": 600,
    "reply": 60,
    "complete": 1500,
    "upload": 60,
    "refund_progress": 60,
    "notify_url": 60,
}


class SignMode(StrEnum):
    """Which WeChat Pay key signs responses and notifications."""

    CERTIFICATE = "certificate"
    PUBLIC_KEY = "public_key"
    MIGRATING = "migrating"


class UnknownComplaint(KeyError):
    """No complaint with that id."""


class StateCore:
    """Clock, merchants, keys, rate limits, records and the notification queue (no complaint events).

    Write-side options: ``reply_max_chars`` (200), ``auto_refund``/``refund_delay`` (an approved refund
    arrives by itself, after 0 s by default), ``not_found_status`` (400: "no callback URL"),
    ``allow_http_callbacks`` (False: the callback-URL API only takes https); ``jump_url_whitelist`` is
    a mutable set of mchids allowed to use reply jump links.
    """

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
        reply_max_chars: int = 200,
        auto_refund: bool = True,
        refund_delay: float = 0.0,
        not_found_status: int = 400,
        allow_http_callbacks: bool = False,
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
        self.reply_max_chars = reply_max_chars  # 200 (merchant doc) vs 500 (partner doc), spec §1.4
        self.auto_refund = auto_refund  # an approved refund arrives by itself after refund_delay seconds
        self.refund_delay = refund_delay
        self.not_found_status = not_found_status  # HTTP status of "no callback URL" (400 documented)
        self.allow_http_callbacks = allow_http_callbacks  # the API accepts http:// callback URLs too
        self.jump_url_whitelist: set[str] = set()  # mchids allowed to send jump_url / mini_program_jump_info
        self.api_rng = random.Random(seed + 2)  # ids created by merchants' API calls
        self.media = MediaStore()
        self.idempotent_replies: dict[tuple[str, str], str] = {}  # (complaint_id, idempotent_id) -> log_id
        self.refunds_due: dict[str, datetime] = {}  # complaint_id -> when the approved refund arrives
        self.stats = Stats()
        self.queue = NotificationQueue(self.rng, self.faults)
        self.windows = SlidingWindows(self.limits)
        self.merchants = MerchantRegistry()
        self._complaints: dict[str, Complaint] = {}
        self._sequence = itertools.count(1)
        self._api_sequence = itertools.count(1)
        self.certificates = CertificateRing(platform)  # rotation: rotate(), retire(serial)
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
        current = self.certificates.current
        return current.private_key, current.serial_no

    def notification_signer(self) -> tuple[rsa.RSAPrivateKey, str]:
        """Key and serial for a notification (a random mix of both while migrating)."""
        if self.sign_mode == SignMode.PUBLIC_KEY or (
            self.sign_mode == SignMode.MIGRATING and self.fault_rng.random() < 0.5
        ):
            return self.public_key_key, self.platform.public_key_id
        current = self.certificates.current
        return current.private_key, current.serial_no

    # ---------------------------------------------------------- rate limits
    def admit(self, mchid: str, endpoint: str) -> bool:
        """Sliding 60-second window per (merchant, endpoint); False when over the limit."""
        return self.windows.admit(mchid, endpoint, self.tick())

    def run_scheduled(self) -> int:
        """Apply timed events that are due (refund arrivals); the API and the notifier call this."""
        return effects.run_scheduled(self)

    def upload_image(self, mchid: str, content: bytes, filename: str = "image.png") -> str:
        """Store an image ``mchid`` uploaded (JPG/PNG/BMP bytes); returns its new media id."""
        content_type = sniff_image(content)
        if content_type is None:
            raise ValueError("not a JPG, PNG or BMP image")
        media_id = new_media_id(self.api_rng)
        while self.media.known(media_id):
            media_id = new_media_id(self.api_rng)
        self.media.add_upload(Upload(media_id, mchid, filename, content, content_type))
        return media_id

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
        """The complaint a downloadable media id belongs to."""
        complaint_id = self.media.complaint_of(media_id)
        return self._complaints.get(complaint_id) if complaint_id else None

    # -------------------------------------------------------- notifications
    @property
    def notifications(self) -> list[Notification]:
        """Every notification decided so far (sent, pending, dropped, probes)."""
        return self.queue.log

    def due_notifications(self) -> list[Notification]:
        """Queued notifications whose next attempt is due (after letting due refunds arrive)."""
        self.run_scheduled()
        return self.queue.due(self.tick())

    def settle(self) -> None:
        """Forget finished notifications from the queue."""
        self.queue.settle()

    def enqueue(self, complaint: Complaint, action_type: str, notify: bool) -> None:
        """Queue ``action_type`` for everyone notified about ``complaint`` (unless ``notify`` is false)."""
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
            self.media.register(media_id, complaint_id)
        return media

    def record(
        self,
        c: Complaint,
        operator: str,
        operate_type: str,
        details: str | None,
        at: datetime | None,
        media_type: str | None = None,
        media_ids: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        *,
        via_api: bool = False,
    ) -> HistoryEntry:
        """Append a history entry (ids from the API generator when ``via_api``) and return it."""
        when = at or self.now()
        day = when.astimezone(SHANGHAI).strftime("%Y%m%d")
        rng, sequence = (self.api_rng, self._api_sequence) if via_api else (self.rng, self._sequence)
        log_id = f"300{day}{next(sequence) % 1000000:06d}{digits(rng, 10)}"
        entry = HistoryEntry(
            log_id, operator, when, operate_type, details, media_type, media_ids or [], extra or {}, via_api
        )
        c.history.append(entry)
        return entry
