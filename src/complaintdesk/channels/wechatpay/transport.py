"""Transport for APIv3: signing, budgets, retries, response verification and error mapping.

Reads (GET) are retried on 429, 5xx and any transport error: repeating them is harmless.
Writes (POST/PUT/DELETE) are retried only when they were certainly not applied: a 429 answer, or a
connection that failed before the request left. Anything else that happens after sending is raised at once
(``ChannelTransportError(sent=True)``, ``UpstreamUnavailable`` for 5xx/202) so the caller can look at the
negotiation history before trying again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time as _time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import ValidationError

from complaintdesk.channels.common.retry import (
    PooledTransport,
    full_jitter,
    http_client,
    json_object,
    transport_error,
)
from complaintdesk.channels.wechatpay.auth import SIGN_BODY_EXTENSION, WeChatPayAuth
from complaintdesk.channels.wechatpay.crypto import VerifierKeys
from complaintdesk.channels.wechatpay.errors import error_from_response, header, shape_error
from complaintdesk.channels.wechatpay.models import TolerantModel
from complaintdesk.channels.wechatpay.webhook import verify_signature
from complaintdesk.errors import (
    ChannelError,
    ChannelTransportError,
    RateLimited,
    ResponseVerificationError,
    UpstreamUnavailable,
    WebhookError,
)
from complaintdesk.ratelimit import RateLimiter, SlidingWindowLimiter
from complaintdesk.settings import WeChatPaySettings

__all__ = ["COMPLAINTS_PATH", "WeChatPayCredentials", "WeChatPayTransport", "encode_json"]

# the retry log keeps the name operators already filter on
logger = logging.getLogger("complaintdesk.channels.wechatpay.client")

CHANNEL = "wechatpay"
COMPLAINTS_PATH = "/v3/merchant-service/complaints-v2"
#: Endpoints that share another endpoint's budget (reply and immediate-service reply share 60/min).
_BUDGET_OF = {"reply_immediate": "reply"}
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


def _drop_nulls(value: Any) -> Any:
    """Remove ``None`` members of objects, recursively (APIv3 wants absent fields, never JSON null)."""
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value if item is not None]
    return value


def encode_json(doc: dict[str, Any]) -> bytes:
    """Serialise a request body once: compact, UTF-8 (no ``\\u`` escapes), nulls dropped."""
    return orjson.dumps(_drop_nulls(doc))


def _transport_error(exc: httpx.TransportError, endpoint: str) -> ChannelTransportError:
    """Translate an httpx transport failure, telling whether the request may have been sent."""
    return transport_error(exc, endpoint, channel=CHANNEL, upstream="WeChat Pay", endpoint=endpoint)


class WeChatPayTransport(PooledTransport):
    """Signed, budgeted, verified HTTP exchanges for one credential set (base of ``WeChatPayClient``)."""

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
        self._http = http_client(
            settings,
            base_url=self._base_url,
            transport=transport,
            user_agent=user_agent,
            auth=auth,
            channel=CHANNEL,
        )
        self._budgets = {
            "list": settings.list_per_minute,
            "detail": settings.detail_per_minute,
            "history": settings.history_per_minute,
            "certificates": settings.certificates_per_minute,
            "image": settings.image_download_per_minute,
            "reply": settings.reply_per_minute,
            "upload": settings.upload_per_minute,
            "complete": settings.complete_per_minute,
            "refund_progress": settings.refund_update_per_minute,
            "notifications": settings.notifications_per_minute,
        }

    # -- budgets and retries ----------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Return a full-jitter exponential delay for retry number ``attempt`` (0-based)."""
        return full_jitter(
            self._rng, attempt, initial=self.settings.backoff_initial, maximum=self.settings.backoff_max
        )

    async def _acquire(self, endpoint: str) -> None:
        """Wait for the endpoint's budget, then count the call."""
        budget = _BUDGET_OF.get(endpoint, endpoint)
        await self._limiter.acquire(f"wechatpay:{self.credentials.mchid}:{budget}", self._budgets[budget])
        self.stats[endpoint] += 1

    async def _pause_before_retry(
        self, endpoint: str, attempt: int, status: int | str, request_id: str
    ) -> None:
        """Log and sleep before retry number ``attempt`` (1-based)."""
        delay = self._backoff(attempt - 1)
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

    async def _get(self, endpoint: str, url: str | httpx.URL) -> httpx.Response:
        """GET with budget, retries on 429/5xx/transport errors, and error mapping; return a 2xx response."""
        attempt = 0
        while True:
            await self._acquire(endpoint)
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
            attempt += 1
            await self._pause_before_retry(endpoint, attempt, status, request_id)

    async def _write(
        self,
        endpoint: str,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        sign_body: str | None = None,
    ) -> httpx.Response:
        """Send a POST/PUT/DELETE; retry only when it certainly was not applied; return a verified 2xx.

        ``body`` is sent as is and (unless ``sign_body`` overrides it) is exactly what gets signed.
        """
        headers = {"Content-Type": content_type} if body is not None else {}
        extensions = {SIGN_BODY_EXTENSION: sign_body} if sign_body is not None else None
        attempt = 0
        while True:
            await self._acquire(endpoint)
            status: int | str
            request_id = ""
            error: ChannelError
            try:
                response = await self._http.request(
                    method, url, content=body, headers=headers, extensions=extensions
                )
            except httpx.TransportError as exc:
                error, status = _transport_error(exc, endpoint), type(exc).__name__
                if error.sent:
                    raise error from None
            else:
                status = response.status_code
                request_id = header(response.headers, "Request-ID")
                if 200 <= status < 300 and status != 202:
                    try:
                        self._verify(response, endpoint)
                    except ResponseVerificationError as exc:
                        exc.context.update(endpoint=endpoint, uncertain=True)  # probably applied
                        raise
                    return response
                if status == 429:
                    self.stats["429"] += 1
                if status >= 500 or status == 202:
                    raise self._uncertain(response, endpoint)
                error = error_from_response(status, response.content, response.headers)
                if not isinstance(error, RateLimited):
                    raise error  # a 4xx refusal: not applied, and repeating it would not help
            if attempt >= self.settings.max_retries:
                raise error
            attempt += 1
            await self._pause_before_retry(endpoint, attempt, status, request_id)

    @staticmethod
    def _uncertain(response: httpx.Response, endpoint: str) -> UpstreamUnavailable:
        """The error for a 5xx (or 202) answer to a write: it may or may not have been applied."""
        status = response.status_code
        if status == 202:
            error = UpstreamUnavailable(
                f"{endpoint}: HTTP 202 (accepted, not processed yet)",
                channel=CHANNEL,
                status=202,
                request_id=header(response.headers, "Request-ID"),
            )
        else:
            mapped = error_from_response(status, response.content, response.headers)
            error = UpstreamUnavailable(
                mapped.message,
                channel=CHANNEL,
                status=status,
                code=mapped.code,
                detail=mapped.detail,
                request_id=mapped.request_id,
            )
        # not blindly retryable: the outcome is unknown, so the history must be checked first
        error.retryable = False
        error.context.update(endpoint=endpoint, uncertain=True)
        return error

    # -- responses --------------------------------------------------------------------------------------

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
        doc = json_object(response.content)
        if doc is None:
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
