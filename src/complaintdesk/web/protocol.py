"""``serve``'s HTTP protocol: uvicorn's httptools protocol, with webhook POSTs answered outside ASGI.

A notification is a kilobyte in and a 204 out. At thousands a second, the ASGI machinery around it
(a scope, a task, receive and send messages, header checks) cost about as much as verifying its
signature (py-spy, ``bench/ingest.py``). So for ``POST /webhooks/{channel}/{account}`` this protocol
hands the parsed request straight to :meth:`WebhookEndpoint.receive` and writes the answer when the
endpoint calls back, which it does only after the commit.

Everything else goes through uvicorn's ASGI path unchanged: other paths and methods, absolute or
percent-encoded targets, ``Expect: 100-continue``, upgrades, and any app without a
``WebhookEndpoint``. Like the app's own webhook route, the direct path skips middleware (uvicorn's
proxy-headers middleware included: webhooks never look at the caller's address) and writes no
access-log line; refusals are logged by the endpoint. Requests pipelined on one connection are
answered in order, whichever path each takes. A body over ``max_body_bytes`` is answered 413 (in
the channel's format) as soon as it is seen, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from complaintdesk.channels.base import WebhookReply
from complaintdesk.web.webhooks import WebhookEndpoint, early_refusal, header_dict, refused

log = logging.getLogger("complaintdesk.webhook")

__all__ = ["WebhookHttpProtocol"]


class _NoEvent:
    """Stands in for the ``asyncio.Event`` the base protocol sets when a connection is lost."""

    def set(self) -> None:
        """Nothing waits on a webhook request."""


class _WebhookCycle:
    """One webhook request on the direct path, from its headers to its answer.

    It stands where uvicorn keeps its own request cycle, so the base protocol's pipelining,
    shutdown and disconnect handling see the attributes they read: ``response_complete``,
    ``keep_alive``, ``disconnected`` and ``message_event``.
    """

    message_event = _NoEvent()

    __slots__ = (
        "body",
        "channel",
        "complete",
        "disconnected",
        "headers",
        "keep_alive",
        "name",
        "query_string",
        "response_complete",
        "started",
        "too_large",
    )

    def __init__(
        self, channel: str, name: str, query_string: bytes, headers: dict[str, str], keep_alive: bool
    ) -> None:
        self.channel = channel
        self.name = name
        self.query_string = query_string
        self.headers = headers
        self.keep_alive = keep_alive
        self.body = b""
        self.started = False  # its turn on the connection has come (nothing before it unanswered)
        self.complete = False  # the whole body has arrived
        self.too_large = False
        self.response_complete = False
        self.disconnected = False


def _response(reply: WebhookReply, keep_alive: bool, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole HTTP/1.1 response for a webhook reply."""
    parts = [STATUS_LINE[reply.status]]
    for name, value in default_headers:  # uvicorn's Date header
        parts += [name, b": ", value, b"\r\n"]
    if reply.status != 204:
        parts += [b"content-type: ", reply.content_type.encode("latin-1"), b"\r\n"]
        parts += [b"content-length: ", str(len(reply.body)).encode("ascii"), b"\r\n"]
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    if reply.status != 204:
        parts.append(reply.body)
    return b"".join(parts)


def _webhook_endpoint(app: Any) -> WebhookEndpoint | None:
    """The app's webhook endpoint, looking through the middleware uvicorn may wrap it in."""
    for _ in range(8):
        router = getattr(app, "webhook_router", None)
        if isinstance(router, WebhookEndpoint):
            return router
        app = getattr(app, "app", None)  # uvicorn's ProxyHeadersMiddleware, MessageLoggerMiddleware
        if app is None:
            return None
    return None


class WebhookHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; webhook POSTs go straight to the app's ``WebhookEndpoint``."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._endpoint = _webhook_endpoint(self.app)
        self._body_limit = self._endpoint.ctx.settings.max_body_bytes if self._endpoint is not None else 0
        self._webhook: _WebhookCycle | None = None  # the webhook request being parsed, if any

    # Parser callbacks

    def on_message_begin(self) -> None:
        self._webhook = None
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._unset_keepalive_if_required()  # an answer given while parsing may have armed it
        cycle = self._direct_cycle()
        if cycle is None:
            super().on_headers_complete()
            return
        self._webhook = cycle
        previous = self.cycle
        # Duck-typed: the base protocol reads only the attributes _WebhookCycle has.
        self.cycle = cycle  # type: ignore[assignment]
        if previous is None or previous.response_complete:
            cycle.started = True
        else:  # pipelined behind a request still being answered
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, self.app))  # type: ignore[arg-type]
        declared = cycle.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._body_limit:
            self._refuse_too_large(cycle)

    def on_body(self, body: bytes) -> None:
        cycle = self._webhook
        if cycle is None:
            super().on_body(body)
            return
        if cycle.too_large or cycle.response_complete:
            return
        cycle.body += body
        if len(cycle.body) > self._body_limit:
            self._refuse_too_large(cycle)

    def on_message_complete(self) -> None:
        cycle = self._webhook
        if cycle is None:
            super().on_message_complete()
            return
        cycle.complete = True
        if cycle.started:
            self._run(cycle)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """Start the next pipelined request: ours directly, uvicorn's as an ASGI task."""
        if isinstance(cycle, _WebhookCycle):
            cycle.started = True
            if cycle.too_large or cycle.complete:
                self._run(cycle)
            return
        super()._start_asgi_task(cycle, app)

    # The direct path

    def _direct_cycle(self) -> _WebhookCycle | None:
        """A cycle when the request just parsed is a webhook POST this protocol answers itself."""
        if self._endpoint is None or self.expect_100_continue:
            return None
        if self.parser.get_method() != b"POST" or not self.url.startswith(b"/webhooks/"):
            return None
        if self.parser.should_upgrade():
            return None
        parsed = httptools.parse_url(self.url)
        parts = parsed.path.split(b"/")
        if len(parts) != 4 or not parts[2] or not parts[3] or b"%" in parsed.path:
            return None  # uvicorn's path decodes it, and the endpoint answers 404
        try:
            channel, name = parts[2].decode("ascii"), parts[3].decode("ascii")
        except UnicodeDecodeError:
            return None
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        return _WebhookCycle(channel, name, parsed.query or b"", header_dict(self.headers), keep_alive)

    def _refuse_too_large(self, cycle: _WebhookCycle) -> None:
        """Drop the body; answer 413 and close as soon as it is this request's turn."""
        cycle.too_large = True
        cycle.body = b""
        cycle.keep_alive = False
        if cycle.started:
            self._run(cycle)

    def _run(self, cycle: _WebhookCycle) -> None:
        """Hand a complete request to the endpoint, which answers now or after the commit."""
        if cycle.response_complete:
            return
        endpoint = self._endpoint
        assert endpoint is not None, "a direct cycle exists only with an endpoint"
        try:
            if cycle.too_large:
                self._answer(cycle, endpoint.too_large(cycle.channel, cycle.name, cycle.headers))
                return
            body, cycle.body = cycle.body, b""
            endpoint.receive(
                cycle.channel,
                cycle.name,
                cycle.query_string,
                cycle.headers,
                body,
                lambda reply: self._answer(cycle, reply),
            )
        except Exception:
            log.exception("webhook call for %s failed", cycle.name[:64])
            refused(cycle.channel, "InternalError")
            self._answer(cycle, early_refusal(cycle.channel, 500, "internal error"))

    def _answer(self, cycle: _WebhookCycle, reply: WebhookReply) -> None:
        """Write the answer (once), then let the next pipelined request start."""
        if cycle.response_complete:
            return
        cycle.response_complete = True
        transport = self.transport
        if not transport.is_closing():
            transport.write(_response(reply, cycle.keep_alive, self.server_state.default_headers))
            if not cycle.keep_alive:
                transport.close()
        self.on_response_complete()
