"""complaintOrderDetail: the document, its image links, and its errors."""

from __future__ import annotations

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.miniprogram import AppCredentials, MiniProgramState

from .miniclient import MiniClient

pytestmark = pytest.mark.anyio


async def test_detail_document(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    created = int(clock.now().timestamp())
    cid = state.create_complaint(
        creds.appid, type=642, content="商品破损", images=2, phone_number="13800138000", total_cost=12800
    )
    assert cid.isdigit() and int(cid) > 2**53
    doc = await mp.detail(cid)
    assert doc["errcode"] == 0 and doc["errmsg"] == "ok"
    order = doc["complaintOrder"]
    assert order["complaintOrderId"] == cid  # a string in this response
    assert order["status"] == 201 and order["type"] == 642 and order["appealState"] == 0
    assert order["createTime"] == created and order["expireTime"] == created + 48 * 3600
    assert order["phoneNumber"] == 13800138000  # documented as a number
    assert order["totalCost"] == "12800"  # documented as a string
    assert order["customerMaterial"]["content"] == "商品破损"
    assert len(order["customerMaterial"]["mediaIdList"]) == 2
    assert order["payTime"] < created and order["orderId"].startswith("4200") and len(order["orderId"]) == 28
    for key in ("openid", "outTradeNo", "productName", "headImgUrl", "nickName"):
        assert isinstance(order[key], str) and order[key]
    [item] = doc["item"]
    assert item["itemType"] == 1 and item["time"] == created and item["content"] == "商品破损"
    assert item["mediaIdList"] == order["customerMaterial"]["mediaIdList"]
    assert "returnBill" not in doc
    assert doc == state.complaint(creds.appid, cid, base_url="https://api.weixin.qq.com/")


async def test_image_links_serve_pngs_and_expire(
    mp: MiniClient,
    http: httpx.AsyncClient,
    state: MiniProgramState,
    creds: AppCredentials,
    clock: ManualClock,
) -> None:
    cid = state.create_complaint(creds.appid, images=1)
    [url] = (await mp.detail(cid))["complaintOrder"]["customerMaterial"]["mediaIdList"]
    assert url.startswith("https://api.weixin.qq.com/sandbox/cdn/")
    image = await http.get(url)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.headers["content-type"] == "image/png"
    assert (await http.get(url.replace("sign=", "sign=0"))).status_code == 403
    clock.advance(3600)
    assert (await http.get(url)).status_code == 403
    [fresh] = (await mp.detail(cid))["complaintOrder"]["customerMaterial"]["mediaIdList"]
    assert fresh != url and (await http.get(fresh)).content == image.content


async def test_detail_errors(
    mp: MiniClient, mp_other: MiniClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    cid = state.create_complaint(creds.appid)
    http = mp.http
    no_id = await http.get("/wxaapi/minishop/complaintOrderDetail", params={"access_token": await mp.token()})
    assert no_id.json()["errcode"] == 10001
    assert (await mp.detail("12ab"))["errcode"] == 10001
    assert (await mp.detail(str(int(cid) + 1)))["errcode"] == 1
    assert (await mp.detail(state.get(cid).order_id))["errcode"] == -1  # the WeChat Pay order id
    assert (await mp_other.detail(cid))["errcode"] == 1  # another mini program's complaint
    assert (await mp.detail(cid))["errcode"] == 0


async def test_return_bill_and_history_after_a_return_flow(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    cid = state.create_complaint(creds.appid)
    clock.advance(600)
    state.user_asks_platform(cid)
    state.platform_rules(cid, liable=True, return_goods=True)
    return_id = state.user_ships_return(cid, waybill_id="SF1234567890123")
    state.return_progress(cid, 4)
    doc = await mp.detail(cid)
    assert doc["complaintOrder"]["status"] == 309
    assert doc["returnBill"] == {
        "returnId": return_id,
        "waybillId": "SF1234567890123",
        "deliveryName": "顺丰速运",
        "orderStatus": 4,
    }
    types = [item["itemType"] for item in doc["item"]]
    assert types == [1, 11, 32, 2]
    ruling = doc["item"][2]
    assert ruling["blameResult"] == 1 and ruling["appealItemType"] == 401
    assert doc["complaintOrder"]["appealState"] == 401
    assert all("blameResult" not in item for i, item in enumerate(doc["item"]) if i != 2)
