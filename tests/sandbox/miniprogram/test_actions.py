"""The four write APIs: status rules, validation and errcodes."""

from __future__ import annotations

from typing import Any

import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.miniprogram import AppCredentials, MiniProgramState

from .conftest import PNG
from .miniclient import MiniClient

pytestmark = pytest.mark.anyio


def body(cid: str, content: str = "您好，已为您处理", **extra: Any) -> dict[str, Any]:
    return {"complaintOrderId": int(cid), "content": content, "mediaIdList": [], **extra}


async def test_respond_agree_then_wrong_status(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    cid = state.create_complaint(creds.appid)
    assert await mp.post("bussiRespondComplaint", body(cid, bussiHandle=1)) == {"errcode": 0, "errmsg": "ok"}
    doc = await mp.detail(cid)
    assert doc["complaintOrder"]["status"] == 203
    assert doc["item"][-1]["itemType"] == 109 and doc["item"][-1]["content"] == "您好，已为您处理"
    again = await mp.post("bussiRespondComplaint", body(cid, bussiHandle=2))
    assert again["errcode"] == 309
    [action] = state.merchant_actions(cid, api_only=True)
    assert action["action"] == "respond" and action["bussi_handle"] == 1 and action["via_api"]


async def test_respond_refuse_and_after_the_deadline(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    refused = state.create_complaint(creds.appid)
    late = state.create_complaint(creds.appid)
    assert (await mp.post("bussiRespondComplaint", body(refused, bussiHandle=2)))["errcode"] == 0
    assert (await mp.detail(refused))["complaintOrder"]["status"] == 204
    clock.advance(48 * 3600)
    assert (await mp.post("bussiRespondComplaint", body(late, bussiHandle=1)))["errcode"] == 309
    doc = await mp.detail(late)
    assert doc["complaintOrder"]["status"] == 202 and doc["item"][-1]["itemType"] == 101


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"bussiHandle": 3}, "bussiHandle"),
        ({"bussiHandle": None}, "bussiHandle"),
        ({"content": "", "bussiHandle": 1}, "不能为空"),
        ({"content": 5, "bussiHandle": 1}, "content"),
        ({"mediaIdList": "abc", "bussiHandle": 1}, "mediaIdList"),
        ({"mediaIdList": ["nope"], "bussiHandle": 1}, "无效"),
        ({"content": "字" * 501, "bussiHandle": 1}, "500"),
        ({"complaintOrderId": "123", "bussiHandle": 1}, "complaintOrderId"),
    ],
)
async def test_respond_validation(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials, change: dict[str, Any], fragment: str
) -> None:
    cid = state.create_complaint(creds.appid)
    payload = {k: v for k, v in {**body(cid), **change}.items() if v is not None}
    answer = await mp.post("bussiRespondComplaint", payload)
    assert answer["errcode"] == 10001 and fragment in answer["errmsg"]
    assert state.get(cid).status == 201 and state.merchant_actions(cid) == []


async def test_media_only_is_enough_and_json_errors(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    cid = state.create_complaint(creds.appid)
    media_id = (await mp.upload(PNG))["media_id"]
    answer = await mp.post(
        "bussiRespondComplaint", {"complaintOrderId": int(cid), "mediaIdList": [media_id], "bussiHandle": 1}
    )
    assert answer["errcode"] == 0
    assert (await mp.post("bussiRespondComplaint", b"{not json"))["errcode"] == 10001
    assert (await mp.post("bussiRespondComplaint", body("1", bussiHandle=1)))["errcode"] == 1


async def test_supply_proof_in_106_and_108_only(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    one, two = state.create_complaint(creds.appid), state.create_complaint(creds.appid)
    assert (await mp.post("bussiSupplyProof", body(one)))["errcode"] == 309  # still 201
    for cid, both in ((one, False), (two, True)):
        state.user_asks_platform(cid)
        state.platform_requests_evidence(cid, both=both)
    assert state.get(one).status == 106 and state.get(two).status == 108
    assert (await mp.post("bussiSupplyProof", body(one, "发货凭证")))["errcode"] == 0
    assert (await mp.post("bussiSupplyProof", body(two, "聊天记录")))["errcode"] == 0
    assert state.get(one).status == 107 and state.get(two).status == 109
    assert (await mp.detail(one))["item"][-1]["itemType"] == 8
    assert (await mp.post("bussiSupplyProof", body(one)))["errcode"] == 309


async def test_supply_refund_outside_and_inside_the_return_flow(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    plain, ret = state.create_complaint(creds.appid), state.create_complaint(creds.appid)
    for cid, goods in ((plain, False), (ret, True)):
        state.user_asks_platform(cid)
        state.platform_rules(cid, liable=True, return_goods=goods)
    assert state.get(plain).status == 206 and state.get(ret).status == 308
    assert (await mp.post("bussiSupplyRefund", body(ret)))["errcode"] == 309  # goods not shipped back yet
    extra = await mp.post("bussiSupplyRefund", body(plain, acceptReturn=1, returnId=5))
    assert extra["errcode"] == 10001  # not a return flow
    assert (await mp.post("bussiSupplyRefund", body(plain, "退款凭证")))["errcode"] == 0
    assert state.get(plain).status == 207
    return_id = state.user_ships_return(ret)
    assert (await mp.post("bussiSupplyRefund", body(ret)))["errcode"] == 10001  # acceptReturn required
    assert (await mp.post("bussiSupplyRefund", body(ret, acceptReturn=1)))["errcode"] == 10001  # returnId
    wrong = await mp.post("bussiSupplyRefund", body(ret, acceptReturn=1, returnId=return_id + 1))
    assert wrong["errcode"] == 10001 and "returnId" in wrong["errmsg"]
    assert (await mp.post("bussiSupplyRefund", body(ret, acceptReturn=1, returnId=return_id)))["errcode"] == 0
    assert state.get(ret).status == 207
    [action] = state.merchant_actions(ret)
    assert action["accept_return"] == 1 and action["return_id"] == return_id


async def test_goods_not_received_is_a_receipt_exception(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    cid = state.create_complaint(creds.appid)
    state.user_asks_platform(cid)
    state.platform_rules(cid, liable=True, return_goods=True)
    return_id = state.user_ships_return(cid)
    assert (await mp.post("bussiSupplyRefund", body(cid, acceptReturn=0, returnId=return_id)))["errcode"] == 0
    assert state.get(cid).status == 311


async def test_appeal_window(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    cid, late = state.create_complaint(creds.appid), state.create_complaint(creds.appid)
    assert (await mp.post("busiAppeal", body(cid)))["errcode"] == 1002  # no appeal stage
    for one in (cid, late):
        state.user_asks_platform(one)
        state.platform_rules(one, liable=True)
    bad = await mp.post("busiAppeal", {"complaintOrderId": int(cid), "content": 7})
    assert bad["errcode"] == 2
    assert (await mp.post("busiAppeal", {"complaintOrderId": int(cid)}))["errcode"] == 2
    clock.advance(72 * 3600 - 1)
    assert (await mp.post("busiAppeal", body(cid, "我方已发货，附物流凭证")))["errcode"] == 0
    doc = await mp.detail(cid)
    assert doc["complaintOrder"]["appealState"] == 403 and doc["item"][-1]["appealItemType"] == 403
    assert (await mp.post("busiAppeal", body(cid)))["errcode"] == 1002
    clock.advance(1)
    answer = await mp.post("busiAppeal", body(late))
    assert answer["errcode"] == 1002 and "72" in answer["errmsg"]
    assert (await mp.detail(late))["complaintOrder"]["appealState"] == 402


async def test_merchant_actions_are_pushed(
    state: MiniProgramState, mp: MiniClient, creds: AppCredentials
) -> None:
    cid = state.create_complaint(creds.appid)
    await mp.post("bussiRespondComplaint", body(cid, bussiHandle=1))
    statuses = [p.status for p in state.pushes if p.complaint_order_id == cid]
    assert statuses == [201, 203]
    assert [p.info["option_type"] for p in state.pushes] == [1, 2]
