"""The Mini Program message server (sans-IO): URL check, then verify, decrypt and parse pushed events.

Usage in a route (the caller caps the body, stores the notifications, then answers)::

    outcome = handler.open(request.method, request.query_params, request.headers, body, now)
    store(outcome.notifications)
    return outcome.reply            # "success", text/plain, 200

Modes (the account option ``message_mode`` is the *least* protection we accept):

* ``safe`` — the body must carry ``Encrypt``: ``signature`` and ``msg_signature`` are verified, the message
  is decrypted, and its trailing appid must be ours; a plaintext-only body is refused (no downgrade);
* ``compatible`` — an ``Encrypt`` member is verified and used (the plaintext copy beside it is ignored);
  a body without one is accepted on its ``signature`` alone, so a switch of modes in the WeChat console
  loses nothing;
* ``plaintext`` — ``signature`` only (it does not cover the body: WeChat's plaintext mode authenticates
  nothing but the sender's knowledge of the Token); encrypted bodies are opened as above when an
  EncodingAESKey is configured.

Clock: the URL check (``GET`` with ``echostr``) never looks at our clock — its signature alone proves the
Token, and it changes nothing. A pushed message must be signed at most ``tolerance`` seconds from our clock
(setting ``miniprogram.timestamp_tolerance_seconds``, 0 = no check); a refusal says by how much and where
the window is set, and ``complaintdesk doctor`` measures our clock against WeChat's.

XML and JSON are both accepted whatever ``message_format`` says (WeChat applies a format switch at once).
Events other than ``complaint_callback`` (and non-event messages) are acknowledged and produce nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from complaintdesk.channels.base import OpenedNotification, WebhookOutcome, WebhookReply
from complaintdesk.channels.miniprogram import crypto
from complaintdesk.channels.miniprogram.enums import STATUSES
from complaintdesk.channels.miniprogram.messages import complaint_event, parse_document
from complaintdesk.errors import (
    DecryptFailed,
    MalformedNotification,
    MissingHeaders,
    SignatureInvalid,
    TimestampOutOfWindow,
    WebhookError,
)

__all__ = [
    "COMPLAINT_EVENT",
    "MESSAGE_FORMATS",
    "MESSAGE_MODES",
    "SUCCESS",
    "MiniProgramWebhookHandler",
    "dedupe_key",
]

CHANNEL = "miniprogram"
COMPLAINT_EVENT = "complaint_callback"
MessageMode = Literal["plaintext", "compatible", "safe"]
MESSAGE_MODES: tuple[MessageMode, ...] = ("plaintext", "compatible", "safe")
MESSAGE_FORMATS = ("xml", "json")
TEXT = "text/plain; charset=utf-8"
#: The acknowledgement WeChat expects (an empty body works too).
SUCCESS = WebhookReply(status=200, body=b"success", content_type=TEXT)


def dedupe_key(event: Mapping[str, Any]) -> str:
    """A stable key from (FromUserName, CreateTime, complaint_order_id, status); no user id in clear."""
    parts = [
        str(event.get(name) or "") for name in ("FromUserName", "CreateTime", "complaint_order_id", "status")
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
    _sender, created, complaint_id, status = parts
    return f"{complaint_id[:40]}:{status[:12]}:{created[:12]}:{digest}"


def _time(value: Any) -> datetime | None:
    if isinstance(value, int) and 0 < value < 10**11:
        return datetime.fromtimestamp(value, tz=UTC)
    return None


class MiniProgramWebhookHandler:
    """``WebhookHandler`` of one mini program (``GET``/``POST /webhooks/miniprogram/{account}``)."""

    def __init__(
        self,
        *,
        appid: str,
        token: str,
        encoding_aes_key: str | bytes | None,
        mode: MessageMode = "safe",
        message_format: str = "xml",
        tolerance: int = 300,
    ) -> None:
        if mode not in MESSAGE_MODES:
            raise ValueError(f"message_mode must be one of {', '.join(MESSAGE_MODES)}")
        if message_format not in MESSAGE_FORMATS:
            raise ValueError(f"message_format must be one of {', '.join(MESSAGE_FORMATS)}")
        if not token:
            raise ValueError("the message-server Token is empty")
        self.appid = appid
        self.mode = mode
        self.message_format = message_format
        self._token = token
        self._key = crypto.aes_key(encoding_aes_key) if encoding_aes_key else None
        if self._key is None and mode != "plaintext":
            raise ValueError(f"message_mode {mode!r} needs the EncodingAESKey")
        self._tolerance = tolerance

    # -- verification ---------------------------------------------------------------------------------------

    def _check_timestamp(self, timestamp: str, now: float | None) -> None:
        value = timestamp.strip()
        if not (value.isascii() and value.isdigit() and len(value) <= 12):
            raise TimestampOutOfWindow("timestamp is not a Unix timestamp", channel=CHANNEL)
        if now is None:  # the URL check: independent of our clock
            return
        skew = now - int(value)
        if self._tolerance > 0 and abs(skew) >= self._tolerance:
            raise TimestampOutOfWindow(
                f"timestamp is {abs(skew):.0f} s {'old' if skew > 0 else 'in the future'}, outside the "
                f"{self._tolerance} s window (miniprogram.timestamp_tolerance_seconds); if this server's "
                "clock is off, fix it (complaintdesk doctor measures it against WeChat)",
                channel=CHANNEL,
            )

    def _signed(self, query: Mapping[str, str], now: float | None) -> tuple[str, str]:
        """Check ``timestamp`` (against ``now`` unless None), ``nonce`` and ``signature``."""
        timestamp, nonce = query.get("timestamp"), query.get("nonce")
        if not timestamp or not nonce:
            missing = [name for name in ("timestamp", "nonce") if not query.get(name)]
            raise MissingHeaders(
                f"missing query parameters: {', '.join(missing)}", channel=CHANNEL, missing=missing
            )
        self._check_timestamp(timestamp, now)
        crypto.check_signature(query.get("signature"), self._token, timestamp, nonce, what="signature")
        return timestamp, nonce

    def _open_body(self, query: Mapping[str, str], body: bytes, timestamp: str, nonce: str) -> dict[str, Any]:
        """Parse the body; with ``Encrypt``: verify ``msg_signature``, decrypt, and parse the inside."""
        doc, _ = parse_document(body)
        encrypted = doc.get("Encrypt")
        if encrypted is None:
            if query.get("encrypt_type", "").lower() == "aes":
                raise MalformedNotification("encrypt_type=aes but the body has no Encrypt", channel=CHANNEL)
            if self.mode == "safe":
                raise SignatureInvalid(
                    "a plaintext message was refused: this account accepts only encrypted (safe-mode) ones",
                    channel=CHANNEL,
                )
            return doc
        if not isinstance(encrypted, str) or not encrypted.strip():
            raise MalformedNotification("Encrypt is empty or not text", channel=CHANNEL)
        crypto.check_signature(
            query.get("msg_signature"), self._token, timestamp, nonce, encrypted.strip(), what="msg_signature"
        )
        if self._key is None:
            raise DecryptFailed(
                "an encrypted message arrived but no EncodingAESKey is configured for this account",
                channel=CHANNEL,
            )
        inner, _ = parse_document(crypto.decrypt(self._key, encrypted, appid=self.appid))
        return inner

    # -- WebhookHandler -----------------------------------------------------------------------------------

    def open(
        self, method: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes, now: float
    ) -> WebhookOutcome:
        """Verify and open one call: the URL check (GET) or a pushed message (POST)."""
        verb = method.upper()
        if verb not in ("GET", "POST"):
            raise MalformedNotification(
                f"method {verb[:10]} is not used by the message server", channel=CHANNEL
            )
        timestamp, nonce = self._signed(query, None if verb == "GET" else now)
        if verb == "GET":
            echostr = query.get("echostr")
            if echostr is None:
                raise MalformedNotification("URL check without echostr", channel=CHANNEL)
            return WebhookOutcome(
                (), WebhookReply(status=200, body=echostr.encode("utf-8"), content_type=TEXT)
            )
        doc = self._open_body(query, body, timestamp, nonce)
        if (
            str(doc.get("MsgType", "")).strip() != "event"
            or str(doc.get("Event", "")).strip() != COMPLAINT_EVENT
        ):
            return WebhookOutcome((), SUCCESS)
        return WebhookOutcome((self._notification(doc),), SUCCESS)

    def _notification(self, doc: Mapping[str, Any]) -> OpenedNotification:
        event = complaint_event(doc)
        complaint_id = event["complaint_order_id"] or None
        status = event.get("status")
        appid = event.get("appid") or ""
        known = (
            complaint_id is not None
            and isinstance(status, int)
            and status in STATUSES
            and (not appid or appid == self.appid)
        )
        payload = dict(event)
        if appid and appid != self.appid:
            payload["appid_mismatch"] = True
        return OpenedNotification(
            dedupe_key=dedupe_key(event),
            event_type=COMPLAINT_EVENT,
            external_id=complaint_id,
            action=f"status:{status}" if status is not None else None,
            payload=payload,
            known=known,
            occurred_at=_time(event.get("CreateTime")),
        )

    def refusal(self, error: Exception) -> WebhookReply:
        """A plain-text 4xx/5xx reply (anything but ``success`` makes WeChat retry)."""
        if isinstance(error, WebhookError):
            status = error.http_status if 400 <= error.http_status < 600 else 400
            return WebhookReply(status=status, body=error.public_message.encode("utf-8"), content_type=TEXT)
        return WebhookReply(status=500, body=b"temporarily unable to accept the message", content_type=TEXT)
