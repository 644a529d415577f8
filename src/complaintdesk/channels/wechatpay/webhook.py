"""Inbound complaint notifications: verify, then decrypt, then parse (sans-IO, no web framework).

Usage in a route::

    opened = verify_and_open(await request.body(), request.headers, keys=keys, apiv3_key=key, now=time.time())

Every refusal raises a ``WebhookError`` subclass; unknown event/action types come back with ``known=False``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from complaintdesk.channels.base import OpenedNotification
from complaintdesk.channels.wechatpay.crypto import VerifierKeys, aead_open
from complaintdesk.errors import (
    MalformedNotification,
    MissingHeaders,
    TimestampOutOfWindow,
    UnsupportedAlgorithm,
)

__all__ = [
    "AEAD_ALGORITHM",
    "KNOWN_ACTION_TYPES",
    "KNOWN_EVENT_TYPES",
    "SIGNATURE_TYPE",
    "parse_time",
    "verify_and_open",
    "verify_signature",
]

CHANNEL = "wechatpay"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
AEAD_ALGORITHM = "AEAD_AES_256_GCM"
CHINA_TZ = timezone(timedelta(hours=8))

KNOWN_EVENT_TYPES: frozenset[str] = frozenset({"COMPLAINT.CREATE", "COMPLAINT.STATE_CHANGE"})
KNOWN_ACTION_TYPES: frozenset[str] = frozenset(
    {
        "CREATE_COMPLAINT",
        "CONTINUE_COMPLAINT",
        "USER_RESPONSE",
        "RESPONSE_BY_PLATFORM",
        "SELLER_REFUND",
        "MERCHANT_RESPONSE",
        "MERCHANT_CONFIRM_COMPLETE",
        "MERCHANT_APPROVE_REFUND",
        "MERCHANT_REJECT_REFUND",
        "REFUND_SUCCESS",
        "USER_APPLY_PLATFORM_SERVICE",
        "USER_APPLY_PLATFORM_SERIVCE",  # (sic) spelling used by the merchant changelog
        "USER_CANCEL_PLATFORM_SERVICE",
        "PLATFORM_SERVICE_FINISHED",
    }
)

_REQUIRED_HEADERS = ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial")


def parse_time(value: object) -> datetime | None:
    """Parse an RFC3339 timestamp into an aware datetime (naive values are taken as China time)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=CHINA_TZ)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """The header ``name`` (lower-case) whatever case the caller's mapping uses its names in."""
    value = headers.get(name)
    if value is None:
        value = next((v for key, v in headers.items() if key.lower() == name), None)
    return value


def verify_signature(
    body: bytes, headers: Mapping[str, str], *, keys: VerifierKeys, now: float, tolerance: int = 300
) -> None:
    """Check the ``Wechatpay-*`` headers, timestamp window and signature over ``ts\\nnonce\\nbody\\n``."""
    found = {name: _header(headers, name.lower()) or "" for name in _REQUIRED_HEADERS}
    missing = [name for name, value in found.items() if not value]
    if missing:
        raise MissingHeaders(
            f"missing signature headers: {', '.join(missing)}", channel=CHANNEL, missing=missing
        )
    signature_type = _header(headers, "wechatpay-signature-type")
    if signature_type is not None and signature_type != SIGNATURE_TYPE:
        raise UnsupportedAlgorithm(
            f"unsupported Wechatpay-Signature-Type {signature_type[:40]!r}", channel=CHANNEL
        )
    timestamp = found["Wechatpay-Timestamp"].strip()
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise TimestampOutOfWindow("Wechatpay-Timestamp is not a Unix timestamp", channel=CHANNEL)
    skew = now - int(timestamp)
    if abs(skew) >= tolerance:
        raise TimestampOutOfWindow(
            f"Wechatpay-Timestamp is {abs(skew):.0f} s {'old' if skew > 0 else 'in the future'} "
            f"(tolerance {tolerance} s)",
            channel=CHANNEL,
        )
    message = b"%s\n%s\n%s\n" % (timestamp.encode("ascii"), found["Wechatpay-Nonce"].encode("utf-8"), body)
    keys.verify(found["Wechatpay-Serial"].strip(), message, found["Wechatpay-Signature"].strip())


def _load_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object or raise ``MalformedNotification``."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedNotification(f"{what} is not valid JSON", channel=CHANNEL) from exc
    if not isinstance(doc, dict):
        raise MalformedNotification(f"{what} is not a JSON object", channel=CHANNEL)
    return doc


def _text(doc: Mapping[str, Any], key: str) -> str | None:
    """Return ``doc[key]`` when it is a non-empty string."""
    value = doc.get(key)
    return value if isinstance(value, str) and value else None


def verify_and_open(
    body: bytes,
    headers: Mapping[str, str],
    *,
    keys: VerifierKeys,
    apiv3_key: bytes,
    now: float,
    tolerance: int = 300,
) -> OpenedNotification:
    """Verify a complaint notification and return its decrypted content."""
    verify_signature(body, headers, keys=keys, now=now, tolerance=tolerance)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNotification("notification body is not UTF-8", channel=CHANNEL) from exc
    doc = _load_object(body, "notification body")
    notification_id = _text(doc, "id")
    resource = doc.get("resource")
    if notification_id is None or not isinstance(resource, dict):
        raise MalformedNotification("notification lacks 'id' or 'resource'", channel=CHANNEL)
    algorithm = resource.get("algorithm")
    if algorithm != AEAD_ALGORITHM:
        raise UnsupportedAlgorithm(f"unsupported resource algorithm {str(algorithm)[:40]!r}", channel=CHANNEL)
    nonce = _text(resource, "nonce")
    ciphertext = _text(resource, "ciphertext")
    associated_data = resource.get("associated_data") or ""
    if nonce is None or ciphertext is None or not isinstance(associated_data, str):
        raise MalformedNotification("resource lacks nonce, ciphertext or associated_data", channel=CHANNEL)
    plaintext = aead_open(apiv3_key, nonce=nonce, associated_data=associated_data, ciphertext=ciphertext)
    payload = _load_object(plaintext, "decrypted resource")
    event_type = doc.get("event_type")
    event_type = event_type if isinstance(event_type, str) else ""
    complaint_id = _text(payload, "complaint_id")
    action = _text(payload, "action_type")
    known = event_type in KNOWN_EVENT_TYPES and action in KNOWN_ACTION_TYPES and complaint_id is not None
    return OpenedNotification(
        dedupe_key=notification_id,
        event_type=event_type,
        external_id=complaint_id,
        action=action,
        payload=payload,
        known=known,
        occurred_at=parse_time(doc.get("create_time")),
    )
