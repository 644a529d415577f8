"""The write endpoints of the WeChat Pay simulator: reply, immediate reply, complete, refund decision, upload.

Every call goes through ``gate.admit`` (headers, signature, rate limit, faults before apply), then the
checks below, in this order: complaint exists (404 RESOURCE_NOT_EXISTS) and is visible to the caller
(403 NO_AUTH); body fields (400 PARAM_ERROR); ``complainted_mchid`` is the complaint's (403 NO_AUTH);
gray features (403 NO_AUTH); complaint state (400 INVALID_REQUEST). Then the action is applied and counted
in ``stats.applied`` and the answer may still be replaced or dropped (``outcome.answer``).

Rate limits (``SimulatorState.limits``): ``reply`` is shared by ``/response`` and
``/response-immediate-service``; ``complete``; ``refund_progress``; ``upload``. Fault and stats names:
``reply``, ``immediate_reply``, ``complete``, ``refund_progress``, ``upload``.

Decisions: ``reject_reason`` is required with REJECT; ``launch_refund_day`` with REJECT and
``reject_reason``/``reject_media_list`` with APPROVE are 400 PARAM_ERROR ("only send fields relevant to the
action"); a ``complainted_mchid`` sent to update-refund-progress is ignored. Plain replies are not
deduplicated (a retried reply is a second reply); immediate replies are, per ``idempotent_id`` and
complaint. The upload signature covers the ``meta`` part, which must come first.
"""

from __future__ import annotations

import hashlib

from fastapi import FastAPI, Request, Response

from complaintdesk.sandbox.wechatpay import effects
from complaintdesk.sandbox.wechatpay.gate import ApiError, admit, visible_complaint
from complaintdesk.sandbox.wechatpay.media import (
    IMAGE_SUFFIXES,
    MAX_UPLOAD_BYTES,
    Part,
    parse_multipart,
    sniff_image,
)
from complaintdesk.sandbox.wechatpay.messages import (
    MessageReader,
    check_jump_allowed,
    check_target,
    jump_fields,
    uploaded_media,
)
from complaintdesk.sandbox.wechatpay.outcome import answer
from complaintdesk.sandbox.wechatpay.state import SimulatorState
from complaintdesk.sandbox.wechatpay.validate import json_body, param_error

COMPLAINT = "/v3/merchant-service/complaints-v2/{complaint_id}"
UPLOAD = "/v3/merchant-service/images/upload"


def _upload_parts(content_type: str, raw: bytes) -> list[Part]:
    try:
        parts = parse_multipart(content_type, raw)
    except ValueError as exc:
        raise ApiError(400, "PARAM_ERROR", str(exc)) from None
    if not parts or parts[0].name != "meta":
        raise param_error("meta", "缺少meta，或meta不是multipart的第一个部分")
    return parts


def _check_image(parts: list[Part]) -> tuple[str, bytes]:
    meta = json_body(parts[0].data)
    filename = meta.required("filename", max_chars=128)
    digest = meta.required("sha256", max_chars=64)
    if not filename.lower().endswith(IMAGE_SUFFIXES):
        raise param_error("filename", "文件名必须以.jpg/.jpeg/.png/.bmp结尾")
    file = next((part for part in parts[1:] if part.name == "file"), None)
    if file is None:
        raise param_error("file", "缺少file")
    if digest.lower() != hashlib.sha256(file.data).hexdigest():
        raise param_error("sha256", "与文件内容的SHA-256不一致")
    if len(file.data) > MAX_UPLOAD_BYTES:
        raise ApiError(400, "INVALID_REQUEST", "图片大小不能超过2M")
    if sniff_image(file.data) is None:
        raise ApiError(400, "INVALID_REQUEST", "图片格式不支持，仅支持JPG、BMP、PNG")
    return filename, file.data


def register_actions(app: FastAPI, state: SimulatorState) -> None:
    """Add the write endpoints to the simulator ``app``."""

    @app.post(COMPLAINT + "/response")
    async def reply(request: Request, complaint_id: str) -> Response:
        caller = await admit(state, request, "reply")
        complaint = visible_complaint(state, caller, complaint_id)
        body = json_body(await request.body())
        if body.has("complaint_id"):
            raise param_error("complaint_id", "请求体中不能包含complaint_id")
        target = body.required("complainted_mchid", max_chars=64)
        content = body.required("response_content", max_chars=state.reply_max_chars)
        images = uploaded_media(state, caller, body, "response_images")
        jumps = jump_fields(body)
        check_target(complaint, target)
        if jumps:
            check_jump_allowed(state, caller, complaint)
        effects.reply(state, complaint_id, content, uploads=images, via_api=True)
        state.stats.applied["reply"] += 1
        return answer(state, request, "reply", 204)

    @app.post(COMPLAINT + "/response-immediate-service")
    async def immediate_reply(request: Request, complaint_id: str) -> Response:
        caller = await admit(state, request, "immediate_reply", window="reply")
        complaint = visible_complaint(state, caller, complaint_id)
        body = json_body(await request.body())
        target = body.required("complainted_mchid", max_chars=64)
        idempotent_id = body.required("idempotent_id", max_chars=128)
        reader = MessageReader(state, caller)
        message_body = body.obj("message", required=True)
        assert message_body is not None
        message = reader.message(message_body)
        check_target(complaint, target)
        log_id, applied = effects.immediate_reply(
            state,
            complaint_id,
            message,
            idempotent_id,
            text="\n".join(reader.texts) or None,
            uploads=reader.uploads,
            via_api=True,
        )
        if applied:
            state.stats.applied["immediate_reply"] += 1
        return answer(state, request, "immediate_reply", 200, {"log_id": log_id})

    @app.post(COMPLAINT + "/complete")
    async def complete(request: Request, complaint_id: str) -> Response:
        caller = await admit(state, request, "complete")
        complaint = visible_complaint(state, caller, complaint_id)
        body = json_body(await request.body())
        check_target(complaint, body.required("complainted_mchid", max_chars=64))
        effects.complete(state, complaint_id, via_api=True)
        state.stats.applied["complete"] += 1
        return answer(state, request, "complete", 204)

    @app.post(COMPLAINT + "/update-refund-progress")
    async def refund_progress(request: Request, complaint_id: str) -> Response:
        caller = await admit(state, request, "refund_progress")
        visible_complaint(state, caller, complaint_id)
        body = json_body(await request.body())
        action = body.choice("action", (effects.APPROVE, effects.REJECT), required=True)
        days = body.integer("launch_refund_day", minimum=0)
        reason = body.string("reject_reason", max_chars=200)
        evidence = uploaded_media(state, caller, body, "reject_media_list")
        body.string("remark", max_chars=200)
        if action == effects.REJECT:
            if days is not None:
                raise param_error("launch_refund_day", "拒绝退款时不能传launch_refund_day")
            if reason is None:
                raise param_error("reject_reason", "拒绝退款时必须填写拒绝原因")
            effects.reject_refund(state, complaint_id, reason, uploads=evidence, via_api=True)
            state.stats.applied["refund_reject"] += 1
        else:
            for key in ("reject_reason", "reject_media_list"):
                if body.has(key):
                    raise param_error(key, f"同意退款时不能传{key}")
            effects.approve_refund(state, complaint_id, launch_refund_day=days, via_api=True)
            state.stats.applied["refund_approve"] += 1
        return answer(state, request, "refund_progress", 204)

    @app.post(UPLOAD)
    async def upload_image(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        parsed: list[list[Part]] = []

        def signed_meta(raw: bytes) -> bytes:
            parsed.append(_upload_parts(content_type, raw))
            return parsed[0][0].data

        caller = await admit(state, request, "upload", signed_body=signed_meta)
        filename, data = _check_image(parsed[0])
        media_id = state.upload_image(caller.mchid, data, filename)
        state.stats.applied["upload"] += 1
        return answer(state, request, "upload", 200, {"media_id": media_id})
