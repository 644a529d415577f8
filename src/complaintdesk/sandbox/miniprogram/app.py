"""The Mini Program 交易投诉 simulator as an ASGI app: tokens, detail, media upload, CDN, sandbox controls.

Token endpoints: ``POST /cgi-bin/stable_token`` (JSON ``grant_type``/``appid``/``secret``/``force_refresh``)
and ``GET /cgi-bin/token``. Errors: 47001 body not JSON, 41002 / 41004 appid / secret missing, 40002
grant_type, 40013 unknown appid, 40125 (stable) or 40001 (classic) wrong secret, 45009 / 45011 quotas and
forced-refresh limits. The write APIs live in ``actions``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from complaintdesk.sandbox.common.controls import configure_faults
from complaintdesk.sandbox.miniprogram import codes
from complaintdesk.sandbox.miniprogram.actions import register_actions
from complaintdesk.sandbox.miniprogram.gate import ApiError, admit, quiet_dropped_connections
from complaintdesk.sandbox.miniprogram.media import CDN_PATH, MAX_UPLOAD_BYTES, sniff_image
from complaintdesk.sandbox.miniprogram.state import MiniProgramState, UnknownComplaint

DETAIL = "/wxaapi/minishop/complaintOrderDetail"


def _credentials(state: MiniProgramState, appid: Any, secret: Any, grant_type: Any, wrong_secret: int) -> str:
    if not isinstance(appid, str) or not appid:
        raise ApiError(codes.APPID_MISSING)
    if not isinstance(secret, str) or not secret:
        raise ApiError(codes.SECRET_MISSING)
    if grant_type != "client_credential":
        raise ApiError(codes.INVALID_GRANT_TYPE)
    app = state.apps.get(appid)
    if app is None:
        raise ApiError(codes.INVALID_APPID)
    if secret != app.credentials.secret:
        raise ApiError(wrong_secret, "AppSecret错误或者AppSecret不属于这个小程序")
    return appid


def create_app(state: MiniProgramState) -> FastAPI:
    """Build the simulator app around ``state``."""
    app = FastAPI(
        title="WeChat Mini Program complaints sandbox", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.simulator = state
    quiet_dropped_connections()

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        state.stats.errcodes[exc.errcode] += 1
        return exc.response()

    @app.post("/cgi-bin/stable_token")
    async def stable_token(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            raise ApiError(codes.DATA_FORMAT, "body must be a JSON object")
        appid = _credentials(
            state, body.get("appid"), body.get("secret"), body.get("grant_type"), codes.INVALID_APPSECRET
        )
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            raise ApiError(codes.DATA_FORMAT, "force_refresh must be a boolean")
        await admit(state, request, "stable_token", appid=appid)
        now = state.now().timestamp()
        token = state.tokens.stable(appid, now, force=force)
        if isinstance(token, int):
            detail = (
                "force_refresh最多每天20次" if token == codes.DAILY_QUOTA else "force_refresh间隔不能少于30秒"
            )
            raise ApiError(token, detail)
        state.stats.ok["stable_token"] += 1
        return JSONResponse({"access_token": token.value, "expires_in": token.expires_in(now)})

    @app.get("/cgi-bin/token")
    async def classic_token(request: Request) -> Response:
        params = request.query_params
        appid = _credentials(
            state,
            params.get("appid"),
            params.get("secret"),
            params.get("grant_type"),
            codes.INVALID_CREDENTIAL,
        )
        await admit(state, request, "token", appid=appid)
        now = state.now().timestamp()
        token = state.tokens.classic(appid, now)
        state.stats.ok["token"] += 1
        return JSONResponse({"access_token": token.value, "expires_in": token.expires_in(now)})

    @app.get(DETAIL)
    async def detail(request: Request) -> Response:
        appid = await admit(state, request, "detail")
        raw = request.query_params.get("complaintOrderId", "")
        if not raw:
            raise ApiError(codes.BAD_PARAM, "缺少complaintOrderId")
        if not (raw.isascii() and raw.isdigit()):
            raise ApiError(codes.BAD_PARAM, "complaintOrderId必须是数字")
        try:
            document = state.complaint(appid, raw, base_url=str(request.base_url))
        except UnknownComplaint:
            if state.find_by_order_id(raw) is not None:  # community: the WeChat Pay order id gives -1
                raise ApiError(codes.SYSTEM_ERROR) from None
            raise ApiError(codes.NOT_FOUND) from None
        state.stats.ok["detail"] += 1
        return JSONResponse(document)

    @app.post("/cgi-bin/media/upload")
    async def upload_media(request: Request) -> Response:
        appid = await admit(state, request, "upload")
        if request.query_params.get("type") != "image":
            raise ApiError(codes.INVALID_MEDIA_TYPE, "小程序只能上传图片(type=image)")
        try:
            form = await request.form()
        except Exception:  # malformed multipart: what the platform calls missing media
            raise ApiError(codes.MEDIA_MISSING) from None
        media = form.get("media")
        if not isinstance(media, UploadFile):
            raise ApiError(codes.MEDIA_MISSING, "缺少multipart字段media")
        data = await media.read()
        if not data or len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(codes.INVALID_MEDIA_SIZE, "图片大小不能超过2M")
        content_type = sniff_image(data)
        if content_type is None:
            raise ApiError(codes.INVALID_FILE_TYPE, "仅支持PNG、JPEG、JPG、GIF格式")
        upload = state.media.add_upload(appid, data, content_type, state.now())
        state.stats.ok["upload"] += 1
        created = int(upload.created_at.timestamp())
        return JSONResponse({"type": "image", "media_id": upload.media_id, "created_at": created})

    @app.get(CDN_PATH + "{key}")
    async def cdn_image(request: Request, key: str) -> Response:
        params = request.query_params
        found = state.media.fetch(key, params.get("expires", ""), params.get("sign", ""), state.now())
        if isinstance(found, str):
            text = "链接已过期" if found == "expired" else "无权访问"
            return Response(text, status_code=403, media_type="text/plain; charset=utf-8")
        data, content_type = found
        return Response(data, media_type=content_type)

    @app.get("/sandbox/state")
    async def sandbox_state() -> JSONResponse:
        return JSONResponse(describe(state))

    @app.post("/sandbox/faults")
    async def sandbox_faults(request: Request) -> JSONResponse:
        try:
            configure_faults(state.faults, await request.body(), default_status=500)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"errcode": codes.BAD_PARAM, "errmsg": str(exc)}, status_code=400)
        return JSONResponse(state.faults.as_dict())

    register_actions(app, state)
    return app


def describe(state: MiniProgramState) -> dict[str, Any]:
    """Counts for ``GET /sandbox/state`` (no secrets)."""
    complaints = [state.get(cid) for cid in state.complaint_ids()]
    pushes = state.pushes
    return {
        "apps": {
            appid: {
                "push_url": app.push_url,
                "message_format": str(app.message_format),
                "message_mode": str(app.message_mode),
                "json_layout": app.json_layout,
            }
            for appid, app in state.apps.items()
        },
        "complaints": {
            "total": len(complaints),
            "by_status": {str(k): v for k, v in sorted(Counter(int(c.status) for c in complaints).items())},
            "by_appeal_state": {
                str(k): v for k, v in Counter(int(c.appeal_state) for c in complaints).items()
            },
        },
        "pushes": {
            "total": len(pushes),
            "complaint_callback": sum(p.event == "complaint_callback" for p in pushes),
            "other_events": sum(p.event != "complaint_callback" for p in pushes),
            "delivered": sum(p.delivered for p in pushes),
            "pending": sum(not p.finished for p in pushes),
            "dropped": sum(p.dropped for p in pushes),
            "gave_up": sum(p.gave_up for p in pushes),
            "duplicates": sum(p.duplicate for p in pushes),
            "attempts": sum(p.attempts for p in pushes),
        },
        "tokens_issued": state.tokens.issued_count(),
        "uploads": state.media.upload_count(),
        "stats": state.stats.as_dict(),
        "faults": state.faults.as_dict(),
    }
