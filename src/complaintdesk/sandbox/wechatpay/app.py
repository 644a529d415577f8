"""The WeChat Pay APIv3 consumer-complaints simulator as an ASGI app (reads here, writes in ``actions``)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any
from urllib.parse import quote, unquote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException

from complaintdesk.sandbox.common.controls import configure_faults
from complaintdesk.sandbox.wechatpay.actions import register_actions
from complaintdesk.sandbox.wechatpay.callbacks import register_callbacks
from complaintdesk.sandbox.wechatpay.crypto import aead_encrypt, png_for
from complaintdesk.sandbox.wechatpay.gate import ApiError, admit, request_id, signed_json, visible_complaint
from complaintdesk.sandbox.wechatpay.model import MEDIA_PATH, rfc3339
from complaintdesk.sandbox.wechatpay.outcome import quiet_dropped_connections
from complaintdesk.sandbox.wechatpay.state import InvalidState, SignMode, SimulatorState

COMPLAINTS = "/v3/merchant-service/complaints-v2"
MAX_SPAN_DAYS = 30
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NO_PLATFORM_CERT = "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥"


def _int_param(params: QueryParams, name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ApiError(400, "PARAM_ERROR", f"参数{name}格式错误")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bound = f"[{low},{high}]" if high is not None else f">= {low}"
        raise ApiError(400, "PARAM_ERROR", f"参数{name}超出范围{bound}")
    return value


def _date_param(params: QueryParams, name: str) -> date:
    raw = params.get(name)
    if raw is None or raw == "":
        raise ApiError(400, "PARAM_ERROR", f"缺少必填参数{name}")
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "PARAM_ERROR", f"参数{name}格式错误，应为yyyy-MM-dd") from None


def _page(page: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    """``{data, limit, offset[, total_count]}``: no ``data`` when empty, ``total_count`` only at offset 0."""
    body: dict[str, Any] = {"data": page} if page else {}
    body.update(limit=limit, offset=offset)
    if offset == 0:
        body["total_count"] = total
    return body


def own_base(request: Request) -> str:
    """Scheme and host the request reached: media URLs point back at whoever serves the API."""
    return str(request.base_url).rstrip("/")


def create_app(state: SimulatorState) -> FastAPI:
    """Build the simulator app around ``state`` (read and write APIs, callback URLs, sandbox controls)."""
    app = FastAPI(title="WeChat Pay APIv3 sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.simulator = state
    quiet_dropped_connections()

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if exc.status == 400:  # header, parameter and business-rule errors (and injected 400s)
            state.stats.bad_requests += 1
        return signed_json(state, request, exc.status, exc.payload())

    @app.exception_handler(InvalidState)
    async def invalid_state(request: Request, exc: InvalidState) -> Response:
        state.stats.bad_requests += 1
        return signed_json(state, request, 400, {"code": "INVALID_REQUEST", "message": str(exc)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "INVALID_REQUEST")
        return signed_json(state, request, exc.status_code, {"code": code, "message": str(exc.detail)})

    @app.get(COMPLAINTS)
    async def list_complaints(request: Request) -> Response:
        caller = await admit(state, request, "list")
        params = request.query_params
        limit = _int_param(params, "limit", 10, 1, 50)
        offset = _int_param(params, "offset", 0, 0, None)
        begin, end = _date_param(params, "begin_date"), _date_param(params, "end_date")
        if end < begin:
            raise ApiError(400, "PARAM_ERROR", "end_date不能早于begin_date")
        if (end - begin).days > MAX_SPAN_DAYS:
            raise ApiError(400, "PARAM_ERROR", "查询时间跨度不能超过30天")
        visible = state.merchants.visible(caller.mchid)
        target = params.get("complainted_mchid")
        if target:
            if target not in visible:
                raise ApiError(403, "NO_AUTH", "无权限查询该被诉商户号的投诉单")
            visible = {target}
        found = state.complaints_between(visible, begin.isoformat(), end.isoformat())
        phone_key = state.merchants.require(caller.mchid).public_key
        base = own_base(request)
        docs = [
            c.document(phone_key, include_openid=False, base=base) for c in found[offset : offset + limit]
        ]
        return signed_json(state, request, 200, _page(docs, len(found), limit, offset))

    @app.get(COMPLAINTS + "/{complaint_id}")
    async def complaint_detail(request: Request, complaint_id: str) -> Response:
        caller = await admit(state, request, "detail")
        complaint = visible_complaint(state, caller, complaint_id)
        phone_key = state.merchants.require(caller.mchid).public_key
        return signed_json(
            state, request, 200, complaint.document(phone_key, include_openid=True, base=own_base(request))
        )

    @app.get(COMPLAINTS + "/{complaint_id}/negotiation-historys")
    async def negotiation_history(request: Request, complaint_id: str) -> Response:
        caller = await admit(state, request, "history")
        limit = _int_param(request.query_params, "limit", 100, 1, 300)
        offset = _int_param(request.query_params, "offset", 0, 0, None)
        if limit > state.history_max_limit:
            raise ApiError(400, "PARAM_ERROR", "当前查询结果数据量过大，请缩小limit后重试")
        complaint = visible_complaint(state, caller, complaint_id)
        entries = [entry.document(own_base(request)) for entry in complaint.history[offset : offset + limit]]
        return signed_json(state, request, 200, _page(entries, len(complaint.history), limit, offset))

    @app.get("/v3/certificates")
    async def certificates(request: Request) -> Response:
        caller = await admit(state, request, "certificates")
        algorithm = request.query_params.get("algorithm_type", "RSA")
        if algorithm not in ("RSA", "SM2", "ALL"):
            raise ApiError(400, "PARAM_ERROR", "algorithm_type取值错误")
        if state.sign_mode == SignMode.PUBLIC_KEY:
            raise ApiError(404, "RESOURCE_NOT_EXISTS", _NO_PLATFORM_CERT)
        data: list[dict[str, Any]] = []
        if algorithm != "SM2":
            apiv3 = state.merchants.require(caller.mchid).credentials.apiv3_key
            for issued in state.certificates.active():
                nonce, ciphertext = aead_encrypt(apiv3, issued.certificate_pem, "certificate")
                cert = issued.certificate
                data.append(
                    {
                        "serial_no": issued.serial_no,
                        "effective_time": rfc3339(cert.not_valid_before_utc),
                        "expire_time": rfc3339(cert.not_valid_after_utc),
                        "encrypt_certificate": {
                            "algorithm": "AEAD_AES_256_GCM",
                            "nonce": nonce,
                            "associated_data": "certificate",
                            "ciphertext": ciphertext,
                        },
                    }
                )
        return signed_json(state, request, 200, {"data": data})

    @app.get(MEDIA_PATH + "{media_path:path}")
    async def download_image(request: Request, media_path: str) -> Response:
        caller = await admit(state, request, "images")
        raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
        escaped = raw.decode("latin-1")[len(MEDIA_PATH) :]
        media_id = unquote(escaped)
        if state.media.upload(media_id) is not None:  # community: own uploads cannot be downloaded
            raise ApiError(400, "INVALID_REQUEST", "商户上传的图片不支持下载")
        complaint = state.media_owner(media_id)
        if complaint is None:
            raise ApiError(404, "RESOURCE_NOT_EXISTS", "图片不存在或已过期")
        if escaped != quote(media_id, safe=""):
            raise ApiError(400, "PARAM_ERROR", "media_id格式错误，请直接使用media_url")
        if complaint.complainted_mchid not in state.merchants.visible(caller.mchid):
            raise ApiError(403, "NO_AUTH", "无权限下载该图片")
        state.stats.ok["images"] += 1
        data, content_type = state.media.content(media_id) or (png_for(media_id), "image/png")
        return Response(data, media_type=content_type, headers={"Request-ID": request_id()})

    @app.get("/sandbox/state")
    async def sandbox_state() -> JSONResponse:
        return JSONResponse(describe(state))

    @app.post("/sandbox/faults")
    async def sandbox_faults(request: Request) -> JSONResponse:
        try:
            configure_faults(state.faults, await request.body(), default_status=500)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"code": "PARAM_ERROR", "message": str(exc)}, status_code=400)
        return JSONResponse(state.faults.as_dict())

    register_actions(app, state)
    register_callbacks(app, state)
    return app


def describe(state: SimulatorState) -> dict[str, Any]:
    """Counts for ``GET /sandbox/state``."""
    complaints = [state.get(cid) for cid in state.complaint_ids()]
    notes = state.notifications
    real = [n for n in notes if not n.probe]
    return {
        "sign_mode": str(state.sign_mode),
        "merchants": state.merchants.ids(),
        "complaints": {"total": len(complaints), "by_state": dict(Counter(str(c.state) for c in complaints))},
        "notifications": {
            "total": len(real),
            "delivered": sum(n.delivered for n in real),
            "pending": sum(not n.finished for n in real),
            "dropped": sum(n.dropped for n in real),
            "gave_up": sum(n.gave_up for n in real),
            "duplicates": sum(n.duplicate for n in real),
            "probes": len(notes) - len(real),
            "probes_accepted": sum(n.probe_accepted for n in notes),
            "attempts": sum(n.attempts for n in notes),
        },
        "uploads": state.media.upload_count(),
        "stats": state.stats.as_dict(),
        "faults": state.faults.as_dict(),
    }
