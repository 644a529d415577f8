"""The status machine without HTTP: events, deadlines, history items."""

from __future__ import annotations

from datetime import timedelta

import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.miniprogram import AppCredentials, InvalidTransition, MiniProgramState, UnknownApp

H = 3600


def item_types(state: MiniProgramState, cid: str) -> list[int]:
    return [int(item.item_type) for item in state.get(cid).items]


def test_new_complaint_and_merchant_deadline(
    state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    start = clock.now()
    cid = state.create_complaint(creds.appid)
    c = state.get(cid)
    assert c.status == 201 and c.expire_time == start + timedelta(hours=48) and item_types(state, cid) == [1]
    clock.advance(48 * H - 1)
    assert state.run_scheduled() == 0 and c.status == 201
    clock.advance(1)
    assert state.run_scheduled() == 1
    assert (
        c.status == 202 and c.items[-1].item_type == 101 and c.items[-1].time == start + timedelta(hours=48)
    )
    clock.advance(100 * H)  # the user never confirms: closed at the second deadline
    state.run_scheduled()
    assert c.status == 205 and item_types(state, cid) == [1, 101, 108]
    assert c.items[-1].time == start + timedelta(hours=96) and c.expire_time is None


def test_deadlines_do_not_pass_without_auto_expire_until_touched(
    state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    state.auto_expire = False
    cid = state.create_complaint(creds.appid)
    clock.advance(49 * H)
    assert state.run_scheduled() == 0 and state.get(cid).status == 201
    with pytest.raises(InvalidTransition):
        state.merchant_respond(cid, 1, "太晚了")  # touching the complaint lets its deadline pass first
    assert state.get(cid).status == 202


def test_respond_accept_and_withdraw(state: MiniProgramState, creds: AppCredentials) -> None:
    cid = state.create_complaint(creds.appid)
    with pytest.raises(InvalidTransition):
        state.user_accepts(cid)
    state.merchant_respond(cid, 1, "已退款")
    state.user_accepts(cid)
    assert state.get(cid).status == 205 and item_types(state, cid) == [1, 109, 104]
    with pytest.raises(InvalidTransition):
        state.user_message(cid, "closed")
    other = state.create_complaint(creds.appid)
    state.user_withdraws(other)
    assert state.get(other).status == 102 and state.get(other).expire_time is None


def test_platform_evidence_ruling_proof_and_appeal_expiry(
    state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    cid = state.create_complaint(creds.appid)
    state.user_asks_platform(cid)
    state.platform_requests_evidence(cid)
    c = state.get(cid)
    assert c.status == 106 and c.expire_time == clock.now() + timedelta(hours=48)
    clock.advance(48 * H)
    state.run_scheduled()
    assert c.status == 107 and c.items[-1].item_type == 112
    ruled_at = clock.now()
    state.platform_rules(cid, liable=True)
    assert c.status == 206 and c.appeal_state == 401 and c.appeal_deadline == ruled_at + timedelta(hours=72)
    assert (
        c.items[-1].item_type == 31 and c.items[-1].blame_result == 0 and c.items[-1].appeal_item_type == 401
    )
    clock.advance(48 * H)
    state.run_scheduled()
    assert c.status == 208 and c.items[-1].item_type == 107
    clock.advance(24 * H)
    state.run_scheduled()
    assert c.appeal_state == 402 and c.items[-1].appeal_item_type == 402
    state.platform_rules(cid, liable=True, platform_refund=True)
    assert c.status == 312 and c.appeal_state == 402  # no second appeal window
    state.platform_refund_done(cid)
    assert c.status == 115


def test_both_parties_evidence_timeout_and_not_liable(
    state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    cid = state.create_complaint(creds.appid)
    state.merchant_respond(cid, 2, "不同意")
    state.user_asks_platform(cid)
    state.platform_requests_evidence(cid, both=True)
    clock.advance(48 * H)
    state.run_scheduled()
    assert state.get(cid).status == 109 and state.get(cid).items[-1].item_type == 113
    state.platform_rules(cid, liable=False)
    assert state.get(cid).status == 112 and state.get(cid).appeal_state == 0


def test_proof_review_and_appeal_decision(state: MiniProgramState, creds: AppCredentials) -> None:
    cid = state.create_complaint(creds.appid)
    state.user_asks_platform(cid)
    state.platform_rules(cid, liable=True)
    state.merchant_appeal(cid, "申诉理由")
    state.merchant_supply_refund(cid, "退款截图")
    assert state.get(cid).status == 207
    state.platform_reviews_proof(cid, ok=False)
    state.appeal_decided(cid, success=True)
    c = state.get(cid)
    assert c.status == 209 and c.appeal_state == 117
    assert [entry["action"] for entry in state.merchant_actions(cid)] == ["appeal", "supply_refund"]
    assert state.merchant_actions(cid, api_only=True) == []
    with pytest.raises(InvalidTransition):
        state.appeal_decided(cid, success=False)


def test_every_change_pushes_unless_told_not_to(state: MiniProgramState, creds: AppCredentials) -> None:
    cid = state.create_complaint(creds.appid, push=False)
    state.user_message(cid, "hi", push=False)
    assert state.pushes == []
    state.user_message(cid, "hello")
    [push] = state.pushes
    assert push.complaint_order_id == cid and push.info["option_type"] == 2 and len(push.history) == 3
    state.push_on_merchant_actions = False
    state.merchant_respond(cid, 1, "ok")
    assert len(state.pushes) == 1


def test_unknown_app_and_unrouted_pushes(clock: ManualClock, creds: AppCredentials) -> None:
    sim = MiniProgramState(clock=clock)
    with pytest.raises(UnknownApp):
        sim.create_complaint(creds.appid)
    sim.register(creds)  # no push URL
    sim.create_complaint(creds.appid)
    assert sim.pushes == [] and sim.stats.unrouted_pushes == 1
