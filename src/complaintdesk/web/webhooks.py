"""Inbound webhook route for every channel: read the raw body (capped), verify and open, store, reply.

``GET|POST /webhooks/{channel}/{account}`` is a plain Starlette endpoint: the hot path has no
dependency injection or validation layers. The channel's sans-IO ``WebhookHandler`` does the protocol
work; this edge only reads bytes, stores what the handler opened, and answers what it says.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from complaintdesk.channels.base import ChannelRuntime
from complaintdesk.core.inbox.service import build_row
from complaintdesk.core.inbox.writer import InboxWriter
from complaintdesk.errors import (
    AccountNotFound,
    BodyTooLarge,
    ComplaintDeskError,
    ConfigError,
    UnknownSerial,
    WebhookError,
)
from complaintdesk.runtime import AppContext

log = logging.getLogger("complaintdesk.webhook")


async def read_capped(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes without buffering the excess."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _early_refusal(channel: str, status: int, message: str) -> Response:
    """A refusal before any channel handler is known (WeChat Pay expects its FAIL document)."""
    if channel == "wechatpay":
        return JSONResponse({"code": "FAIL", "message": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)


class WebhookEndpoint:
    """WP1/MP1/HS4 + C3: nothing is acknowledged before it is committed to the inbox."""

    #: At most one certificate refresh per account in this many seconds, however many unknown serials arrive.
    REFRESH_COOLDOWN = 300.0

    def __init__(self, ctx: AppContext, writer: InboxWriter) -> None:
        self.ctx = ctx
        self.writer = writer
        self._last_refresh: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, request: Request) -> Response:
        """Route one webhook call to its account's channel."""
        channel = str(request.path_params["channel"])
        name = str(request.path_params["account"])
        request_id = request.headers.get("request-id", "-")
        try:
            runtime = self.ctx.runtime_for(name)
        except AccountNotFound:
            log.warning("notification for unknown account %r refused (Request-ID %s)", name[:64], request_id)
            return _early_refusal(channel, 404, "unknown merchant account")
        except ConfigError as exc:
            log.error("account %s cannot verify notifications: %s", name, exc)
            return _early_refusal(channel, 500, "merchant account is misconfigured")
        if runtime.channel != channel:
            return _early_refusal(channel, 404, "unknown merchant account")
        try:
            body = await read_capped(request, self.ctx.settings.max_body_bytes)
            outcome = runtime.webhook.open(
                request.method, request.query_params, request.headers, body, self.ctx.clock.now().timestamp()
            )
        except WebhookError as exc:
            if isinstance(exc, UnknownSerial):
                self._refresh_certificates_soon(name)
            log.warning(
                "notification refused for %s: %s: %s (Request-ID %s)",
                name,
                type(exc).__name__,
                exc.public_message,
                request_id,
            )
            return self._reply(runtime, runtime.webhook.refusal(exc))
        try:
            for opened in outcome.notifications:
                row = build_row(
                    channel=runtime.channel,
                    account_id=runtime.account_id,
                    opened=opened,
                    raw_body=body,
                    received_at=self.ctx.clock.now(),
                )
                await self.writer.store(row)
                if not opened.known:
                    log.warning(
                        "notification %s has unknown type %s/%s: stored and flagged",
                        opened.dedupe_key,
                        opened.event_type,
                        opened.action,
                    )
        except Exception as exc:
            log.error(
                "notification for %s not stored (%s); asking the upstream to retry", name, type(exc).__name__
            )
            return self._reply(runtime, runtime.webhook.refusal(exc))
        return self._reply(runtime, outcome.reply)

    @staticmethod
    def _reply(runtime: ChannelRuntime, reply: object) -> Response:
        status = getattr(reply, "status", 500)
        body = getattr(reply, "body", b"")
        media_type = getattr(reply, "content_type", "text/plain")
        if status == 204:
            return Response(status_code=204)
        return Response(content=body, status_code=status, media_type=media_type)

    def _refresh_certificates_soon(self, name: str) -> None:
        """A serial we do not know may be a rotated platform certificate: fetch the list in the background."""
        now = time.monotonic()
        if now - self._last_refresh.get(name, -self.REFRESH_COOLDOWN) < self.REFRESH_COOLDOWN:
            return
        self._last_refresh[name] = now
        task = asyncio.get_running_loop().create_task(self._refresh(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, name: str) -> None:
        from complaintdesk.jobs.scheduled import refresh_certificates

        try:
            added = await refresh_certificates(self.ctx, name)
            log.info("certificate refresh for %s after an unknown serial: %d new", name, added)
        except ComplaintDeskError as exc:
            log.warning("certificate refresh for %s failed: %s", name, exc)
