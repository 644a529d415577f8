"""Complete and update-refund-progress endpoints, and the refund arrival of the WeChat Pay simulator."""

from __future__ import annotations

from typing import Any

import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.wechatpay.keys import PlatformKeys
from complaintdesk.sandbox.wechatpay.state import InvalidState, SimulatorState

from .actionkit import PNG, expect_error, expect_signed_204, path_of, url
from .conftest import MCH_A, MCH_B, SUB_1
from .wxsign import Caller

pytestmark = pytest.mark.anyio


def _types(state: SimulatorState, cid: str) -> list[str]:
    return [h["operate_type"] for h in state.history(cid)]


async def test_complete_marks_processed_once(
    state: SimulatorState, as_a: Caller, as_sp: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(MCH_A)
    sent = len(state.notifications)
    expect_error(await as_a.post(url(cid, "complete"), {}), 400, "PARAM_ERROR", "complainted_mchid")
    expect_error(await as_a.post(url(cid, "complete"), {"complainted_mchid": MCH_B}), 403, "NO_AUTH")
    expect_signed_204(await as_a.post(url(cid, "complete"), {"complainted_mchid": MCH_A}), platform)
    assert state.complaint(cid)["complaint_state"] == "PROCESSED"
    assert _types(state, cid)[-1] == "MERCHANT_CONFIRM_COMPLETE"
    assert len(state.notifications) == sent
    again = await as_a.post(url(cid, "complete"), {"complainted_mchid": MCH_A})
    expect_error(again, 400, "INVALID_REQUEST")
    assert state.stats.applied["complete"] == 1
    sub = state.create_complaint(SUB_1)
    expect_signed_204(await as_sp.post(url(sub, "complete"), {"complainted_mchid": SUB_1}), platform)


async def test_reject_closes_with_reason_and_evidence(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(MCH_A)
    evidence = (await as_a.upload("proof.png", PNG)).json()["media_id"]
    body = {"action": "REJECT", "reject_reason": "商品已签收且已使用", "reject_media_list": [evidence]}
    body["complainted_mchid"] = MCH_B  # not part of this API: ignored
    expect_signed_204(await as_a.post(url(cid, "update-refund-progress"), body), platform)
    assert state.complaint(cid)["complaint_state"] == "PROCESSED"
    last = state.history(cid)[-1]
    assert (
        last["operate_type"] == "MERCHANT_REFUSE_RERUND" and last["operate_details"] == "商品已签收且已使用"
    )
    [image] = last["complaint_media_list"]["media_url"]
    assert (await as_a.get(path_of(image))).content == PNG
    again = await as_a.post(url(cid, "update-refund-progress"), {"action": "APPROVE"})
    expect_error(again, 400, "INVALID_REQUEST")
    assert state.stats.applied["refund_reject"] == 1


async def test_approve_then_immediate_refund_queues_refund_success(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(MCH_A)
    state.merchant_reply(cid, "同意退款")
    body = {"action": "APPROVE", "launch_refund_day": 0, "remark": "已核实"}
    expect_signed_204(await as_a.post(url(cid, "update-refund-progress"), body), platform)
    doc = state.complaint(cid)
    assert doc["complaint_state"] == "PROCESSED" and doc["complaint_full_refunded"] is True
    assert _types(state, cid)[-2:] == ["MERCHANT_APPROVE_REFUND", "COMPLAINT_REFUND_RECEIVED_SYSTEM_MESSAGE"]
    last = state.notifications[-1]
    assert (last.complaint_id, last.action_type, last.mchid) == (cid, "REFUND_SUCCESS", MCH_A)
    assert last.event_type == "COMPLAINT.STATE_CHANGE" and not last.finished


async def test_approved_refund_arrives_after_the_delay(
    platform: PlatformKeys, clock: ManualClock, state: SimulatorState, as_a: Caller
) -> None:
    state.refund_delay = 3600
    cid = state.create_complaint(MCH_A)
    expect_signed_204(await as_a.post(url(cid, "update-refund-progress"), {"action": "APPROVE"}), platform)
    assert state.complaint(cid)["complaint_state"] == "PENDING"
    assert _types(state, cid)[-1] == "MERCHANT_APPROVE_REFUND"
    second = await as_a.post(url(cid, "update-refund-progress"), {"action": "REJECT", "reject_reason": "no"})
    expect_error(second, 400, "INVALID_REQUEST")
    clock.advance(3599)
    assert state.run_scheduled() == 0
    assert state.get(cid).state == "PENDING" and not state.get(cid).refund_received
    clock.advance(1)
    await as_a.get(f"/v3/merchant-service/complaints-v2/{cid}")  # any API call lets due events happen
    assert state.complaint(cid)["complaint_state"] == "PROCESSED"
    assert [n.action_type for n in state.notifications][-1] == "REFUND_SUCCESS"


def test_manual_refund_arrival(state: SimulatorState) -> None:
    state.auto_refund = False
    cid = state.create_complaint(MCH_A)
    with pytest.raises(InvalidState):
        state.refund_arrives(cid)
    state.approve_refund(cid)
    assert state.get(cid).state == "PENDING" and state.run_scheduled() == 0
    state.refund_arrives(cid)
    assert state.get(cid).state == "PROCESSED" and state.get(cid).full_refunded
    with pytest.raises(InvalidState):
        state.refund_arrives(cid)
    assert [h["operate_type"] for h in state.merchant_actions(cid)] == ["MERCHANT_APPROVE_REFUND"]
    assert state.merchant_actions(cid, api_only=True) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "action"),
        ({"action": "MAYBE"}, "action"),
        ({"action": "REJECT", "reject_reason": "不同意", "launch_refund_day": 1}, "launch_refund_day"),
        ({"action": "APPROVE", "launch_refund_day": -1}, "launch_refund_day"),
        ({"action": "APPROVE", "launch_refund_day": "3"}, "launch_refund_day"),
        ({"action": "APPROVE", "launch_refund_day": True}, "launch_refund_day"),
        ({"action": "REJECT"}, "reject_reason"),
        ({"action": "REJECT", "reject_reason": "因" * 201}, "reject_reason"),
        ({"action": "REJECT", "reject_reason": "x", "reject_media_list": ["a"] * 5}, "reject_media_list"),
        ({"action": "REJECT", "reject_reason": "x", "reject_media_list": ["a/b+c="]}, "reject_media_list[0]"),
        ({"action": "APPROVE", "reject_reason": "x"}, "reject_reason"),
        ({"action": "APPROVE", "reject_media_list": []}, "reject_media_list"),
        ({"action": "APPROVE", "remark": "备" * 201}, "remark"),
    ],
)
async def test_refund_progress_parameter_errors(
    state: SimulatorState, as_a: Caller, body: dict[str, Any], field: str
) -> None:
    cid = state.create_complaint(MCH_A)
    response = await as_a.post(url(cid, "update-refund-progress"), body)
    expect_error(response, 400, "PARAM_ERROR", field)
    assert state.get(cid).refund_decision is None and state.merchant_actions(cid) == []


async def test_refund_progress_business_rules(state: SimulatorState, as_a: Caller, as_b: Caller) -> None:
    other = state.create_complaint(MCH_A, problem_type="OTHERS")
    response = await as_a.post(url(other, "update-refund-progress"), {"action": "APPROVE"})
    expect_error(response, 400, "INVALID_REQUEST")
    closed = state.create_complaint(MCH_A)
    state.complete(closed)
    response = await as_a.post(url(closed, "update-refund-progress"), {"action": "APPROVE"})
    expect_error(response, 400, "INVALID_REQUEST")
    foreign = state.create_complaint(MCH_A)
    response = await as_b.post(url(foreign, "update-refund-progress"), {"action": "APPROVE"})
    expect_error(response, 403, "NO_AUTH")
