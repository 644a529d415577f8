"""Tier 1: error responses map onto the exception tree."""

from __future__ import annotations

import json

import pytest

from complaintdesk.channels.wechatpay.errors import error_from_response
from complaintdesk.errors import (
    AuthFailed,
    ChannelAPIError,
    InvalidRequest,
    RateLimited,
    UpstreamNotFound,
    UpstreamUnavailable,
)


def _body(code: str, message: str = "msg", **extra: object) -> bytes:
    return json.dumps({"code": code, "message": message, **extra}).encode()


@pytest.mark.parametrize(
    ("status", "code", "cls", "retryable"),
    [
        (429, "FREQUENCY_LIMITED", RateLimited, True),
        (429, "RATELIMIT_EXCEEDED", RateLimited, True),
        (401, "SIGN_ERROR", AuthFailed, False),
        (403, "NO_AUTH", AuthFailed, False),
        (404, "RESOURCE_NOT_EXISTS", UpstreamNotFound, False),
        (400, "RESOURCE_NOT_EXISTS", UpstreamNotFound, False),
        (400, "ORDER_NOT_EXIST", UpstreamNotFound, False),
        (400, "PARAM_ERROR", InvalidRequest, False),
        (400, "INVALID_REQUEST", InvalidRequest, False),
        (500, "SYSTEM_ERROR", UpstreamUnavailable, True),
        (503, "SERVICE_UNAVAILABLE", UpstreamUnavailable, True),
    ],
)
def test_status_and_code_mapping(status: int, code: str, cls: type[ChannelAPIError], retryable: bool) -> None:
    error = error_from_response(status, _body(code, "出错了"), {"request-id": "RID-1"})
    assert type(error) is cls
    assert (error.status, error.code, error.message, error.request_id) == (status, code, "出错了", "RID-1")
    assert error.channel == "wechatpay"
    assert error.retryable is retryable


def test_detail_and_str() -> None:
    detail = {"field": "limit", "value": 100, "issue": "too big", "location": "query"}
    error = error_from_response(400, _body("PARAM_ERROR", "参数错误", detail=detail), {"Request-ID": "R"})
    assert error.detail == detail
    assert str(error) == "wechatpay 400 PARAM_ERROR: 参数错误 request_id=R"


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"", b"[1]", b'"text"', b"\xff"])
def test_non_json_bodies(body: bytes) -> None:
    error = error_from_response(502, body, {"Content-Type": "text/html; charset=utf-8"})
    assert isinstance(error, UpstreamUnavailable) and error.retryable
    assert error.code == ""
    assert "HTTP 502" in error.message
    assert "<html>" not in error.message


def test_unexpected_statuses() -> None:
    assert type(error_from_response(409, b"{}", {})) is InvalidRequest
    assert type(error_from_response(302, b"", {})) is ChannelAPIError
    assert error_from_response(418, b"{}", {}).request_id == ""
