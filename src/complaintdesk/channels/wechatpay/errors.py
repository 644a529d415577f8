"""Map WeChat Pay APIv3 error responses onto the project's exception tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from complaintdesk.errors import (
    AuthFailed,
    ChannelAPIError,
    ChannelError,
    InvalidRequest,
    RateLimited,
    UpstreamNotFound,
    UpstreamUnavailable,
)

__all__ = ["NOT_FOUND_CODES", "RATE_LIMIT_CODES", "error_from_response", "header", "shape_error"]

CHANNEL = "wechatpay"
NOT_FOUND_CODES = frozenset({"RESOURCE_NOT_EXISTS", "ORDER_NOT_EXIST", "NOT_FOUND"})
RATE_LIMIT_CODES = frozenset({"FREQUENCY_LIMITED", "RATELIMIT_EXCEEDED", "RATE_LIMITED"})
_MAX_MESSAGE = 300


def header(headers: Mapping[str, str], name: str) -> str:
    """Return a header value looked up case-insensitively ("" when absent)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return ""


def _parse(body: bytes) -> tuple[str, str, Any]:
    """Return (code, message, detail) from an error body; empty values when it is not the JSON shape."""
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return "", "", None
    if not isinstance(doc, dict):
        return "", "", None
    code = doc.get("code")
    message = doc.get("message")
    return (
        code if isinstance(code, str) else "",
        message[:_MAX_MESSAGE] if isinstance(message, str) else "",
        doc.get("detail"),
    )


def _class_for(status: int, code: str) -> tuple[type[ChannelAPIError], bool]:
    """Return (exception class, retryable) for a status and code."""
    if status == 429 or code in RATE_LIMIT_CODES:
        return RateLimited, True
    if status >= 500:
        return UpstreamUnavailable, True
    if status == 404 or code in NOT_FOUND_CODES:
        return UpstreamNotFound, False
    if status in (401, 403):
        return AuthFailed, False
    if 400 <= status < 500:
        return InvalidRequest, False
    return ChannelAPIError, False


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> ChannelAPIError:
    """Build the exception for a non-2xx WeChat Pay response."""
    code, message, detail = _parse(body)
    if not message:
        content_type = header(headers, "Content-Type").split(";")[0].strip() or "no content type"
        message = f"HTTP {status} without a WeChat Pay error document ({len(body)} bytes, {content_type})"
    cls, retryable = _class_for(status, code)
    return cls(
        message,
        channel=CHANNEL,
        status=status,
        code=code,
        detail=detail,
        request_id=header(headers, "Request-ID"),
        retryable=retryable,
    )


def shape_error(what: str, exc: ValidationError) -> ChannelError:
    """Describe a document that does not fit the protocol, by location only (values may be personal data)."""
    where = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['type']}"
        for err in exc.errors(include_input=False, include_url=False)[:5]
    )
    return ChannelError(f"{what} does not match the protocol ({where})", channel=CHANNEL)
