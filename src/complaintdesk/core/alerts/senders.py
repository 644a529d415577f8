"""Send one message to one destination and report what it answered.

WeCom, DingTalk and Feishu robots, generic webhooks and merchant endpoints are posted with httpx,
whose request hook runs the send gate (``channels.common.gate``) right before the bytes leave; e-mail
goes through ``smtplib`` in a thread after the same check. ``apprise`` is not used: its WeCom,
DingTalk and Feishu plugins hard-code the public hosts (no private deployment, no local receiver)
and its result is a yes/no, while the delivery log keeps each destination's own answer.

Signing: DingTalk ``timestamp`` (ms) + ``sign`` = Base64(HMAC-SHA256(secret, "ts\\nsecret")) in the
query; Feishu ``timestamp`` (s) + ``sign`` = Base64(HMAC-SHA256(key="ts\\nsecret", "")) in the body;
endpoints the Standard Webhooks way (``standardwebhooks``), with every live secret during a rotation.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson
from standardwebhooks.webhooks import Webhook

from complaintdesk.channels.common.gate import run_send_gate, send_gate
from complaintdesk.core.alerts.delivery import Outcome
from complaintdesk.core.alerts.messages import Message
from complaintdesk.core.alerts.models import DestinationKind
from complaintdesk.settings import AlertSettings

_ANSWER_CHARS = 500


@dataclass(frozen=True)
class Target:
    """A destination with its secrets opened (lives only for one send)."""

    kind: str
    url: str
    secrets: tuple[str, ...] = ()  # the current secret first, then one still valid during rotation
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EndpointEvent:
    """One Standard Webhooks message: its id (stable across retries and replays) and JSON body."""

    message_id: str
    body: bytes


def dingtalk_url(url: str, secret: str, now_ms: int) -> str:
    """A DingTalk robot URL with its ``timestamp`` and ``sign`` (when a signing secret is set)."""
    if not secret:
        return url
    digest = hmac.new(secret.encode(), f"{now_ms}\n{secret}".encode(), hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode())
    return f"{url}{'&' if '?' in url else '?'}timestamp={now_ms}&sign={sign}"


def feishu_sign(secret: str, now_s: int) -> str:
    """Feishu/Lark's signature: the key is ``timestamp\\nsecret``, the message is empty."""
    key = f"{now_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def chat_body(kind: str, message: Message, secret: str, now_s: int) -> dict[str, Any]:
    """The JSON a chat robot (or a generic webhook) receives."""
    if kind == DestinationKind.WECOM:
        return {"msgtype": "markdown", "markdown": {"content": message.markdown()[:4000]}}
    if kind == DestinationKind.DINGTALK:
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown()}}
    if kind == DestinationKind.FEISHU:
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": message.text()[:4000]}}
        if secret:
            body = {"timestamp": str(now_s), "sign": feishu_sign(secret, now_s), **body}
        return body
    return {"title": message.title, "lines": list(message.lines), "link": message.link}


def _robot_outcome(kind: str, response: httpx.Response) -> Outcome:
    """2xx and the robot's own code 0; DingTalk/WeCom say ``errcode``, Feishu ``code`` (or ``StatusCode``)."""
    answer = response.text[:_ANSWER_CHARS]
    if not response.is_success:
        return Outcome(False, response.status_code, answer, error=f"HTTP {response.status_code}")
    if kind in (DestinationKind.WECOM, DestinationKind.DINGTALK, DestinationKind.FEISHU):
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return Outcome(False, response.status_code, answer, error="the robot's answer is not JSON")
        code = (
            data.get("errcode", data.get("code", data.get("StatusCode", 0))) if isinstance(data, dict) else 0
        )
        if code not in (0, "0"):
            message = data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or ""
            return Outcome(False, response.status_code, answer, error=f"code {code}: {message}"[:500])
    return Outcome(True, response.status_code, answer)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~50 ms), too slow per message."""
    return httpx.create_ssl_context()


def _client(settings: AlertSettings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    return httpx.AsyncClient(timeout=timeout, verify=_tls(), event_hooks={"request": [run_send_gate]})


async def _post(settings: AlertSettings, url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
    async with _client(settings) as client:
        return await client.post(
            url, content=content, headers={"content-type": "application/json", **headers}
        )


async def send_chat(target: Target, message: Message, settings: AlertSettings) -> Outcome:
    """Send a message (or digest) to a robot, a generic webhook or a mailbox."""
    if target.kind == DestinationKind.EMAIL:
        return await send_email(target, message, settings)
    secret = target.secrets[0] if target.secrets else ""
    now_ms = int(time.time() * 1000)
    url = dingtalk_url(target.url, secret, now_ms) if target.kind == DestinationKind.DINGTALK else target.url
    body = orjson.dumps(chat_body(target.kind, message, secret, now_ms // 1000))
    try:
        response = await _post(settings, url, body, {})
    except httpx.TimeoutException as exc:
        return Outcome(False, None, "", error=f"timeout ({type(exc).__name__})")
    except httpx.TransportError as exc:
        return Outcome(False, None, "", error=f"unreachable ({type(exc).__name__})")
    return _robot_outcome(target.kind, response)


def sign_endpoint(secrets: tuple[str, ...], message_id: str, at: datetime, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,…`` per live secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


async def send_endpoint(target: Target, event: EndpointEvent, settings: AlertSettings) -> Outcome:
    """POST one event to a merchant endpoint, signed the Standard Webhooks way; 2xx is delivered."""
    at = datetime.now().astimezone()
    headers = {
        "webhook-id": event.message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": sign_endpoint(target.secrets, event.message_id, at, event.body),
    }
    try:
        response = await _post(settings, target.url, event.body, headers)
    except httpx.TimeoutException as exc:
        return Outcome(False, None, "", event.message_id, f"timeout ({type(exc).__name__})")
    except httpx.TransportError as exc:
        return Outcome(False, None, "", event.message_id, f"unreachable ({type(exc).__name__})")
    answer = response.text[:_ANSWER_CHARS]
    error = "" if response.is_success else f"HTTP {response.status_code}"
    return Outcome(response.is_success, response.status_code, answer, event.message_id, error)


async def send_email(target: Target, message: Message, settings: AlertSettings) -> Outcome:
    """Send the message by SMTP (in a thread), after the send gate."""
    gate = send_gate.get()
    if gate is not None:
        await gate.check()
    options = target.options
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = str(options.get("from", "complaintdesk@localhost"))
    mail["To"] = ", ".join(options.get("to", []))
    mail.set_content(message.text())
    password = target.secrets[0] if target.secrets else ""

    def deliver() -> str:
        timeout = settings.connect_timeout + settings.read_timeout
        host, port = str(options.get("host", "127.0.0.1")), int(options.get("port", 25))
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            if options.get("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if options.get("username"):
                smtp.login(str(options["username"]), password)
            refused = smtp.send_message(mail)
            code, text = smtp.noop()
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
        said = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return f"{code} {said}"

    try:
        answer = await asyncio.to_thread(deliver)
    except smtplib.SMTPResponseException as exc:
        said = exc.smtp_error
        detail = (said.decode(errors="replace") if isinstance(said, bytes) else str(said))[:_ANSWER_CHARS]
        return Outcome(False, exc.smtp_code, detail, error=f"SMTP {exc.smtp_code}")
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(False, None, "", error=f"SMTP unreachable or refused ({type(exc).__name__})")
    return Outcome(True, 250, answer[:_ANSWER_CHARS])
