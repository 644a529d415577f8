"""Transport for the Mini Program APIs: access token, budgets, retry policy and errcode mapping.

* Every call first acquires ``miniprogram:{appid}:{endpoint}`` from the ``RateLimiter``.
* ``access_token`` goes in the query string; an answer with errcode 40001/42001/40014 renews the token
  and sends the call once more (the refusal means it was not applied, so this is safe for writes too).
* Reads (and image uploads, whose repetition only leaves an unused media id) are retried with capped,
  jittered backoff on errcode -1, HTTP 5xx/429 and connections that failed before the request left.
* Writes are never retried by the client: a failure after sending raises
  ``ChannelTransportError(sent=True)``; a 5xx or errcode -1 answer raises ``UpstreamUnavailable`` marked
  ``uncertain`` (the caller checks the complaint's ``item`` timeline before trying again).

No URL (it holds the token), secret or request body ever appears in an error message or a log line.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time as _time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import orjson

from complaintdesk.channels.base import TokenStore
from complaintdesk.channels.common.retry import (
    PooledTransport,
    full_jitter,
    http_client,
    json_object,
    transport_error,
)
from complaintdesk.channels.miniprogram.errors import TOKEN_ERRCODES, error_from_errcode, error_from_http
from complaintdesk.channels.miniprogram.messages import as_int
from complaintdesk.channels.miniprogram.token import AccessTokens, InMemoryTokenStore
from complaintdesk.errors import (
    ChannelAPIError,
    ChannelError,
    ChannelTransportError,
    ConfigError,
    RateLimited,
    UpstreamUnavailable,
)
from complaintdesk.ratelimit import RateLimiter, SlidingWindowLimiter
from complaintdesk.settings import MiniProgramSettings

__all__ = ["STABLE_TOKEN_PATH", "MiniProgramTransport", "encode_json"]

logger = logging.getLogger("complaintdesk.channels.miniprogram.client")

CHANNEL = "miniprogram"
STABLE_TOKEN_PATH = "/cgi-bin/stable_token"  # noqa: S105 - a URL path, not a secret
_TOKEN_CODES = frozenset(str(code) for code in TOKEN_ERRCODES)


def encode_json(doc: Mapping[str, Any]) -> bytes:
    """Serialise a request body: compact UTF-8 JSON (no ``\\u`` escapes)."""
    return orjson.dumps(doc)


def _transport_error(exc: httpx.TransportError, endpoint: str) -> ChannelTransportError:
    return transport_error(exc, endpoint, channel=CHANNEL, upstream="WeChat", endpoint=endpoint)


class MiniProgramTransport(PooledTransport):
    """Token-carrying, budgeted HTTP exchanges for one mini program (base of ``MiniProgramClient``)."""

    def __init__(
        self,
        *,
        appid: str,
        app_secret: str,
        settings: MiniProgramSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        base_url: str | None = None,
        limiter: RateLimiter | None = None,
        token_store: TokenStore | None = None,
        time: Callable[[], float] = _time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        user_agent: str = "complaintdesk/0.1",
    ) -> None:
        if not appid:  # the AppSecret may be absent: message push only (token fetches then fail)
            raise ConfigError("a mini program account needs its appid")
        self.appid = appid
        self.settings = settings
        self.stats: collections.Counter[str] = collections.Counter()
        self._app_secret = app_secret
        self._limiter = limiter or SlidingWindowLimiter()
        self._time = time
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.base_url = httpx.URL(base_url or settings.base_url)
        self._http = http_client(
            settings, base_url=self.base_url, transport=transport, user_agent=user_agent, channel=CHANNEL
        )
        self.tokens = AccessTokens(
            key=f"miniprogram:{appid}",
            store=token_store or InMemoryTokenStore(),
            fetch=self._fetch_token,
            time=time,
            margin=settings.token_refresh_margin_seconds,
            force_min_interval=settings.token_force_refresh_min_interval_seconds,
        )

    # -- budgets and retries ----------------------------------------------------------------------------

    async def _acquire(self, endpoint: str) -> None:
        per_minute = (
            self.settings.upload_per_minute if endpoint == "upload" else self.settings.calls_per_minute
        )
        await self._limiter.acquire(f"miniprogram:{self.appid}:{endpoint}", per_minute)
        self.stats[endpoint] += 1

    async def _pause(self, endpoint: str, attempt: int, error: ChannelError) -> None:
        """Log and sleep (full jitter, capped exponential) before retry number ``attempt`` (1-based)."""
        delay = full_jitter(
            self._rng, attempt - 1, initial=self.settings.backoff_initial, maximum=self.settings.backoff_max
        )
        self.stats["retries"] += 1
        code = getattr(error, "code", "") or type(error).__name__
        logger.info(
            "miniprogram retry endpoint=%s attempt=%d code=%s delay=%.2fs", endpoint, attempt, code, delay
        )
        await self._sleep(delay)

    # -- one exchange -----------------------------------------------------------------------------------

    def _answer(self, response: httpx.Response, endpoint: str) -> dict[str, Any]:
        """Return the JSON object of a successful answer, or raise the mapped error."""
        status = response.status_code
        if not 200 <= status < 300:
            if status == 429:
                self.stats["429"] += 1
            raise error_from_http(endpoint, status, response.content)
        doc = json_object(response.content)
        if doc is None:
            content_type = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise ChannelError(
                f"{endpoint}: the answer is not a JSON object "
                f"({len(response.content)} bytes, {content_type})",
                channel=CHANNEL,
            )
        errcode = as_int(doc.get("errcode", 0))
        if errcode is None:
            raise ChannelError(f"{endpoint}: the answer has an unreadable errcode", channel=CHANNEL)
        if errcode != 0:
            raise error_from_errcode(endpoint, errcode, doc.get("errmsg"), status=status)
        return doc

    async def _send(
        self,
        endpoint: str,
        method: str,
        url: str | httpx.URL,
        params: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One budgeted request (``url`` verbatim when there are no params); failures become typed errors."""
        await self._acquire(endpoint)
        try:
            return await self._http.request(method, url, params=params or None, **kwargs)
        except httpx.TransportError as exc:
            raise _transport_error(exc, endpoint) from None

    async def _token(self, endpoint: str, rejected: str | None = None) -> str:
        """The access token (renewed when ``rejected`` is given); a failed fetch means nothing was sent."""
        try:
            return await (self.tokens.get() if rejected is None else self.tokens.renew(rejected))
        except (ChannelTransportError, UpstreamUnavailable, RateLimited) as exc:
            raise ChannelTransportError(
                f"{endpoint}: no access token, nothing was sent ({exc.message})", channel=CHANNEL, sent=False
            ) from exc

    async def _call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        retry: bool,
        with_token: bool = True,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Make one API call (see the module doc for the token, retry and uncertainty rules)."""
        token = await self._token(endpoint) if with_token else ""
        renewed = False
        attempt = 0
        while True:
            query = {**(params or {}), **({"access_token": token} if with_token else {})}
            error: ChannelError
            try:
                return self._answer(await self._send(endpoint, method, path, query, **kwargs), endpoint)
            except ChannelTransportError as exc:
                if exc.sent or not retry:
                    raise
                error = exc
            except ChannelAPIError as exc:
                if with_token and not renewed and exc.code in _TOKEN_CODES:
                    renewed = True
                    self.stats["token_renewals"] += 1
                    token = await self._token(endpoint, rejected=token)
                    continue
                if not exc.retryable:
                    raise
                if not retry:
                    if isinstance(exc, RateLimited):
                        raise  # refused, so not applied: the caller may send it again later
                    raise self._uncertain(exc, endpoint) from exc
                error = exc
            except ChannelError as exc:  # a 2xx answer we cannot read: a write may have been applied
                if retry:
                    raise
                raise self._uncertain(exc, endpoint) from exc
            if attempt >= self.settings.max_retries:
                raise error
            attempt += 1
            await self._pause(endpoint, attempt, error)

    @staticmethod
    def _uncertain(error: ChannelError, endpoint: str) -> UpstreamUnavailable:
        """A write answered with 5xx, -1 or an unreadable body may be applied: say so, no blind retry."""
        uncertain = UpstreamUnavailable(
            f"{error.message}; the request may have been applied",
            channel=CHANNEL,
            status=getattr(error, "status", 0),
            code=getattr(error, "code", ""),
            detail=getattr(error, "detail", None),
            request_id=getattr(error, "request_id", ""),
            retryable=False,
        )
        uncertain.context.update(error.context, endpoint=endpoint, uncertain=True)
        return uncertain

    # -- access token -----------------------------------------------------------------------------------

    async def check_token(self) -> float:
        """Fetch the access token now (not from the cache): proves the appid and AppSecret; its lifetime."""
        return (await self._fetch_token(False))[1]

    async def _fetch_token(self, force_refresh: bool) -> tuple[str, float]:
        """``POST /cgi-bin/stable_token``: (access_token, expires_in). A forced refresh is never repeated."""
        if not self._app_secret:  # message push works without it; the APIs do not
            raise ConfigError(f"mini program {self.appid}: app_secret is not set (needed for the APIs)")
        body = encode_json(
            {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._app_secret,
                "force_refresh": force_refresh,
            }
        )
        doc = await self._call(
            "token",
            "POST",
            STABLE_TOKEN_PATH,
            retry=not force_refresh,
            with_token=False,
            content=body,
            headers={"Content-Type": "application/json"},
        )
        token, expires_in = doc.get("access_token"), as_int(doc.get("expires_in"))
        if not isinstance(token, str) or not token or expires_in is None or expires_in <= 0:
            raise ChannelError("stable_token answer lacks access_token or expires_in", channel=CHANNEL)
        return token, float(expires_in)
