"""Async client for the read side of the WeChat Pay APIv3 consumer-complaints API."""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time as _time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import ValidationError

from complaintdesk.channels.wechatpay.auth import WeChatPayAuth
from complaintdesk.channels.wechatpay.crypto import VerifierKeys, aead_open, load_certificate
from complaintdesk.channels.wechatpay.errors import error_from_response, header, shape_error
from complaintdesk.channels.wechatpay.models import (
    CertificateList,
    Complaint,
    ComplaintListPage,
    HistoryEntry,
    HistoryPage,
    PlatformCertificate,
    TolerantModel,
)
from complaintdesk.channels.wechatpay.webhook import AEAD_ALGORITHM, verify_signature
from complaintdesk.errors import (
    ChannelError,
    ChannelTransportError,
    ComplaintDeskError,
    ResponseVerificationError,
    WebhookError,
)
from complaintdesk.ratelimit import RateLimiter, SlidingWindowLimiter
from complaintdesk.settings import WeChatPaySettings

__all__ = ["MAX_WINDOW_DAYS", "WECHATPAY_API_HOSTS", "WeChatPayClient", "WeChatPayCredentials"]

logger = logging.getLogger(__name__)

CHANNEL = "wechatpay"
COMPLAINTS_PATH = "/v3/merchant-service/complaints-v2"
CERTIFICATES_PATH = "/v3/certificates"
#: Largest ``end_date - begin_date`` the list endpoint accepts.
MAX_WINDOW_DAYS = 30
#: Hosts a ``media_url`` may point at (the signed request is only ever sent to these or to ``base_url``).
WECHATPAY_API_HOSTS = frozenset(
    {"api.mch.weixin.qq.com", "api2.mch.weixin.qq.com", "api.wechatpay.cn", "api2.wechatpay.cn"}
)
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)
_M = TypeVar("_M", bound=TolerantModel)


@dataclass(frozen=True)
class WeChatPayCredentials:
    """Everything needed to call APIv3 as one merchant (the SP in service-provider mode)."""

    mchid: str
    merchant_serial: str
    private_key: RSAPrivateKey = field(repr=False)
    apiv3_key: bytes = field(repr=False)
    verifier: VerifierKeys = field(repr=False)
    prefer_public_key_id: str | None = None  # send ``Wechatpay-Serial: PUB_KEY_ID_…`` when set


def _check_window(begin_date: date, end_date: date) -> None:
    """Refuse date windows the list endpoint would reject."""
    if end_date < begin_date:
        raise ValueError("end_date is before begin_date")
    if (end_date - begin_date).days > MAX_WINDOW_DAYS:
        raise ValueError(f"the list window may span at most {MAX_WINDOW_DAYS} days; split it")


def _query(pairs: list[tuple[str, str]]) -> str:
    """Encode query pairs in the given (fixed) order."""
    return "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in pairs)


def _transport_error(exc: httpx.TransportError, endpoint: str) -> ChannelTransportError:
    """Translate an httpx transport failure, telling whether the request may have been sent."""
    sent = not isinstance(exc, _NOT_SENT)
    return ChannelTransportError(
        f"{endpoint}: {type(exc).__name__} talking to WeChat Pay",
        channel=CHANNEL,
        sent=sent,
        endpoint=endpoint,
    )


class WeChatPayClient:
    """Signed, budgeted, verified calls to the complaint read endpoints for one credential set.

    Usage::

        async with WeChatPayClient(credentials, settings=settings.wechatpay) as client:
            async for complaint in client.iter_complaints(begin_date=d1, end_date=d2):
                ...
    """

    def __init__(
        self,
        credentials: WeChatPayCredentials,
        *,
        settings: WeChatPaySettings,
        transport: httpx.AsyncBaseTransport | None = None,
        base_url: str | None = None,
        limiter: RateLimiter | None = None,
        time: Callable[[], float] = _time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        user_agent: str = "complaintdesk/0.1",
        rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self.settings = settings
        self.stats: collections.Counter[str] = collections.Counter()
        self._base_url = httpx.URL(base_url or settings.base_url)
        self._limiter = limiter or SlidingWindowLimiter(window_seconds=settings.budget_window_seconds)
        self._time = time
        self._sleep = sleep
        self._rng = rng or random.Random()
        auth = WeChatPayAuth(
            mchid=credentials.mchid,
            serial_no=credentials.merchant_serial,
            private_key=credentials.private_key,
            wechatpay_serial=credentials.prefer_public_key_id,
            time=time,
        )
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            transport=transport,
            auth=auth,
            headers={"Accept": "application/json", "User-Agent": user_agent},
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
        )
        self._budgets = {
            "list": settings.list_per_minute,
            "detail": settings.detail_per_minute,
            "history": settings.history_per_minute,
            "certificates": settings.certificates_per_minute,
            "image": settings.image_download_per_minute,
        }

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- plumbing ---------------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Return a full-jitter exponential delay for retry number ``attempt`` (0-based)."""
        cap = min(self.settings.backoff_max, self.settings.backoff_initial * (2**attempt))
        return self._rng.uniform(0, cap)

    async def _get(self, endpoint: str, url: str | httpx.URL) -> httpx.Response:
        """GET with budget, retries on 429/5xx/transport errors, and error mapping; return a 2xx response."""
        key = f"wechatpay:{self.credentials.mchid}:{endpoint}"
        attempt = 0
        while True:
            await self._limiter.acquire(key, self._budgets[endpoint])
            self.stats[endpoint] += 1
            status: int | str
            request_id = ""
            error: ChannelError
            try:
                response = await self._http.get(url)
            except httpx.TransportError as exc:
                error, status = _transport_error(exc, endpoint), type(exc).__name__
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                if status == 429:
                    self.stats["429"] += 1
                request_id = header(response.headers, "Request-ID")
                error = error_from_response(status, response.content, response.headers)
            # every call here is a GET: safe to repeat whatever happened to the previous attempt
            retry = isinstance(error, ChannelTransportError) or error.retryable
            if not retry or attempt >= self.settings.max_retries:
                raise error
            delay = self._backoff(attempt)
            attempt += 1
            self.stats["retries"] += 1
            logger.info(
                "wechatpay retry endpoint=%s attempt=%d status=%s request_id=%s delay=%.2fs",
                endpoint,
                attempt,
                status,
                request_id or "-",
                delay,
            )
            await self._sleep(delay)

    def _verify(self, response: httpx.Response, endpoint: str, keys: VerifierKeys | None = None) -> None:
        """Refuse a 2xx response whose ``Wechatpay-*`` signature is missing, stale or invalid."""
        try:
            verify_signature(
                response.content,
                response.headers,
                keys=keys or self.credentials.verifier,
                now=self._time(),
                tolerance=self.settings.timestamp_tolerance_seconds,
            )
        except WebhookError as exc:
            raise ResponseVerificationError(
                f"{endpoint} response refused: {exc.message}",
                channel=CHANNEL,
                request_id=header(response.headers, "Request-ID"),
            ) from exc

    @staticmethod
    def _json(response: httpx.Response, endpoint: str) -> dict[str, Any]:
        """Parse a JSON object body."""
        try:
            doc = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            raise ChannelError(f"{endpoint} response is not a JSON object", channel=CHANNEL)
        return doc

    @staticmethod
    def _model(model: type[_M], doc: dict[str, Any], endpoint: str) -> _M:
        """Parse ``doc`` into ``model`` or raise a ``ChannelError`` naming only field locations."""
        try:
            return model.from_raw(doc)
        except ValidationError as exc:
            raise shape_error(f"{endpoint} response", exc) from None

    async def _get_verified(self, model: type[_M], endpoint: str, url: str) -> _M:
        """GET, verify the signature, parse into ``model``."""
        response = await self._get(endpoint, url)
        self._verify(response, endpoint)
        return self._model(model, self._json(response, endpoint), endpoint)

    # -- complaints -------------------------------------------------------------------------------------

    async def list_complaints(
        self,
        *,
        begin_date: date,
        end_date: date,
        limit: int = 50,
        offset: int = 0,
        complainted_mchid: str | None = None,
    ) -> ComplaintListPage:
        """Fetch one page of complaints created in [begin_date, end_date] (span ≤ 30 days)."""
        _check_window(begin_date, end_date)
        if not 1 <= limit <= 50 or offset < 0:
            raise ValueError("limit must be in [1, 50] and offset >= 0")
        pairs = [
            ("limit", str(limit)),
            ("offset", str(offset)),
            ("begin_date", begin_date.isoformat()),
            ("end_date", end_date.isoformat()),
        ]
        if complainted_mchid:
            pairs.append(("complainted_mchid", complainted_mchid))
        return await self._get_verified(ComplaintListPage, "list", f"{COMPLAINTS_PATH}?{_query(pairs)}")

    async def iter_complaints(
        self, *, begin_date: date, end_date: date, complainted_mchid: str | None = None
    ) -> AsyncIterator[Complaint]:
        """Yield every complaint in the window, page by page (each complaint once)."""
        _check_window(begin_date, end_date)
        limit = max(1, min(50, self.settings.list_page_size))
        offset, total = 0, None
        seen: set[str] = set()
        while True:
            page = await self.list_complaints(
                begin_date=begin_date,
                end_date=end_date,
                limit=limit,
                offset=offset,
                complainted_mchid=complainted_mchid,
            )
            if offset == 0:
                total = page.total_count
            for complaint in page.data:
                if complaint.complaint_id not in seen:
                    seen.add(complaint.complaint_id)
                    yield complaint
            offset += len(page.data)
            if len(page.data) < limit or (total is not None and offset >= total):
                return

    async def get_complaint(self, complaint_id: str) -> Complaint:
        """Fetch one complaint's detail."""
        if not complaint_id:
            raise ValueError("complaint_id is empty")
        return await self._get_verified(
            Complaint, "detail", f"{COMPLAINTS_PATH}/{quote(complaint_id, safe='')}"
        )

    async def get_history(self, complaint_id: str, *, limit: int = 100, offset: int = 0) -> HistoryPage:
        """Fetch one page of a complaint's negotiation history."""
        if not complaint_id:
            raise ValueError("complaint_id is empty")
        if not 1 <= limit <= 300 or offset < 0:
            raise ValueError("limit must be in [1, 300] and offset >= 0")
        path = f"{COMPLAINTS_PATH}/{quote(complaint_id, safe='')}/negotiation-historys"
        query = _query([("limit", str(limit)), ("offset", str(offset))])
        return await self._get_verified(HistoryPage, "history", f"{path}?{query}")

    async def iter_history(self, complaint_id: str) -> list[HistoryEntry]:
        """Fetch the complete negotiation history (all pages, each entry once)."""
        limit = max(1, min(300, self.settings.history_page_size))
        offset, total = 0, None
        entries: dict[str, HistoryEntry] = {}
        while True:
            page = await self.get_history(complaint_id, limit=limit, offset=offset)
            if offset == 0:
                total = page.total_count
            for entry in page.data:
                entries.setdefault(entry.log_id, entry)
            offset += len(page.data)
            if len(page.data) < limit or (total is not None and offset >= total):
                return list(entries.values())

    # -- certificates and media -------------------------------------------------------------------------

    async def download_certificates(self) -> list[PlatformCertificate]:
        """Download, decrypt and trust the platform certificates (old ones stay trusted)."""
        response = await self._get("certificates", CERTIFICATES_PATH)
        listing = self._model(CertificateList, self._json(response, "certificates"), "certificates")
        request_id = header(response.headers, "Request-ID")
        certificates: list[PlatformCertificate] = []
        for item in listing.data:
            resource = item.encrypt_certificate
            if resource.algorithm != AEAD_ALGORITHM:
                raise ResponseVerificationError(
                    f"certificate {item.serial_no[:64]!r}: unsupported algorithm {resource.algorithm[:40]!r}",
                    channel=CHANNEL,
                    request_id=request_id,
                )
            try:
                pem = aead_open(
                    self.credentials.apiv3_key,
                    nonce=resource.nonce,
                    associated_data=resource.associated_data,
                    ciphertext=resource.ciphertext,
                )
                serial, key = load_certificate(pem)
            except ComplaintDeskError as exc:
                raise ResponseVerificationError(
                    f"certificate {item.serial_no[:64]!r} could not be opened: {exc.message}",
                    channel=CHANNEL,
                    request_id=request_id,
                ) from exc
            if item.serial_no and item.serial_no.upper().lstrip("0") != serial.lstrip("0"):
                raise ResponseVerificationError(
                    f"certificate serial {serial} does not match the listed serial_no",
                    channel=CHANNEL,
                    request_id=request_id,
                )
            certificates.append(PlatformCertificate(serial, item.effective_time, item.expire_time, pem, key))
        # the response may be signed by a certificate it introduces (first download or rotation):
        # its authenticity then rests on the AEAD, which only WeChat Pay and we can produce
        candidates = self.credentials.verifier.copy()
        for cert in certificates:
            if cert.serial_no not in candidates:
                candidates.add_key(cert.serial_no, cert.public_key)
        self._verify(response, "certificates", keys=candidates)
        for cert in certificates:
            if cert.serial_no not in self.credentials.verifier:
                self.credentials.verifier.add_key(cert.serial_no, cert.public_key)
        return certificates

    def _media_request_url(self, media_url: str) -> httpx.URL:
        """Resolve ``media_url`` without touching its escaped path; refuse foreign hosts."""
        url = httpx.URL(media_url)
        base = self._base_url
        prefix = base.raw_path.rstrip(b"/")
        if not url.is_absolute_url:
            if not url.raw_path.startswith(b"/"):
                raise ValueError("media_url must be absolute or start with '/'")
            return base.copy_with(raw_path=prefix + url.raw_path)
        if (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port):
            return url
        if url.host in WECHATPAY_API_HOSTS:
            if base.host in WECHATPAY_API_HOSTS:
                if url.scheme != "https":
                    raise ValueError("media_url must use https")
                return url
            # talking to a sandbox: keep its traffic there, path and query verbatim
            return base.copy_with(raw_path=prefix + url.raw_path)
        raise ValueError("media_url does not point at a WeChat Pay API host")

    async def download_image(self, media_url: str) -> tuple[bytes, str]:
        """Download a complaint image from its ``media_url`` (signed GET; the binary reply is unsigned)."""
        response = await self._get("image", self._media_request_url(media_url))
        content_type = header(response.headers, "Content-Type") or "application/octet-stream"
        return response.content, content_type
