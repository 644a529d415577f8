"""Inbound webhook route for every channel: read the raw body (capped), verify and open, store, reply.

``GET|POST /webhooks/{channel}/{account}`` is a bare ASGI callable: the hot path builds no request
or response objects and passes through no middleware or router. The channel's sans-IO
``WebhookHandler`` does the protocol work; this edge only reads bytes, stores what the handler
opened, and answers what it says.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import orjson
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from complaintdesk.channels.base import WebhookReply
from complaintdesk.core.inbox.service import build_row
from complaintdesk.core.inbox.writer import InboxWriter
from complaintdesk.errors import (
    AccountNotFound,
    BodyTooLarge,
    ComplaintDeskError,
    ConfigError,
    MalformedNotification,
    UnknownSerial,
    WebhookError,
)
from complaintdesk.runtime import AppContext

log = logging.getLogger("complaintdesk.webhook")


_NO_QUERY = QueryParams()


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name, decoded as latin-1; the first of a repeated name wins."""
    return {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in reversed(scope["headers"])
    }


async def read_capped(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes without buffering the excess."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise MalformedNotification("the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_reply(send: Send, reply: WebhookReply) -> None:
    """Answer with a channel's reply."""
    headers = [(b"content-length", str(len(reply.body)).encode("ascii"))]
    if reply.status != 204:
        headers.append((b"content-type", reply.content_type.encode("ascii")))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if reply.status == 204 else reply.body})


def _early_refusal(channel: str, status: int, message: str) -> WebhookReply:
    """A refusal before any channel handler is known (WeChat Pay expects its FAIL document)."""
    if channel == "wechatpay":
        body = orjson.dumps({"code": "FAIL", "message": message})
        return WebhookReply(status=status, body=body, content_type="application/json")
    return WebhookReply(status=status, body=message.encode("utf-8"))


class WebhookEndpoint:
    """WP1/MP1/HS4 + C3: nothing is acknowledged before it is committed to the inbox."""

    #: At most one certificate refresh per account in this many seconds, however many unknown serials arrive.
    REFRESH_COOLDOWN = 300.0

    def __init__(self, ctx: AppContext, writer: InboxWriter) -> None:
        self.ctx = ctx
        self.writer = writer
        self._last_refresh: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry for ``/webhooks/{channel}/{account}``."""
        parts = scope["path"].split("/")
        if len(parts) != 4 or parts[1] != "webhooks" or not parts[2] or not parts[3]:
            await send_reply(send, WebhookReply(status=404, body=b"not found"))
            return
        if scope["method"] not in ("GET", "POST"):
            await send_reply(send, WebhookReply(status=405, body=b"method not allowed"))
            return
        reply = await self.handle(parts[2], parts[3], scope, receive)
        await send_reply(send, reply)

    async def handle(self, channel: str, name: str, scope: Scope, receive: Receive) -> WebhookReply:
        """Route one webhook call to its account's channel and return what to answer."""
        headers = header_map(scope)
        request_id = headers.get("request-id", "-")
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
            body = await read_capped(receive, headers, self.ctx.settings.max_body_bytes)
            query_string = scope.get("query_string", b"")
            query = QueryParams(query_string) if query_string else _NO_QUERY
            received_at = self.ctx.clock.now()
            outcome = runtime.webhook.open(scope["method"], query, headers, body, received_at.timestamp())
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
            return runtime.webhook.refusal(exc)
        try:
            for opened in outcome.notifications:
                row = build_row(
                    channel=runtime.channel,
                    account_id=runtime.account_id,
                    opened=opened,
                    raw_body=body,
                    received_at=received_at,
                    raw_body_plaintext=outcome.raw_body_plaintext,
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
            return runtime.webhook.refusal(exc)
        return outcome.reply

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
