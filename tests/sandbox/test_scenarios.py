"""Seeded populations and live traffic."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.wechatpay.model import SHANGHAI
from complaintdesk.sandbox.wechatpay.scenarios import live_event, seed
from complaintdesk.sandbox.wechatpay.state import SimulatorState

from .conftest import MCH_A, SUB_1


def test_seed_spreads_a_realistic_mix_over_the_window(state: SimulatorState, clock: ManualClock) -> None:
    ids = seed(state, MCH_A, count=300, days=20, rng=random.Random(3))
    assert len(ids) == len(set(ids)) == 300
    docs = [state.complaint(cid) for cid in ids]
    complaints = [state.get(cid) for cid in ids]
    assert all(clock.now() - timedelta(days=20) <= c.complaint_time <= clock.now() for c in complaints)
    days = {c.complaint_time.astimezone(SHANGHAI).date() for c in complaints}
    assert len(days) >= 15
    types = Counter(d["problem_type"] for d in docs)
    assert 0.3 < types["REFUND"] / 300 < 0.5
    assert all(("apply_refund_amount" in d) == (d["problem_type"] == "REFUND") for d in docs)
    states = Counter(d["complaint_state"] for d in docs)
    assert min(states["PENDING"], states["PROCESSING"], states["PROCESSED"]) > 30
    assert any("complaint_media_list" in d for d in docs)
    assert any(d["need_immediate_service"] for d in docs)
    assert any(d["user_complaint_times"] > 1 for d in docs)
    assert any(d["incoming_user_response"] for d in docs)
    assert any(c.in_platform_service for c in complaints)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in d["complaint_detail"]) for d in docs)
    for cid in ids:
        history = state.history(cid)
        assert history[0]["operate_type"] == "USER_CREATE_COMPLAINT"
        times = [state.get(cid).history[i].operate_time for i in range(len(history))]
        assert times == sorted(times) and times[-1] <= clock.now() + timedelta(seconds=1)
        if state.get(cid).state != "PENDING" or state.get(cid).user_complaint_times > 1:
            assert any(h["operate_type"] == "MERCHANT_RESPONSE" for h in history)


def test_seed_without_notifications(state: SimulatorState) -> None:
    seed(state, SUB_1, count=20, days=5, notify=False)
    assert state.notifications == []


def test_live_events_mostly_new_complaints_and_messages(state: SimulatorState) -> None:
    rng = random.Random(9)
    touched = [live_event(state, rng) for _ in range(60)]
    assert set(touched) <= set(state.complaint_ids())
    assert 15 < len(state.complaint_ids()) < 50
    actions = Counter(n.action_type for n in state.notifications)
    assert actions["CREATE_COMPLAINT"] == len(state.complaint_ids())
    assert actions["USER_RESPONSE"] > 0
