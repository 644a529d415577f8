"""Inbound complaint notifications (HS4): verify, then parse (sans-IO, no web framework).

A notification is a form POST of the request envelope (``method``, ``version``, ``format``, ``merchantNo``,
``signType``, ``signContent``, ``sign``) whose ``signContent`` is ``{"actionType": …, "complaintId": …}``.
RSA2: the fixed-order string plus ``&key=`` must verify with the platform certificate; CFCA: the
ciphertext must open with it. A stored notification is answered ``200 SUCCESS`` (text configurable,
account option ``notify_reply``; the spec marks it unconfirmed); a refused one ``4xx FAIL``.

Notifications carry neither an id nor a time, so the dedupe key is derived: SHA-256 over the merchant
number, the business JSON and the ``sign``, deduplicated in a sliding window of ``notify_dedupe_seconds``
(``core.inbox.window``): a copy arriving at most that long after the previous one is a duplicate, wherever
the clock's minute boundaries fall; a new event that looks exactly like an earlier one (e.g. a second
user message) arriving later is stored again (it only triggers a refresh).

The envelope may arrive as a form body or, when the body is empty, in the query string; either way that
part of the request is stored as received (``WebhookOutcome.envelope_in``), so the signed evidence stays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from complaintdesk.channels.base import OpenedNotification, WebhookOutcome, WebhookReply
from complaintdesk.channels.huishouqian.envelope import HuishouqianCredentials, open_notification
from complaintdesk.channels.huishouqian.errors import WrongMerchant
from complaintdesk.channels.huishouqian.mapping import ACTION_TYPE_LABELS
from complaintdesk.errors import MalformedNotification, WebhookError

__all__ = ["KNOWN_ACTION_TYPES", "HuishouqianWebhook", "dedupe_key", "parse_form"]

CHANNEL = "huishouqian"
KNOWN_ACTION_TYPES: frozenset[str] = frozenset(ACTION_TYPE_LABELS)
_TEXT = "text/plain; charset=utf-8"


def parse_form(body: bytes, query: Mapping[str, str]) -> dict[str, str]:
    """Read the envelope fields from a form body (or, when the body is empty, from the query string)."""
    if not body.strip():
        return dict(query)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNotification("notification body is not UTF-8", channel=CHANNEL) from None
    form: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name in form:
            raise MalformedNotification(f"form field {name[:32]!r} appears twice", channel=CHANNEL)
        form[name] = value
    return form


def dedupe_key(merchant_no: str, content: str, sign: str) -> str:
    """The content identity of one notification (the inbox adds the window generation)."""
    digest = hashlib.sha256("\x1f".join((merchant_no, content, sign)).encode("utf-8")).hexdigest()[:40]
    return f"hsq:{digest}"


def _text(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


class HuishouqianWebhook:
    """The ``WebhookHandler`` of one Huishouqian account."""

    def __init__(
        self,
        credentials: HuishouqianCredentials,
        *,
        agent: bool = False,
        reply_text: str = "SUCCESS",
        dedupe_seconds: int = 60,
    ) -> None:
        self.credentials = credentials
        self.agent = agent
        self.reply_text = reply_text
        self.dedupe_seconds = dedupe_seconds

    def open(
        self, method: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes, now: float
    ) -> WebhookOutcome:
        """Verify one notification call and return it for storing, with the ``SUCCESS`` reply."""
        if method.upper() != "POST":
            raise MalformedNotification(f"notifications are POSTed, not {method[:10]}", channel=CHANNEL)
        form = parse_form(body, query)
        if "signContent" not in form:
            raise MalformedNotification("notification has no signContent", channel=CHANNEL)
        merchant_no = form.get("merchantNo", "")
        # agents may be notified about sub-merchants; their signature is still checked with our keys
        if merchant_no != self.credentials.merchant_no and not self.agent:
            raise WrongMerchant("notification is addressed to another merchant number", channel=CHANNEL)
        content = open_notification(self.credentials, form)
        try:
            doc = orjson.loads(content)
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            raise MalformedNotification("signContent is not a JSON object", channel=CHANNEL)
        complaint_id = _text(doc, "complaintId")
        action = _text(doc, "actionType")
        envelope = {
            name: form.get(name, "") for name in ("method", "version", "format", "merchantNo", "signType")
        }
        opened = OpenedNotification(
            dedupe_key=dedupe_key(merchant_no, content, form.get("sign", "")),
            window_seconds=self.dedupe_seconds,
            event_type=envelope["method"] or "COMPLAINT_NOTIFY",
            external_id=complaint_id,
            action=action,
            payload={**doc, "envelope": envelope},
            known=action in KNOWN_ACTION_TYPES and complaint_id is not None,
        )
        reply = WebhookReply(status=200, body=self.reply_text.encode("utf-8"), content_type=_TEXT)
        carrier = "query" if not body.strip() else "body"
        return WebhookOutcome(notifications=(opened,), reply=reply, envelope_in=carrier)

    def refusal(self, error: Exception) -> WebhookReply:
        """``FAIL`` with the error's 4xx status (refused), or 500 when storing failed (so it is resent)."""
        status = 500
        if isinstance(error, WebhookError):
            status = error.http_status if 400 <= error.http_status < 500 else 400
        return WebhookReply(status=status, body=b"FAIL", content_type=_TEXT)
