"""Inbound webhook route for every channel: read the raw body (capped), verify and open, store, reply.

``GET|POST /webhooks/{channel}/{account}`` is a bare ASGI callable: the hot path builds no request
or response objects and passes through no middleware or router. The channel's sans-IO
``WebhookHandler`` does the protocol work; this edge only reads bytes, stores what the handler
opened, and answers what it says. Under ``complaintdesk serve`` a webhook POST arrives already
parsed, through :meth:`WebhookEndpoint.receive` (``web.protocol``), and skips ASGI altogether.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from complaintdesk.channels.base import ChannelRuntime, WebhookReply
from complaintdesk.channels.registry import CHANNEL_MODULES
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
from complaintdesk.ops.metrics import count_notifications
from complaintdesk.runtime import AppContext
from complaintdesk.web.webhook_refusals import SignatureRefusals, is_key_problem

log = logging.getLogger("complaintdesk.webhook")


_NO_QUERY = QueryParams()
#: Channel labels of refused calls: the path's channel when it is one of ours (callers choose paths).
_CHANNELS = frozenset(CHANNEL_MODULES)


def refused(channel: str, reason: str) -> None:
    """Count a refused webhook call (``channel`` as the path names it: only ours become labels)."""
    count_notifications(channel if channel in _CHANNELS else "other", "refused", reason=reason)


def header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers by lower-case name, decoded as latin-1; the first of a repeated name wins."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in reversed(raw)}


def header_map(scope: Scope) -> dict[str, str]:
    """An ASGI request's headers as :func:`header_dict` gives them."""
    return header_dict(scope["headers"])


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
    if reply.status == 413:  # the rest of an oversized body is never read: the connection ends here
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if reply.status == 204 else reply.body})


def early_refusal(channel: str, status: int, message: str) -> WebhookReply:
    """A refusal before any channel handler is known (WeChat Pay expects its FAIL document)."""
    if channel == "wechatpay":
        body = orjson.dumps({"code": "FAIL", "message": message})
        return WebhookReply(status=status, body=body, content_type="application/json")
    return WebhookReply(status=status, body=message.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified webhook call: the inbox rows to commit before ``reply`` may be sent."""

    runtime: ChannelRuntime
    rows: list[dict[str, Any]]
    reply: WebhookReply


class WebhookEndpoint:
    """WP1/MP1/HS4 + C3: nothing is acknowledged before it is committed to the inbox.

    Two edges share the synchronous core (:meth:`lookup`, :meth:`verify`): the ASGI callable, for
    any server, and :meth:`receive`, which ``serve``'s HTTP protocol calls with a request it has
    already parsed (``web.protocol``).
    """

    #: At most one certificate refresh per account in this many seconds, however many unknown serials arrive.
    REFRESH_COOLDOWN = 300.0

    def __init__(self, ctx: AppContext, writer: InboxWriter) -> None:
        self.ctx = ctx
        self.writer = writer
        self._last_refresh: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.refusals = SignatureRefusals(ctx)

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
        runtime = self.lookup(channel, name, headers)
        if isinstance(runtime, WebhookReply):
            return runtime
        try:
            body = await read_capped(receive, headers, self.ctx.settings.max_body_bytes)
        except WebhookError as exc:
            return self.refuse(runtime, name, exc, headers)
        verified = self.verify(runtime, name, scope["method"], scope.get("query_string", b""), headers, body)
        if isinstance(verified, WebhookReply):
            return verified
        try:
            for row in verified.rows:
                await self.writer.store(row)
        except Exception as exc:
            return self._not_stored(verified, name, exc)
        return verified.reply

    def receive(
        self,
        channel: str,
        name: str,
        query_string: bytes,
        headers: dict[str, str],
        body: bytes,
        respond: Callable[[WebhookReply], None],
    ) -> None:
        """A webhook POST parsed by the HTTP protocol: ``respond`` is called once, after the commit.

        The body is at most ``max_body_bytes`` long: the protocol refuses longer ones itself.
        """
        runtime = self.lookup(channel, name, headers)
        if isinstance(runtime, WebhookReply):
            respond(runtime)
            return
        verified = self.verify(runtime, name, "POST", query_string, headers, body)
        if isinstance(verified, WebhookReply):
            respond(verified)
            return
        if not verified.rows:
            respond(verified.reply)
            return
        waiting = len(verified.rows)
        failure: Exception | None = None

        def stored(error: Exception | None) -> None:
            nonlocal waiting, failure
            waiting -= 1
            failure = failure or error
            if waiting == 0:
                respond(verified.reply if failure is None else self._not_stored(verified, name, failure))

        for row in verified.rows:
            self.writer.submit(row, stored)

    def too_large(self, channel: str, name: str, headers: Mapping[str, str]) -> WebhookReply:
        """The answer to a body over ``max_body_bytes``, in the channel's own format."""
        limit = self.ctx.settings.max_body_bytes
        runtime = self.lookup(channel, name, headers)
        if isinstance(runtime, WebhookReply):
            return runtime
        return self.refuse(runtime, name, BodyTooLarge(f"body exceeds the {limit}-byte limit"), headers)

    def lookup(self, channel: str, name: str, headers: Mapping[str, str]) -> ChannelRuntime | WebhookReply:
        """The account's runtime, or the refusal when there is no such account on this channel."""
        try:
            runtime = self.ctx.runtime_for(name)
        except AccountNotFound:
            log.warning(
                "notification for unknown account %r refused (Request-ID %s)",
                name[:64],
                headers.get("request-id", "-"),
                extra={"channel": channel[:32], "request_id": headers.get("request-id")},
            )
            refused(channel, "UnknownAccount")
            return early_refusal(channel, 404, "unknown merchant account")
        except ConfigError as exc:
            log.error(
                "account %s cannot verify notifications: %s", name, exc, extra={"channel": channel[:32]}
            )
            refused(channel, "AccountMisconfigured")
            return early_refusal(channel, 500, "merchant account is misconfigured")
        if runtime.channel != channel:
            refused(channel, "UnknownAccount")
            return early_refusal(channel, 404, "unknown merchant account")
        return runtime

    def verify(
        self,
        runtime: ChannelRuntime,
        name: str,
        method: str,
        query_string: bytes,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Verified | WebhookReply:
        """Verify and open the call (sans-IO, in the channel); the rows to store, or the refusal."""
        received_at = self.ctx.clock.now()
        try:
            query = QueryParams(query_string) if query_string else _NO_QUERY
            outcome = runtime.webhook.open(method, query, headers, body, received_at.timestamp())
        except WebhookError as exc:
            return self.refuse(runtime, name, exc, headers)
        rows = []
        for opened in outcome.notifications:
            rows.append(
                build_row(
                    channel=runtime.channel,
                    account_id=runtime.account_id,
                    opened=opened,
                    raw_body=query_string if outcome.envelope_in == "query" else body,
                    received_at=received_at,
                    raw_body_plaintext=outcome.raw_body_plaintext,
                )
            )
            if not opened.known:
                log.warning(
                    "notification %s has unknown type %s/%s: stored and flagged",
                    opened.dedupe_key,
                    opened.event_type,
                    opened.action,
                )
        return Verified(runtime, rows, outcome.reply)

    def refuse(
        self, runtime: ChannelRuntime, name: str, exc: WebhookError, headers: Mapping[str, str]
    ) -> WebhookReply:
        """Log a refused call (never its body) and answer it the channel's way."""
        if isinstance(exc, UnknownSerial):
            self._refresh_certificates_soon(name)
        if is_key_problem(exc, headers):
            self.refusals.add(runtime.account_id)
        log.warning(
            "notification refused for %s: %s: %s (Request-ID %s)",
            name,
            type(exc).__name__,
            exc.public_message,
            headers.get("request-id", "-"),
            extra={"channel": runtime.channel, "account": name, "request_id": headers.get("request-id")},
        )
        refused(runtime.channel, type(exc).__name__)
        return runtime.webhook.refusal(exc)

    def _not_stored(self, verified: Verified, name: str, exc: Exception) -> WebhookReply:
        log.error(
            "notification for %s not stored (%s); asking the upstream to retry",
            name,
            type(exc).__name__,
            extra={"channel": verified.runtime.channel, "account": name},
        )
        refused(verified.runtime.channel, "NotStored")
        return verified.runtime.webhook.refusal(exc)

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
        from complaintdesk.jobs.scheduled import load_stored_certificates, refresh_certificates

        try:
            stored = await asyncio.to_thread(load_stored_certificates, self.ctx, name)
            if stored:  # another process already downloaded the rotated certificate
                log.info("certificate for %s taken from the database: %d new here", name, stored)
                return
            added = await refresh_certificates(self.ctx, name)
            log.info("certificate refresh for %s after an unknown serial: %d new", name, added)
        except ComplaintDeskError as exc:
            log.warning("certificate refresh for %s failed: %s", name, exc)
