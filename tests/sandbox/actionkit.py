"""Small helpers for the write-endpoint tests: image bytes, URLs, answer checks."""

from __future__ import annotations

import os
from typing import Any

import httpx

from complaintdesk.sandbox.wechatpay.keys import PlatformKeys

from .wxsign import API, verify_response

COMPLAINTS = "/v3/merchant-service/complaints-v2"
NOTIFICATIONS = "/v3/merchant-service/complaint-notifications"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200)
JPG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(200)
BMP = b"BM" + os.urandom(200)
GIF = b"GIF89a" + os.urandom(200)


def url(complaint_id: str, action: str) -> str:
    """``/v3/merchant-service/complaints-v2/{id}/{action}``."""
    return f"{COMPLAINTS}/{complaint_id}/{action}"


def expect_error(
    response: httpx.Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """Assert an error answer (and its ``detail.field`` when given); returns the JSON body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["message"]
    if field is not None:
        assert body["detail"]["field"] == field, body
    return body


def expect_signed_204(response: httpx.Response, platform: PlatformKeys) -> None:
    """A 204 with an empty body, signed over ``ts\\nnonce\\n\\n``."""
    assert response.status_code == 204, response.text
    assert response.content == b""
    verify_response(response, platform)


def path_of(media_url: str) -> str:
    """The request path of a ``media_url`` (kept percent-escaped)."""
    assert media_url.startswith(API)
    return media_url.removeprefix(API)
