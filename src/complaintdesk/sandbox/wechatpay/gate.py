"""What every simulated API call goes through: headers, signature, rate limit, faults; signed answers."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Request, Response

from complaintdesk.sandbox.wechatpay.crypto import random_string, sign, verify
from complaintdesk.sandbox.wechatpay.model import Complaint
from complaintdesk.sandbox.wechatpay.state import SimulatorState, UnknownComplaint

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
CLOCK_TOLERANCE = 300  # seconds; UNCONFIRMED upstream (spec §3.1), the commonly cited value
_BAD_AUTH_HEADER = "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》"
_PAIR = re.compile(r'\s*([A-Za-z_]+)="([^"]*)"\s*')
_REQUIRED = frozenset({"mchid", "nonce_str", "timestamp", "serial_no", "signature"})
_FAULT_CODES = {
    400: "INVALID_REQUEST",
    401: "SIGN_ERROR",
    403: "NO_AUTH",
    404: "RESOURCE_NOT_EXISTS",
    429: "FREQUENCY_LIMITED",
    500: "SYSTEM_ERROR",
    502: "SERVICE_UNAVAILABLE",
    503: "SERVICE_UNAVAILABLE",
}


class ApiError(Exception):
    """An error answer ``{"code","message"[,"detail"]}``."""

    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def payload(self) -> dict[str, Any]:
        """The JSON body."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


@dataclass(frozen=True)
class Caller:
    """An authenticated merchant and the ``Wechatpay-Serial`` it asked for."""

    mchid: str
    request_serial: str | None


def canonical_url(request: Request) -> str:
    """Path plus query exactly as received (percent-escapes intact)."""
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    query: bytes = request.scope.get("query_string", b"")
    url = raw_path.decode("latin-1")
    return f"{url}?{query.decode('latin-1')}" if query else url


def signed_json(state: SimulatorState, request: Request, status: int, payload: dict[str, Any]) -> Response:
    """A JSON response signed like WeChat Pay (key chosen by sign mode and the request's serial)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return signed_response(state, request, status, body)


def signed_empty(state: SimulatorState, request: Request, status: int = 204) -> Response:
    """An empty (204) answer, still signed: the verify string is ``ts\nnonce\n\n``."""
    return signed_response(state, request, status, b"")


def signed_response(state: SimulatorState, request: Request, status: int, body: bytes) -> Response:
    """Sign ``body`` (JSON or empty) and wrap it with the ``Wechatpay-*`` headers."""
    if 200 <= status < 300:
        state.stats.ok[getattr(request.state, "endpoint", "other")] += 1
    key, serial = state.response_signer(request.headers.get("wechatpay-serial"))
    timestamp = str(int(state.now().timestamp()))
    nonce = random_string(32)
    signature = sign(key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
    headers = {
        "Request-ID": request_id(),
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": AUTH_SCHEME,  # spec §3.2: on every signed response
    }
    media_type = "application/json" if body else None
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def request_id() -> str:
    """A Request-ID like WeChat's (hex)."""
    return uuid.uuid4().hex.upper()


async def admit(
    state: SimulatorState,
    request: Request,
    endpoint: str,
    *,
    window: str | None = None,
    signed_body: Callable[[bytes], bytes] | None = None,
) -> Caller:
    """Run the common checks for ``endpoint``; raises ``ApiError`` or returns the caller.

    ``window`` names the rate limit (default: the endpoint); ``signed_body`` extracts the part of the
    raw body the signature covers (the ``meta`` JSON of an upload; it may raise ``ApiError``).
    """
    stats, faults = state.stats, state.faults
    state.run_scheduled()
    stats.calls[endpoint] += 1
    request.state.endpoint = endpoint
    if faults.latency > 0:
        await anyio.sleep(faults.latency)
    if not request.headers.get("accept") or not request.headers.get("user-agent"):
        raise ApiError(400, "INVALID_REQUEST", "Http头缺少Accept或User-Agent")
    body = await request.body()
    if signed_body is not None:
        body = signed_body(body)
    try:
        mchid = authenticate(state, request, body)
    except ApiError:
        stats.unauthorized += 1
        raise
    if not state.admit(mchid, window or endpoint):
        stats.rate_limited += 1
        raise ApiError(429, "FREQUENCY_LIMITED", "请求过于频繁，请稍后再试")
    injected = faults.take(endpoint)
    if injected is None and faults.error_rate > 0 and state.fault_rng.random() < faults.error_rate:
        injected = 500
    if injected is not None:
        stats.injected_errors += 1
        code = _FAULT_CODES.get(injected, "SYSTEM_ERROR" if injected >= 500 else "INVALID_REQUEST")
        raise ApiError(injected, code, "系统错误，请稍后重试" if injected >= 500 else "模拟的错误 (injected)")
    if faults.timeout_rate > 0 and state.fault_rng.random() < faults.timeout_rate:
        stats.timeouts += 1
        await anyio.sleep(faults.timeout_delay)
    return Caller(mchid, request.headers.get("wechatpay-serial"))


def parse_authorization(value: str) -> dict[str, str] | None:
    """The key/value pairs of a ``WECHATPAY2-SHA256-RSA2048`` header (any order), or None."""
    scheme, _, params = value.strip().partition(" ")
    if scheme != AUTH_SCHEME:
        return None
    pairs: dict[str, str] = {}
    for part in params.split(","):
        match = _PAIR.fullmatch(part)
        if match is None or match.group(1) in pairs:
            return None
        pairs[match.group(1)] = match.group(2)
    return pairs if pairs.keys() >= _REQUIRED else None


def authenticate(state: SimulatorState, request: Request, body: bytes) -> str:
    """Verify the merchant's request signature; returns its mchid or raises 401 SIGN_ERROR."""
    pairs = parse_authorization(request.headers.get("authorization", ""))
    if pairs is None:
        raise ApiError(
            401, "SIGN_ERROR", "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》"
        )
    url = canonical_url(request)
    text = body.decode("utf-8", errors="replace")
    head = f"{request.method}\n{url}\n{pairs['timestamp']}\n{pairs['nonce_str']}\n"
    message = head.encode("utf-8") + body + b"\n"
    detail = {
        "sign_information": {
            "method": request.method,
            "url": url,
            "sign_message_length": len(message),
            "truncated_sign_message": f"{head}{text[:16]}\n",
        }
    }
    merchant = state.merchants.get(pairs["mchid"])
    if merchant is None:
        raise ApiError(401, "SIGN_ERROR", f"商户号{pairs['mchid']}不存在或未开通APIv3", detail)
    if pairs["serial_no"].upper() != merchant.credentials.serial_no.upper():
        raise ApiError(401, "SIGN_ERROR", "商户证书序列号有误。请使用签名私钥匹配的证书序列号", detail)
    stamp = pairs["timestamp"]
    if not (stamp.isascii() and stamp.isdigit()):
        raise ApiError(401, "SIGN_ERROR", "时间戳格式错误", detail)
    if abs(int(stamp) - state.now().timestamp()) > CLOCK_TOLERANCE:
        raise ApiError(401, "SIGN_ERROR", "请求的时间戳与当前时间相差过大，请检查系统时间", detail)
    if not verify(merchant.public_key, message, pairs["signature"]):
        raise ApiError(401, "SIGN_ERROR", "错误的签名，验签失败", detail)
    return pairs["mchid"]


def visible_complaint(state: SimulatorState, caller: Caller, complaint_id: str) -> Complaint:
    """The complaint, if ``caller`` may see it (404 RESOURCE_NOT_EXISTS / 403 NO_AUTH otherwise)."""
    try:
        complaint = state.get(complaint_id)
    except UnknownComplaint:
        raise ApiError(404, "RESOURCE_NOT_EXISTS", "投诉单不存在") from None
    if complaint.complainted_mchid not in state.merchants.visible(caller.mchid):
        raise ApiError(403, "NO_AUTH", "无权限访问该投诉单")
    return complaint
