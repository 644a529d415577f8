"""Rate limits and injected faults of the Huishouqian simulator."""

from __future__ import annotations

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

from .conftest import MCH_A, MCH_B
from .hsqsign import PATHS, Gateway

pytestmark = pytest.mark.anyio


async def test_rate_limit_per_merchant_and_endpoint(
    state: HuishouqianState, gw: dict[str, Gateway], clock: ManualClock
) -> None:
    state.windows.limits["query"] = 3
    a = gw[MCH_A]
    for _ in range(3):
        await a.ok("COMPLAINT_QUERY", {})
    limited = await a.error("COMPLAINT_QUERY", {})
    assert (limited.code, limited.message) == ("000001", "系统异常,请稍后再试:请求过于频繁")
    await gw[MCH_B].ok("COMPLAINT_QUERY", {})  # another merchant has its own window
    cid = state.create_complaint(MCH_A)
    await a.ok("COMPLAINT_QUERY_HISTORY", {"complaintId": cid})  # another endpoint too
    clock.advance(59)
    assert (await a.error("COMPLAINT_QUERY", {})).code == "000001"
    clock.advance(2)
    await a.ok("COMPLAINT_QUERY", {})
    assert state.stats.rate_limited == 2


async def test_injected_errors_before_apply(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    cid = state.create_complaint(MCH_A)
    reply = {"complaintId": cid, "responseContent": "您好"}
    state.faults.fail_next("commitResponse", 1)
    busy = await a.error("COMPLAINT_COMMIT_RESPONSE", reply)
    assert (busy.code, busy.message) == ("000001", "系统异常,请稍后再试")
    state.faults.fail_next("commitResponse", 502)
    outage = await a.client.post(
        PATHS["COMPLAINT_COMMIT_RESPONSE"], data=a.fields("COMPLAINT_COMMIT_RESPONSE", reply)
    )
    assert outage.status_code == 502 and outage.headers["content-type"].startswith("text/html")
    assert state.merchant_actions(cid) == [] and state.get(cid).state == "PENDING"
    state.faults.error_rate = 1.0
    assert (await a.error("COMPLAINT_QUERY", {})).code == "000001"
    state.faults.error_rate = 0.0
    await a.ok("COMPLAINT_COMMIT_RESPONSE", reply)
    assert len(state.merchant_actions(cid)) == 1 and state.stats.injected_errors == 3


async def test_faults_after_apply(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    cid = state.create_complaint(MCH_A)
    state.faults.drop_next_response("commitResponse")
    with pytest.raises(httpx.TransportError):
        await a.send("COMPLAINT_COMMIT_RESPONSE", {"complaintId": cid, "responseContent": "第一次"})
    assert [e["operateDetails"] for e in state.merchant_actions(cid)] == ["第一次"]
    state.faults.fail_next("commitComplete", 130001, after_apply=True)
    unknown = await a.error("COMPLAINT_COMMIT_COMPLETE", {"complaintId": cid})
    assert (unknown.code, unknown.message) == ("130001", "结果未知,请稍后查询")
    assert state.get(cid).state == "PROCESSED"
    assert state.stats.dropped_responses == 1 and state.stats.applied == {
        "commitResponse": 1,
        "commitComplete": 1,
    }


async def test_faults_endpoint_and_state_page(state: HuishouqianState, api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/sandbox/faults",
        json={
            "duplicate_rate": 0.5,
            "fail_next": {"endpoint": "query", "status": 1},
            "drop_next": [{"endpoint": "upload"}],
        },
    )
    assert response.status_code == 200
    assert state.faults.duplicate_rate == 0.5
    assert state.faults.pending_one_shots() == {"query": [1]}
    assert state.faults.pending_after_apply() == {"upload": [0]}
    assert (await api.post("/sandbox/faults", json={"nope": 1})).status_code == 400
    state.create_complaint(MCH_A, payer_phone="13912345678")
    page = (await api.get("/sandbox/state")).json()
    assert page["complaints"] == {"total": 1, "by_state": {"PENDING": 1}}
    assert page["notifications"]["total"] == 1
    assert "13912345678" not in str(page)
    assert all(m["merchant_no"] for m in page["merchants"])
