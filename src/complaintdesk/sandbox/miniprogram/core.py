"""The base of the Mini Program simulator's state: clock, apps, tokens, media, quotas, the push queue."""

from __future__ import annotations

import itertools
import random
import time
from collections import deque
from datetime import date, datetime
from typing import Any

from complaintdesk.clock import Clock, SystemClock
from complaintdesk.sandbox.common.delivery import roll_delivery_faults
from complaintdesk.sandbox.faults import Faults
from complaintdesk.sandbox.miniprogram import codes
from complaintdesk.sandbox.miniprogram.keys import AppCredentials
from complaintdesk.sandbox.miniprogram.media import MediaStore, sniff_image
from complaintdesk.sandbox.miniprogram.model import Complaint, Push, Stats, UrlFor, unix
from complaintdesk.sandbox.miniprogram.push import (
    COMPLAINT_EVENT,
    OTHER_EVENTS,
    App,
    MessageFormat,
    MessageMode,
    complaint_info,
)
from complaintdesk.sandbox.miniprogram.tokens import SHANGHAI, TokenStore

#: Calls per app and endpoint per sliding minute (errcode 45011 beyond). stable_token's 10,000 is
#: official; the complaint APIs publish none: ASSUMPTION, generous enough for a desk, finite for tests.
DEFAULT_LIMITS: dict[str, int] = {
    "stable_token": 10000,
    "token": 10000,
    "detail": 1000,
    "respond": 600,
    "supply_proof": 600,
    "supply_refund": 600,
    "appeal": 600,
    "upload": 600,
}
#: Calls per app and endpoint per Shanghai calendar day (errcode 45009 beyond).
DAY_LIMITS: dict[str, int] = {"stable_token": 500000, "token": 2000, "upload": 100000}
DEFAULT_API_BASE = "https://api.weixin.qq.com"


class UnknownApp(KeyError):
    """No mini program with that appid."""


class UnknownComplaint(KeyError):
    """No complaint with that id."""


class Quotas:
    """Sliding-minute windows and calendar-day counters per (appid, endpoint)."""

    def __init__(self, per_minute: dict[str, int], per_day: dict[str, int]) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._days: dict[tuple[str, str, date], int] = {}

    def admit(self, appid: str, endpoint: str, now: float, day: date) -> int:
        """Record one call; 0 when admitted, else errcode 45011 (minute) or 45009 (day)."""
        limit = self.per_minute.get(endpoint)
        window = self._windows.setdefault((appid, endpoint), deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if limit is not None and len(window) >= limit:
            return codes.MINUTE_QUOTA
        daily = self.per_day.get(endpoint)
        key = (appid, endpoint, day)
        if daily is not None and self._days.get(key, 0) >= daily:
            return codes.DAILY_QUOTA
        window.append(now)
        self._days[key] = self._days.get(key, 0) + 1
        return 0


class StateCore:
    """Clock, apps, tokens, uploads, quotas, pushes and the complaint table (no complaint events).

    ``public_base_url`` is where CDN image links in pushes point (the detail API uses the request's own
    base URL); ``other_event_rate`` is the chance that an unrelated event is pushed along with a complaint
    event; ``push_on_merchant_actions`` (True, ASSUMPTION) pushes status changes the merchant caused.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        seed: int = 0,
        faults: Faults | None = None,
        limits: dict[str, int] | None = None,
        *,
        day_limits: dict[str, int] | None = None,
        token_ttl: int = 7200,
        public_base_url: str = DEFAULT_API_BASE,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._monotonic = clock is None
        self.rng = random.Random(seed)  # ids and scenario decisions
        self.fault_rng = random.Random(seed + 1)  # traffic-time decisions (faults)
        self.api_rng = random.Random(seed + 2)  # ids created by API calls (tokens, media ids)
        self.faults = faults or Faults()
        self.limits: dict[str, int] = {**DEFAULT_LIMITS, **(limits or {})}
        self.quotas = Quotas(self.limits, {**DAY_LIMITS, **(day_limits or {})})
        self.tokens = TokenStore(self.api_rng, ttl=token_ttl)
        self.media = MediaStore(self.api_rng)
        self.stats = Stats()
        self.public_base_url = public_base_url
        self.other_event_rate = 0.0
        self.push_on_merchant_actions = True
        self.auto_expire = True  # deadlines pass by themselves whenever the API or the notifier runs
        self.content_max_chars = 500  # ASSUMPTION: not published
        self.media_max_count = 9  # ASSUMPTION: not published
        self.apps: dict[str, App] = {}
        self._complaints: dict[str, Complaint] = {}
        self._pushes: list[Push] = []
        self._pending: list[Push] = []
        self._push_ids = itertools.count(1)

    # ----------------------------------------------------------------- time
    def now(self) -> datetime:
        """Current instant from the state's clock."""
        return self.clock.now()

    def tick(self) -> float:
        """Seconds for retry schedules: monotonic by default, the injected clock otherwise."""
        return time.monotonic() if self._monotonic else self.clock.now().timestamp()

    def today(self) -> date:
        """The Shanghai calendar date (daily quotas)."""
        return self.now().astimezone(SHANGHAI).date()

    # ----------------------------------------------------------------- apps
    def register_app(
        self,
        appid: str,
        secret: str,
        token: str,
        encoding_aes_key: str,
        *,
        push_url: str | None = None,
        message_format: str = "xml",
        message_mode: str = "safe",
        original_id: str | None = None,
        json_layout: str = "flat",
        json_quirks: bool = True,
        send_openid: bool = True,
    ) -> App:
        """Register a mini program and its message-server configuration."""
        if json_layout not in ("flat", "nested"):
            raise ValueError("json_layout must be 'flat' or 'nested'")
        creds = AppCredentials(appid, secret, token, encoding_aes_key, original_id or f"gh_{appid[-12:]}")
        app = App(
            creds,
            push_url,
            MessageFormat(message_format),
            MessageMode(message_mode),
            json_layout,
            json_quirks,
            send_openid,
        )
        self.apps[appid] = app
        return app

    def register(self, credentials: AppCredentials, **options: Any) -> App:
        """Register generated ``credentials`` (options as for ``register_app``)."""
        c = credentials
        return self.register_app(
            c.appid, c.secret, c.token, c.encoding_aes_key, original_id=c.original_id, **options
        )

    def app(self, appid: str) -> App:
        """The registered app (raises ``UnknownApp``)."""
        try:
            return self.apps[appid]
        except KeyError:
            raise UnknownApp(appid) from None

    # ---------------------------------------------------------------- media
    def upload_media(self, appid: str, data: bytes) -> str:
        """Store an image ``appid`` uploaded (PNG/JPEG/GIF); returns its media id (valid 3 days)."""
        content_type = sniff_image(data)
        if content_type is None:
            raise ValueError("not a PNG, JPEG or GIF image")
        return self.media.add_upload(self.app(appid).appid, data, content_type, self.now()).media_id

    def url_for(self, base: str | None = None) -> UrlFor:
        """A function rendering image keys as CDN links under ``base`` (default ``public_base_url``)."""
        root, now = base or self.public_base_url, self.now()
        return lambda key: self.media.cdn_url(root, key, now)

    # ------------------------------------------------------------ complaints
    def get(self, complaint_order_id: str | int) -> Complaint:
        """The complaint record (raises ``UnknownComplaint``)."""
        try:
            return self._complaints[str(complaint_order_id)]
        except KeyError:
            raise UnknownComplaint(str(complaint_order_id)) from None

    def complaint(
        self, appid: str, complaint_order_id: str | int, *, base_url: str | None = None
    ) -> dict[str, Any]:
        """The detail response body exactly as ``complaintOrderDetail`` returns it."""
        c = self.get(complaint_order_id)
        if c.appid != appid:
            raise UnknownComplaint(str(complaint_order_id))
        return c.document(self.url_for(base_url))

    def complaint_ids(self, appid: str | None = None) -> list[str]:
        """Complaint ids in creation order (of one app when given)."""
        return [cid for cid, c in self._complaints.items() if appid is None or c.appid == appid]

    def find_by_order_id(self, order_id: str) -> Complaint | None:
        """The complaint about WeChat Pay transaction ``order_id``, if any."""
        return next((c for c in self._complaints.values() if c.order_id == order_id), None)

    def merchant_actions(
        self, complaint_order_id: str | int, *, api_only: bool = False
    ) -> list[dict[str, Any]]:
        """What the merchant did (``action``, ``time``, ``content``, ``media``, …), oldest first (copies)."""
        log = self.get(complaint_order_id).merchant_log
        return [dict(entry) for entry in log if entry.get("via_api") or not api_only]

    # ---------------------------------------------------------------- pushes
    @property
    def pushes(self) -> list[Push]:
        """Every push decided so far (sent, pending, dropped)."""
        return list(self._pushes)

    def pending_pushes(self) -> list[Push]:
        """Pushes not finished yet."""
        return [p for p in self._pending if not p.finished]

    def due_pushes(self) -> list[Push]:
        """Pushes whose next attempt is due (after letting due deadlines pass)."""
        self.run_scheduled()
        now = self.tick()
        return [p for p in self._pending if not p.finished and p.next_due <= now]

    def settle(self) -> None:
        """Forget finished pushes from the queue (they stay in ``pushes``)."""
        self._pending = [p for p in self._pending if not p.finished]

    def run_scheduled(self) -> int:
        """Apply deadlines that passed; overridden by the complaint state."""
        return 0

    def push_complaint(self, c: Complaint, option_type: int, at: datetime | None = None) -> Push | None:
        """Queue a ``complaint_callback`` snapshot of ``c`` (maybe plus an unrelated event)."""
        app = self.app(c.appid)
        info, history = complaint_info(c, option_type, self.url_for())
        push = self._queue(app, COMPLAINT_EVENT, info, history, c.open_id, at, c.complaint_order_id, c.status)
        if self.other_event_rate > 0 and self.rng.random() < self.other_event_rate:
            self.push_event(c.appid, self.rng.choice(sorted(OTHER_EVENTS)), at=at)
        return push

    def push_event(self, appid: str, event: str, *, at: datetime | None = None, **fields: Any) -> Push | None:
        """Queue an unrelated event (``weapp_audit_success`` …) for ``appid``."""
        app = self.app(appid)
        info = dict(OTHER_EVENTS.get(event, {}))
        if "SuccTime" in info:
            info["SuccTime"] = unix(at or self.now())
        if "appid" in info:
            info["appid"] = appid
        if "trace_id" in info:
            info["trace_id"] = "".join(self.rng.choice("0123456789abcdef") for _ in range(24))
        info.update(fields)
        system_user = "o" + app.credentials.original_id[3:].ljust(27, "0")
        return self._queue(app, event, info, [], system_user, at, None, None)

    def _queue(
        self,
        app: App,
        event: str,
        info: dict[str, Any],
        history: list[dict[str, Any]],
        from_user: str,
        at: datetime | None,
        complaint_order_id: str | None,
        status: int | None,
    ) -> Push | None:
        if app.push_url is None:
            self.stats.unrouted_pushes += 1
            return None
        push = Push(
            next(self._push_ids),
            app.appid,
            event,
            unix(at or self.now()),
            from_user,
            info,
            history,
            complaint_order_id,
            status,
        )
        roll_delivery_faults(push, self.rng, self.faults)
        self._pushes.append(push)
        if not push.dropped:
            self._pending.append(push)
        return push
