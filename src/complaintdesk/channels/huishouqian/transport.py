"""Transport for the Huishouqian gateway: envelope, budgets, retries, verification, error mapping.

Every call is a form POST to the method's path. Budgets are per merchant number and kind of call
(``huishouqian:{merchantNo}:query`` / ``:write``). Reads (query, history, file download) are retried with
jittered exponential backoff on network errors, HTTP 429/5xx and the codes ``000001``/``130001``.
Writes (commit response/complete, file upload) are retried only when the connection failed before the
request left; anything after sending is raised at once, with ``context["uncertain"]`` set when the write
may have been applied (5xx, ``000001``, ``130001``, an unreadable or unverifiable answer) so the caller
checks the history before trying again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time as _time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from complaintdesk.channels.common.retry import (
    PooledTransport,
    full_jitter,
    http_client,
    json_object,
    transport_error,
)
from complaintdesk.channels.huishouqian.envelope import (
    HuishouqianCredentials,
    encode_business,
    encode_form,
    open_response,
    parse_response,
    seal_request,
    verify_response,
)
from complaintdesk.channels.huishouqian.errors import UNCERTAIN_CODES, error_for_code
from complaintdesk.errors import (
    ChannelAPIError,
    ChannelError,
    ChannelTransportError,
    InvalidRequest,
    RateLimited,
    UpstreamUnavailable,
)
from complaintdesk.ratelimit import RateLimiter, SlidingWindowLimiter
from complaintdesk.settings import HuishouqianSettings

__all__ = ["API_HOSTS", "METHODS", "HuishouqianTransport", "MethodSpec"]

logger = logging.getLogger(__name__)

CHANNEL = "huishouqian"
#: Known gateway hosts (production, test, and pre-production from one third-party demo).
API_HOSTS = {
    "production": "https://api.huishouqian.com",
    "test": "https://test-api.huishouqian.com",
    "pre": "https://api-pre.huishouqian.com",
}
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}


@dataclass(frozen=True)
class MethodSpec:
    """A gateway method: its path and which budget it spends (``query`` or ``write``)."""

    name: str
    path: str
    budget: str

    @property
    def is_write(self) -> bool:
        """Whether repeating the call could apply it twice."""
        return self.budget == "write"


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec("COMPLAINT_QUERY", "/complaint/query", "query"),
        MethodSpec("COMPLAINT_QUERY_HISTORY", "/complaint/queryHistory", "query"),
        MethodSpec("COMPLAINT_COMMIT_RESPONSE", "/complaint/commitResponse", "write"),
        MethodSpec("COMPLAINT_COMMIT_COMPLETE", "/complaint/commitComplete", "write"),
        MethodSpec("COMPLAINT_FILE_UPLOAD", "/complaint/upload", "write"),
        MethodSpec("COMPLAINT_FILE_DOWNLOAD", "/complaint/download", "query"),
    )
}


def _transport_error(exc: httpx.TransportError, method: str) -> ChannelTransportError:
    """Translate an httpx failure, telling whether the request may have been sent."""
    return transport_error(exc, method, channel=CHANNEL, upstream="Huishouqian", method=method)


def _http_error(response: httpx.Response, method: str) -> ChannelAPIError:
    """The error for a non-2xx HTTP answer (the gateway answers 200 with an envelope)."""
    status = response.status_code
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
    message = f"{method}: HTTP {status} from Huishouqian ({len(response.content)} bytes, {content_type})"
    if status == 429:
        return RateLimited(message, channel=CHANNEL, status=status, retryable=True, method=method)
    if status >= 500:
        return UpstreamUnavailable(message, channel=CHANNEL, status=status, retryable=True, method=method)
    return InvalidRequest(message, channel=CHANNEL, status=status, method=method)


def _mark_uncertain(error: ChannelError) -> ChannelError:
    """Mark a write's error as "may have been applied": never resent blindly."""
    error.retryable = False
    error.context["uncertain"] = True
    return error


class HuishouqianTransport(PooledTransport):
    """Sealed, budgeted, verified gateway calls for one merchant number (base of ``HuishouqianClient``)."""

    def __init__(
        self,
        credentials: HuishouqianCredentials,
        *,
        settings: HuishouqianSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        base_url: str | None = None,
        limiter: RateLimiter | None = None,
        time: Callable[[], float] = _time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        user_agent: str = "complaintdesk/0.1",
        rng: random.Random | None = None,
        date_format: str = "yyyy-MM-dd",
    ) -> None:
        self.credentials = credentials
        self.date_format = date_format  # wire format of beginDate/endDate (see ``client.DATE_FORMATS``)
        self.settings = settings
        self.stats: collections.Counter[str] = collections.Counter()
        self._limiter = limiter or SlidingWindowLimiter()
        self._time = time
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._budgets = {"query": settings.query_per_minute, "write": settings.write_per_minute}
        self._http = http_client(
            settings,
            base_url=base_url or settings.base_url,
            transport=transport,
            user_agent=user_agent,
            channel=CHANNEL,
        )

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential delay for retry number ``attempt`` (0-based)."""
        return full_jitter(
            self._rng, attempt, initial=self.settings.backoff_initial, maximum=self.settings.backoff_max
        )

    async def _acquire(self, spec: MethodSpec) -> None:
        """Wait for the method's budget, then count the call."""
        key = f"huishouqian:{self.credentials.merchant_no}:{spec.budget}"
        await self._limiter.acquire(key, self._budgets[spec.budget])
        self.stats[spec.name] += 1

    async def call(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        """Send one gateway call and return its verified business ``result`` as a JSON object."""
        spec = METHODS[method]
        body = encode_form(seal_request(self.credentials, method, encode_business(business)))
        attempt = 0
        while True:
            await self._acquire(spec)
            error: ChannelError
            try:
                response = await self._http.post(spec.path, content=body, headers=_FORM_HEADERS)
            except httpx.TransportError as exc:
                error, status = _transport_error(exc, method), type(exc).__name__
                if spec.is_write and error.sent:
                    raise error from None
            else:
                status = str(response.status_code)
                try:
                    return self._open(response, spec)
                except ChannelError as exc:
                    error = exc
                if spec.is_write:
                    raise error
                status = getattr(error, "code", "") or status
            retry = isinstance(error, ChannelTransportError) or error.retryable
            if not retry or attempt >= self.settings.max_retries:
                raise error
            attempt += 1
            delay = self._backoff(attempt - 1)
            self.stats["retries"] += 1
            logger.info(
                "huishouqian retry method=%s attempt=%d status=%s delay=%.2fs", method, attempt, status, delay
            )
            await self._sleep(delay)

    def _open(self, response: httpx.Response, spec: MethodSpec) -> dict[str, Any]:
        """Check one HTTP answer: status, envelope, signature, code; return the business object."""
        method = spec.name
        if not 200 <= response.status_code < 300:
            if response.status_code == 429:
                self.stats["429"] += 1
            error: ChannelError = _http_error(response, method)
            if spec.is_write and response.status_code >= 500:
                _mark_uncertain(error)
            raise error
        try:
            envelope = parse_response(response.content)
            if not envelope.ok:
                verify_response(self.credentials, envelope, method=method)
                code = envelope.error_code or ""
                error = error_for_code(code, envelope.error_msg, method=method)
                if spec.is_write and code in UNCERTAIN_CODES:
                    _mark_uncertain(error)
                raise error
            text = open_response(self.credentials, envelope, method=method)
            doc = json_object(text)
            if doc is None:
                raise ChannelError(f"{method}: result is not a JSON object", channel=CHANNEL)
            return doc
        except ChannelAPIError:
            raise
        except ChannelError as exc:  # unreadable or unverifiable answer: a write may have been applied
            exc.context.setdefault("method", method)
            raise _mark_uncertain(exc) if spec.is_write else exc from None
