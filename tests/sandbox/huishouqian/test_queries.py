"""COMPLAINT_QUERY and COMPLAINT_QUERY_HISTORY: documents, paging, filters, agents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

from .conftest import AGENT, MCH_A, MCH_B, SUB_1, SUB_2
from .hsqsign import Gateway

pytestmark = pytest.mark.anyio


async def test_complaint_document(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    cid = state.create_complaint(
        MCH_A,
        detail="昨天晚上我都没有充电",
        problem_description="其他问题",
        amount_fen=300,
        payer_phone="13888671848",
        complaint_time=datetime(2026, 3, 9, 16, 30, 5, tzinfo=UTC),  # 00:30:05 on the 10th in Shanghai
        merchant_trade_no="T20260310001",
    )
    result = await gw[MCH_A].ok("COMPLAINT_QUERY", {"complaintId": cid})
    assert result == {
        "data": [
            {
                "amount": 300,
                "complaintDetail": "昨天晚上我都没有充电",
                "complaintFullRefunded": 0,
                "complaintId": cid,
                "complaintState": "PENDING",
                "complaintTime": "20260310003005",
                "incomingUserResponse": 0,
                "merchantNo": MCH_A,
                "merchantTradeNo": "T20260310001",
                "payerOpenid": state.get(cid).payer_openid,
                "payerPhone": "13888671848",
                "problemDescription": "其他问题",
                "userComplaintTimes": 1,
            }
        ],
        "offset": 0,
        "totalSize": 1,
    }
    assert len(cid) == 27 and cid.isdigit()
    state.user_message(cid, "请尽快处理")
    state.seller_refund(cid)
    [doc] = (await gw[MCH_A].ok("COMPLAINT_QUERY", {"merchantTradeNo": "T20260310001"}))["data"]
    assert (doc["incomingUserResponse"], doc["complaintFullRefunded"]) == (1, 1)


async def test_paging_returns_everything_exactly_once(
    state: HuishouqianState, gw: dict[str, Gateway], clock: ManualClock
) -> None:
    start = clock.now() - timedelta(days=20)
    made = {state.create_complaint(MCH_A, complaint_time=start + timedelta(hours=13 * i)) for i in range(23)}
    state.create_complaint(MCH_B, complaint_time=start)  # someone else's
    window = {"beginDate": "2026-02-15", "endDate": "2026-03-10"}
    seen: list[str] = []
    offset, pages = 0, 0
    while True:
        page = await gw[MCH_A].ok("COMPLAINT_QUERY", {**window, "limit": 5, "offset": offset})
        assert page["offset"] == offset and page["totalSize"] == 23
        seen += [d["complaintId"] for d in page["data"]]
        pages += 1
        offset += 5
        if offset >= page["totalSize"]:
            break
    assert pages == 5 and len(seen) == 23 and set(seen) == made
    beyond = await gw[MCH_A].ok("COMPLAINT_QUERY", {**window, "limit": 5, "offset": 40})
    assert beyond["data"] == [] and beyond["totalSize"] == 23
    times = [state.get(c).complaint_time for c in seen]
    assert times == sorted(times)


async def test_date_filter_uses_the_shanghai_calendar_day(
    state: HuishouqianState, gw: dict[str, Gateway], clock: ManualClock
) -> None:
    late = state.create_complaint(
        MCH_A, complaint_time=datetime(2026, 3, 4, 16, 30, tzinfo=UTC)
    )  # 5th, 00:30
    early = state.create_complaint(
        MCH_A, complaint_time=datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    )  # 4th, 23:30
    old = state.create_complaint(MCH_A, complaint_time=clock.now() - timedelta(days=45))

    async def ids(content: dict[str, str]) -> set[str]:
        return {d["complaintId"] for d in (await gw[MCH_A].ok("COMPLAINT_QUERY", content))["data"]}

    assert await ids({"beginDate": "2026-03-05", "endDate": "2026-03-05"}) == {late}
    assert await ids({"beginDate": "2026-03-01", "endDate": "2026-03-04"}) == {early}
    assert await ids({}) == {late, early}  # default: the last 30 days
    assert await ids({"complaintId": old}) == {old}  # an id needs no window
    assert await ids({"complaintId": old, "beginDate": "2026-03-01", "endDate": "2026-03-10"}) == set()


async def test_complaint_id_errors(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    unknown = await a.error("COMPLAINT_QUERY", {"complaintId": "200200000000000000000000000"})
    assert (unknown.code, unknown.message) == ("130003", "投诉订单号不存在")
    for method in ("COMPLAINT_QUERY_HISTORY", "COMPLAINT_COMMIT_RESPONSE", "COMPLAINT_FILE_DOWNLOAD"):
        missing = await a.error(method, {"responseContent": "您好"})
        assert (missing.code, missing.message) == ("130010", "投诉订单号不能为空"), method
        unknown = await a.error(method, {"complaintId": "2002", "responseContent": "您好", "mediaUrl": "x"})
        assert unknown.code == "130003", method
    assert (await a.ok("COMPLAINT_QUERY", {"merchantTradeNo": "nope"}))["data"] == []


async def test_agent_sees_its_merchants_via_agent_merchant_no(
    state: HuishouqianState, gw: dict[str, Gateway]
) -> None:
    one, two = state.create_complaint(SUB_1), state.create_complaint(SUB_2)
    state.create_complaint(MCH_A)
    agent = gw[AGENT]

    async def ids(caller: Gateway, content: dict[str, str]) -> set[str]:
        return {d["complaintId"] for d in (await caller.ok("COMPLAINT_QUERY", content))["data"]}

    all_of_them = await agent.ok("COMPLAINT_QUERY", {"agentMerchantNo": AGENT})
    assert {d["complaintId"] for d in all_of_them["data"]} == {one, two}
    assert {d["agentNo"] for d in all_of_them["data"]} == {AGENT}
    assert {d["merchantNo"] for d in all_of_them["data"]} == {SUB_1, SUB_2}
    assert await ids(agent, {"agentMerchantNo": AGENT, "merchantNo": SUB_2}) == {two}
    assert await ids(agent, {}) == set()  # without agentMerchantNo an agent sees its own (none)
    assert await ids(gw[SUB_1], {}) == {one}  # the merchant itself still sees its own
    history = await agent.ok("COMPLAINT_QUERY_HISTORY", {"complaintId": two})
    assert history["totalSize"] == 1
    refusals = [
        (gw[MCH_A], {"agentMerchantNo": MCH_A}, "130006"),  # not an agent
        (gw[MCH_A], {"agentMerchantNo": AGENT}, "130006"),  # someone else's agent number
        (agent, {"agentMerchantNo": AGENT, "merchantNo": MCH_A}, "130004"),  # not under this agent
        (agent, {"merchantNo": SUB_1}, "130004"),  # agents must say agentMerchantNo
        (gw[SUB_1], {"complaintId": two}, "130004"),  # a sibling merchant
    ]
    for caller, content, code in refusals:
        assert (await caller.error("COMPLAINT_QUERY", content)).code == code, content


async def test_history_documents_and_paging(
    state: HuishouqianState, gw: dict[str, Gateway], clock: ManualClock
) -> None:
    cid = state.create_complaint(MCH_A, images=2)
    for i in range(6):
        clock.advance(60)
        state.user_message(cid, f"第{i}条留言", images=i % 2)
    state.platform_message(cid, "请商户尽快处理")
    a = gw[MCH_A]
    first = await a.ok("COMPLAINT_QUERY_HISTORY", {"complaintId": cid, "limit": 3})
    rest = await a.ok("COMPLAINT_QUERY_HISTORY", {"complaintId": cid, "limit": 300, "offset": 3})
    entries = first["data"] + rest["data"]
    assert first["totalSize"] == rest["totalSize"] == 8 and len(entries) == 8
    assert len({e["logId"] for e in entries}) == 8
    assert [e["operateType"] for e in entries] == ["USER_CREATE_COMPLAINT"] + ["USER_RESPONSE"] * 6 + [
        "PLATFORM_RESPONSE"
    ]
    assert entries[0]["operator"] == "投诉人" and entries[-1]["operator"] == "微信支付客服"
    assert entries[0]["operateTime"] == "20260310120000" and entries[1]["operateTime"] == "20260310120100"
    assert entries[1]["operateDetails"] == "第0条留言"
    assert [len(e["imageList"]) for e in entries] == [2, 0, 1, 0, 1, 0, 1, 0]
    assert all("%2F" in url and "%2B" in url for e in entries for url in e["imageList"])
    too_many = await a.error("COMPLAINT_QUERY_HISTORY", {"complaintId": cid, "limit": 301})
    assert too_many.code == "130002"
