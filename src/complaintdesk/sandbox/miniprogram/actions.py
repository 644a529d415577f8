"""The four merchant write APIs of the Mini Program simulator (spec A.3): validation and status rules.

Order of checks, after ``gate.admit`` (token, quotas, faults): JSON object body (10001); ``complaintOrderId``
a positive JSON number (10001); the complaint exists for this appid (1); ``content`` a string and
``mediaIdList`` a list of strings, at least one of them non-empty, ``content`` ≤ ``content_max_chars`` and
≤ ``media_max_count`` ids (10001; **2** for ``busiAppeal``); every media id uploaded by this app and younger
than 3 days (10001 / appeal 2, ``errmsg`` says unknown or expired); endpoint fields (``bussiHandle`` 1|2);
status (309; appeal 1002, also for a late appeal); return-flow fields (``acceptReturn`` 0|1 and ``returnId``
equal to ``returnBill.returnId`` are required in status 309 and refused elsewhere: 10001). Then the effect is
applied (``stats.applied[endpoint]``) and the answer may still be replaced or dropped (``gate.answer``).

Endpoint names (quotas, faults, stats): ``respond``, ``supply_proof``, ``supply_refund``, ``appeal``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request, Response

from complaintdesk.sandbox.miniprogram import codes
from complaintdesk.sandbox.miniprogram.codes import AppealState, Status
from complaintdesk.sandbox.miniprogram.gate import ApiError, admit, answer
from complaintdesk.sandbox.miniprogram.media import Upload
from complaintdesk.sandbox.miniprogram.model import Complaint
from complaintdesk.sandbox.miniprogram.state import MiniProgramState, UnknownComplaint

BASE = "/wxaapi/minishop/"
ENDPOINTS = {
    "bussiRespondComplaint": "respond",
    "bussiSupplyProof": "supply_proof",
    "bussiSupplyRefund": "supply_refund",
    "busiAppeal": "appeal",
}
_OK = {"errcode": 0, "errmsg": "ok"}


def _body(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(codes.BAD_PARAM, "请求体不是合法的JSON") from None
    if not isinstance(value, dict):
        raise ApiError(codes.BAD_PARAM, "请求体必须是JSON对象")
    return value


def _number(body: dict[str, Any], name: str) -> int | None:
    """An integer JSON number field (None when absent); strings and booleans are refused."""
    if name not in body:
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(codes.BAD_PARAM, f"{name}必须是数字")
    return value


def _complaint(state: MiniProgramState, appid: str, body: dict[str, Any]) -> Complaint:
    cid = _number(body, "complaintOrderId")
    if cid is None or cid <= 0:
        raise ApiError(codes.BAD_PARAM, "缺少complaintOrderId")
    try:
        complaint = state.get(cid)
    except UnknownComplaint:
        raise ApiError(codes.NOT_FOUND) from None
    if complaint.appid != appid:
        raise ApiError(codes.NOT_FOUND)
    state.expire_due(complaint, state.now())  # a deadline that passed has moved the status on
    return complaint


def _material(state: MiniProgramState, appid: str, body: dict[str, Any], code: int) -> tuple[str, list[str]]:
    """``content`` and ``mediaIdList`` checked; ``code`` is the errcode for any problem (10001 or 2)."""
    content = body.get("content", "")
    media = body.get("mediaIdList", [])
    if not isinstance(content, str):
        raise ApiError(code, "content必须是字符串")
    if not isinstance(media, list) or not all(isinstance(m, str) and m for m in media):
        raise ApiError(code, "mediaIdList必须是字符串数组")
    if not content.strip() and not media:
        raise ApiError(code, "内容或者图片不能为空")
    if len(content) > state.content_max_chars:
        raise ApiError(code, f"content不能超过{state.content_max_chars}个字符")
    if len(media) > state.media_max_count:
        raise ApiError(code, f"mediaIdList最多{state.media_max_count}个")
    now = state.now()
    for media_id in media:
        found = state.media.resolve(media_id, appid, now)
        if found == "expired":
            raise ApiError(code, "mediaIdList中的media_id已过期(有效期3天)，请重新上传")
        if not isinstance(found, Upload):
            raise ApiError(code, "mediaIdList中包含无效的media_id")
    return content, list(media)


def _return_fields(complaint: Complaint, body: dict[str, Any]) -> tuple[int | None, int | None]:
    accept, return_id = _number(body, "acceptReturn"), _number(body, "returnId")
    bill = complaint.return_bill
    if complaint.status != Status.RETURN_SHIPPED or bill is None:
        if accept is not None or return_id is not None:
            raise ApiError(codes.BAD_PARAM, "非退货流程，不需要acceptReturn和returnId")
        return None, None
    if accept not in (0, 1):
        raise ApiError(codes.BAD_PARAM, "退货流程必须填写acceptReturn(0或1)")
    if return_id is None:
        raise ApiError(codes.BAD_PARAM, "退货流程必须填写returnId")
    if return_id != bill.return_id:
        raise ApiError(codes.BAD_PARAM, "returnId与退货单不一致")
    return accept, return_id


def register_actions(app: FastAPI, state: MiniProgramState) -> None:
    """Add the four write endpoints to the simulator ``app``."""

    @app.post(BASE + "bussiRespondComplaint")
    async def respond(request: Request) -> Response:
        appid = await admit(state, request, "respond")
        body = _body(await request.body())
        complaint = _complaint(state, appid, body)
        content, media = _material(state, appid, body, codes.BAD_PARAM)
        handle = _number(body, "bussiHandle")
        if handle not in (1, 2):
            raise ApiError(codes.BAD_PARAM, "bussiHandle必须是1(同意和解)或2(拒绝和解)")
        if complaint.status != Status.PENDING_MERCHANT:
            raise ApiError(codes.WRONG_STATUS)
        state.merchant_respond(complaint.complaint_order_id, handle, content, media, via_api=True)
        state.stats.applied["respond"] += 1
        return answer(state, "respond", _OK)

    @app.post(BASE + "bussiSupplyProof")
    async def supply_proof(request: Request) -> Response:
        appid = await admit(state, request, "supply_proof")
        body = _body(await request.body())
        complaint = _complaint(state, appid, body)
        content, media = _material(state, appid, body, codes.BAD_PARAM)
        if complaint.status not in (Status.WAIT_MERCHANT_EVIDENCE, Status.WAIT_BOTH_EVIDENCE):
            raise ApiError(codes.WRONG_STATUS)
        state.merchant_supply_proof(complaint.complaint_order_id, content, media, via_api=True)
        state.stats.applied["supply_proof"] += 1
        return answer(state, "supply_proof", _OK)

    @app.post(BASE + "bussiSupplyRefund")
    async def supply_refund(request: Request) -> Response:
        appid = await admit(state, request, "supply_refund")
        body = _body(await request.body())
        complaint = _complaint(state, appid, body)
        content, media = _material(state, appid, body, codes.BAD_PARAM)
        in_return_flow = complaint.status == Status.RETURN_SHIPPED and complaint.return_bill is not None
        if complaint.status != Status.WAIT_PROCESSING_PROOF and not in_return_flow:
            raise ApiError(codes.WRONG_STATUS)
        accept, return_id = _return_fields(complaint, body)
        state.merchant_supply_refund(
            complaint.complaint_order_id,
            content,
            media,
            accept_return=accept,
            return_id=return_id,
            via_api=True,
        )
        state.stats.applied["supply_refund"] += 1
        return answer(state, "supply_refund", _OK)

    @app.post(BASE + "busiAppeal")
    async def appeal(request: Request) -> Response:
        appid = await admit(state, request, "appeal")
        body = _body(await request.body())
        complaint = _complaint(state, appid, body)
        content, media = _material(state, appid, body, codes.APPEAL_BAD_PARAM)
        if complaint.appeal_state != AppealState.WAITING:
            detail = "申诉期已过(72小时)" if complaint.appeal_state == AppealState.EXPIRED else None
            raise ApiError(codes.APPEAL_NOT_ALLOWED, detail)
        state.merchant_appeal(complaint.complaint_order_id, content, media, via_api=True)
        state.stats.applied["appeal"] += 1
        return answer(state, "appeal", _OK)
