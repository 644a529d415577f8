"""Real alert receivers on loopback: robots that check their own signatures, an SMTP server, an endpoint.

Each HTTP receiver implements the server side on its own (recomputes DingTalk's and Feishu's
signatures, checks WeCom's payload shape, verifies Standard Webhooks with ``standardwebhooks``) and
answers like the real service: HTTP 200 with ``errcode``/``code`` for its own refusals. A ``script``
of answers (``"500"``, ``"slow"``, ``"errcode"``) is played first, then every request is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

TOKEN = "tok123"


@dataclass
class Receiver:
    """What one receiver was sent, and what it accepted."""

    secrets: dict[str, str] = field(default_factory=dict)  # path kind → signing secret
    script: list[str] = field(default_factory=list)
    slow_seconds: float = 2.0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    accepted: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: ``time.time()`` of each accepted message, in the order of ``accepted`` (benchmarks).
    accepted_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, kind: str) -> str:
        """The URL a destination of ``kind`` should be configured with."""
        base = f"http://127.0.0.1:{self.port}"
        return {
            "wecom": f"{base}/cgi-bin/webhook/send?key={TOKEN}",
            "dingtalk": f"{base}/robot/send?access_token={TOKEN}",
            "feishu": f"{base}/open-apis/bot/v2/hook/{TOKEN}",
            "endpoint": f"{base}/endpoint",
            "webhook": f"{base}/hook",
        }[kind]

    def texts(self, kind: str) -> list[str]:
        """The text of every accepted message of ``kind``."""
        with self.lock:
            found = [body for k, body, _ in self.accepted if k == kind]
        out = []
        for body in found:
            if kind == "feishu":
                out.append(body["content"]["text"])
            elif kind in ("wecom",):
                out.append(body["markdown"]["content"])
            elif kind == "dingtalk":
                out.append(body["markdown"]["text"])
            else:
                out.append(json.dumps(body, ensure_ascii=False))
        return out


def _check(
    receiver: Receiver, path: str, query: dict[str, list[str]], headers: dict[str, str], raw: bytes
) -> tuple[str, str]:
    """(kind, refusal or '') for one request, checked the way each service checks it."""
    body = json.loads(raw) if raw else {}
    if path.startswith("/robot/send"):
        secret = receiver.secrets.get("dingtalk", "")
        if query.get("access_token") != [TOKEN]:
            return "dingtalk", '{"errcode":300001,"errmsg":"token is not exist"}'
        if secret:
            ts = (query.get("timestamp") or [""])[0]
            want = base64.b64encode(
                hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
            ).decode()
            if (
                not ts
                or abs(time.time() * 1000 - int(ts)) > 3600_000
                or (query.get("sign") or [""])[0] != want
            ):
                return "dingtalk", '{"errcode":310000,"errmsg":"sign not match"}'
        if body.get("msgtype") != "markdown" or not body.get("markdown", {}).get("text"):
            return "dingtalk", '{"errcode":40035,"errmsg":"missing parameter"}'
        return "dingtalk", ""
    if path.startswith("/open-apis/bot/v2/hook/"):
        secret = receiver.secrets.get("feishu", "")
        if secret:
            ts = str(body.get("timestamp", ""))
            key = f"{ts}\n{secret}".encode()
            want = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            if not ts.isdigit() or abs(time.time() - int(ts)) > 3600 or body.get("sign") != want:
                return "feishu", '{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}'
        if body.get("msg_type") != "text" or not isinstance(body.get("content", {}).get("text"), str):
            return "feishu", '{"code":9499,"msg":"Bad Request"}'
        return "feishu", ""
    if path.startswith("/cgi-bin/webhook/send"):
        content = body.get("markdown", {}).get("content") if body.get("msgtype") == "markdown" else None
        if query.get("key") != [TOKEN] or not isinstance(content, str) or len(content.encode()) > 4096:
            return "wecom", '{"errcode":40008,"errmsg":"invalid message type"}'
        return "wecom", ""
    if path == "/endpoint":
        try:
            Webhook(receiver.secrets["endpoint"]).verify(raw, headers)
        except WebhookVerificationError as exc:
            return "endpoint", f"HTTP400 {exc}"
        return "endpoint", ""
    return "webhook", ""


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.requests.append((self.path, headers, raw))
                step = receiver.script.pop(0) if receiver.script else "ok"
            if step == "slow":
                time.sleep(receiver.slow_seconds)
            if step == "500":
                return self._answer(500, b'{"error":"internal"}')
            kind, refusal = _check(receiver, parts.path, parse_qs(parts.query), headers, raw)
            if step == "errcode" and not refusal:
                refusal = (
                    '{"errcode":45009,"errmsg":"api freq out of limit"}'
                    if kind != "feishu"
                    else '{"code":11232,"msg":"frequency limited"}'
                )
            with receiver.lock:
                if refusal:
                    receiver.refused.append((kind, refusal))
                else:
                    receiver.accepted.append((kind, json.loads(raw), headers))
                    receiver.accepted_at.append(time.time())
            if refusal.startswith("HTTP400"):
                return self._answer(400, refusal.encode())
            if refusal:
                return self._answer(200, refusal.encode())
            ok = (
                b'{"errcode":0,"errmsg":"ok"}'
                if kind != "feishu"
                else b'{"code":0,"msg":"success","data":{}}'
            )
            return self._answer(200 if kind != "endpoint" else 204, ok if kind != "endpoint" else b"")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def http_receiver(**kwargs: Any) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (a free port) for the duration of the block."""
    receiver = Receiver(**kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    """An SMTP server (aiosmtpd) on 127.0.0.1; yields its port and the messages it received."""
    mailbox = _Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox.messages
    finally:
        controller.stop()
