"""Inbound webhook routes: read the raw body (capped), verify and open, store, then acknowledge.

These are plain Starlette endpoints: the hot path has no dependency injection or validation layers.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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


def _fail(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": "FAIL", "message": message}, status_code=status)


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


class WeChatPayWebhook:
    """``POST /webhooks/wechatpay/{account}``: WP1 + C3."""

    #: At most one certificate refresh per account in this many seconds, however many unknown serials arrive.
    REFRESH_COOLDOWN = 300.0

    def __init__(self, ctx: AppContext, writer: InboxWriter) -> None:
        self.ctx = ctx
        self.writer = writer
        self._last_refresh: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

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

    async def handle(self, request: Request) -> Response:
        name = str(request.path_params["account"])
        request_id = request.headers.get("request-id", "-")
        try:
            runtime = self.ctx.runtime_for(name)
        except AccountNotFound:
            log.warning("notification for unknown account %r refused (Request-ID %s)", name[:64], request_id)
            return _fail(404, "unknown merchant account")
        except ConfigError as exc:
            log.error("account %s cannot verify notifications: %s", name, exc)
            return _fail(500, "merchant account is misconfigured")
        if runtime.channel != "wechatpay":
            return _fail(404, "unknown merchant account")
        try:
            body = await read_capped(request, self.ctx.settings.max_body_bytes)
            opened = runtime.opener(body, request.headers, self.ctx.clock.now().timestamp())
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
            return _fail(exc.http_status, exc.public_message)
        row = build_row(
            channel="wechatpay",
            account_id=runtime.account_id,
            opened=opened,
            raw_body=body,
            received_at=self.ctx.clock.now(),
        )
        try:
            await self.writer.store(row)
        except Exception as exc:
            log.error(
                "notification %s not stored (%s); asking WeChat Pay to retry",
                opened.dedupe_key,
                type(exc).__name__,
            )
            return _fail(500, "temporarily unable to store the notification")
        if not opened.known:
            log.warning(
                "notification %s has unknown type %s/%s: stored and flagged",
                opened.dedupe_key,
                opened.event_type,
                opened.action,
            )
        return Response(status_code=204)
