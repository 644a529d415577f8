"""What every gateway call goes through (form envelope, merchant, signature, limits, faults) and its answer.

Checks, in order (answers in ``codes``): form body parsed (a body-less request may carry the pairs in
the query string, as one integration does); ``merchantNo`` present and known (``130005``, unsigned);
sign key configured (``130011``, unsigned); required fields present; ``signType`` RSA2/CFCA and the
merchant's; RSA2 signature (lowercase hex SHA256withRSA over the fixed-order string, verified with the
merchant's certificate) or CFCA decryption of ``signContent``; ``method`` is the path's; ``version``
``1.0``; ``format`` ``JSON``; rate limit (``000001``); injected faults; ``signContent`` a JSON object.
From the merchant check on, RSA2 answers are signed with the platform key; CFCA answers are unsigned and
a successful ``result`` is CFCA-encrypted with the platform key (ASSUMPTION, spec B.5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import anyio
from fastapi import Request, Response

from complaintdesk.sandbox.huishouqian.codes import (
    BAD_PARAMS,
    KEY_NOT_CONFIGURED,
    NO_MERCHANT,
    SYSTEM_ERROR,
    GatewayError,
    injected,
)
from complaintdesk.sandbox.huishouqian.crypto import (
    SIGNED_FIELDS,
    cfca_decrypt,
    cfca_encrypt,
    error_sign_string,
    request_sign_string,
    sign_hex,
    success_sign_string,
    verify_hex,
)
from complaintdesk.sandbox.huishouqian.keys import CFCA, RSA2
from complaintdesk.sandbox.huishouqian.registry import Merchant
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

#: Path name under ``/complaint/`` -> the ``method`` the envelope must carry.
ENDPOINTS: dict[str, str] = {
    "query": "COMPLAINT_QUERY",
    "queryHistory": "COMPLAINT_QUERY_HISTORY",
    "commitResponse": "COMPLAINT_COMMIT_RESPONSE",
    "commitComplete": "COMPLAINT_COMMIT_COMPLETE",
    "upload": "COMPLAINT_FILE_UPLOAD",
    "download": "COMPLAINT_FILE_DOWNLOAD",
}
MAX_BODY_BYTES = 8 * 1024 * 1024
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Call:
    """An authenticated call: who, which endpoint, and the business parameters from ``signContent``."""

    merchant: Merchant
    endpoint: str
    params: dict[str, Any]

    @property
    def merchant_no(self) -> str:
        """The calling merchant (or agent)."""
        return self.merchant.merchant_no


async def read_fields(request: Request) -> dict[str, str]:
    """The envelope pairs from the form body (or the query string when the body is empty)."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise GatewayError(BAD_PARAMS, "请求报文过大")
    if body:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != _FORM:
            raise GatewayError(BAD_PARAMS, f"Content-Type须为{_FORM}")
        raw = body
    else:
        raw = request.scope.get("query_string", b"")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise GatewayError(BAD_PARAMS, "请求报文须为UTF-8表单") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise GatewayError(BAD_PARAMS, f"参数{name}重复")
        fields[name] = value
    return fields


def _authenticate(state: HuishouqianState, merchant: Merchant, fields: dict[str, str]) -> str:
    """The plaintext ``signContent`` after RSA2 verification or CFCA decryption."""
    if merchant.cfca:
        try:
            return cfca_decrypt(merchant.public_key, fields["signContent"])
        except ValueError:
            state.stats.bad_signatures += 1
            raise GatewayError(BAD_PARAMS, "signContent解密失败") from None
    text = request_sign_string(fields, merchant.credentials.sign_key)
    if not verify_hex(merchant.public_key, text, fields.get("sign", "")):
        state.stats.bad_signatures += 1
        raise GatewayError(BAD_PARAMS, "验签失败")
    return fields["signContent"]


async def admit(state: HuishouqianState, request: Request, endpoint: str) -> Call:
    """Run the common checks for ``endpoint``; raises ``GatewayError``/``HttpFailure`` or returns the call."""
    stats, faults = state.stats, state.faults
    stats.calls[endpoint] += 1
    request.state.endpoint = endpoint
    if faults.latency > 0:
        await anyio.sleep(faults.latency)
    fields = await read_fields(request)
    merchant_no = fields.get("merchantNo", "")
    if not merchant_no:
        raise GatewayError(BAD_PARAMS, "merchantNo不能为空")
    merchant = state.merchants.get(merchant_no)
    if merchant is None:
        raise GatewayError(NO_MERCHANT)
    if not merchant.key_configured:
        raise GatewayError(KEY_NOT_CONFIGURED)
    request.state.merchant = merchant  # from here on the answer is signed (RSA2) for this merchant
    for name in SIGNED_FIELDS:
        if not fields.get(name):
            raise GatewayError(BAD_PARAMS, f"{name}不能为空")
    if fields["signType"] not in (RSA2, CFCA):
        raise GatewayError(BAD_PARAMS, "signType不支持")
    if fields["signType"] != merchant.credentials.sign_type:
        raise GatewayError(BAD_PARAMS, "signType与商户配置不符")
    content = _authenticate(state, merchant, fields)
    if fields["method"] != ENDPOINTS[endpoint]:
        raise GatewayError(BAD_PARAMS, "method与请求地址不匹配")
    if fields["version"] != "1.0":
        raise GatewayError(BAD_PARAMS, "version不支持")
    if fields["format"] != "JSON":
        raise GatewayError(BAD_PARAMS, "format不支持")
    if not state.admit(merchant_no, endpoint):
        stats.rate_limited += 1
        raise GatewayError(SYSTEM_ERROR, "请求过于频繁")
    value = faults.take(endpoint)
    if value is None and faults.error_rate > 0 and state.fault_rng.random() < faults.error_rate:
        value = int(SYSTEM_ERROR)
    if value is not None:
        stats.injected_errors += 1
        raise injected(value)
    if faults.timeout_rate > 0 and state.fault_rng.random() < faults.timeout_rate:
        stats.timeouts += 1
        await anyio.sleep(faults.timeout_delay)
    try:
        params = json.loads(content)
    except ValueError:
        params = None
    if not isinstance(params, dict):
        raise GatewayError(BAD_PARAMS, "signContent须为JSON对象")
    return Call(merchant, endpoint, params)


def _json(document: dict[str, Any]) -> Response:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode("utf-8"), media_type="application/json;charset=UTF-8")


def _success_flag(state: HuishouqianState, ok: bool) -> bool | str:
    return ("true" if ok else "false") if state.success_as_string else ok


def success_response(state: HuishouqianState, call: Call, result: dict[str, Any]) -> Response:
    """``{"success": true, "result": "<JSON string>", ...}``, signed over the exact result string."""
    state.stats.ok[call.endpoint] += 1
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    merchant = call.merchant
    if merchant.cfca:
        result_field, sign = cfca_encrypt(state.platform_key, text), ""
    else:
        result_field = text
        sign = sign_hex(state.platform_key, success_sign_string(text, "true", merchant.credentials.sign_key))
    return _json(
        {
            "success": _success_flag(state, True),
            "result": result_field,
            "errorCode": state.success_code,
            "errorMsg": None,
            "sign": sign,
        }
    )


def error_response(state: HuishouqianState, merchant: Merchant | None, error: GatewayError) -> Response:
    """``{"success": false, "errorCode", "errorMsg", "sign"}``; unsigned when no RSA2 merchant is known."""
    state.stats.errors[error.code] += 1
    sign = ""
    if merchant is not None and not merchant.cfca and merchant.key_configured:
        text = error_sign_string(error.code, error.message, "false", merchant.credentials.sign_key)
        sign = sign_hex(state.platform_key, text)
    return _json(
        {
            "success": _success_flag(state, False),
            "result": None,
            "errorCode": error.code,
            "errorMsg": error.message,
            "sign": sign,
        }
    )


def failure_response(status: int) -> Response:
    """What a proxy in front of the gateway answers when it fails: HTML, not the JSON envelope."""
    page = f"<html><head><title>{status}</title></head><body><h1>{status}</h1><hr>nginx</body></html>"
    return Response(page.encode("ascii"), status_code=status, media_type="text/html")
