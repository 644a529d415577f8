"""Seeded populations and live traffic."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.miniprogram import AppCredentials, MiniProgramState, live_event, seed


def test_seed_gives_a_realistic_consistent_mix(
    state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    ids = seed(state, creds.appid, count=300, days=20, rng=random.Random(5))
    assert len(set(ids)) == 300 and all(cid.isdigit() for cid in ids)
    complaints = [state.get(cid) for cid in ids]
    now = clock.now()
    assert all(now - timedelta(days=20) <= c.create_time <= now for c in complaints)
    statuses = Counter(int(c.status) for c in complaints)
    assert len(statuses) >= 10
    open_ones = sum(n for s, n in statuses.items() if s not in (102, 112, 115, 116, 205, 209))
    assert open_ones >= 30 and statuses[201] > 0 and statuses[205] > 0
    assert any(c.return_bill is not None for c in complaints)
    assert {401, 402, 403} <= {int(c.appeal_state) for c in complaints}
    assert 0.2 < sum(bool(c.media) for c in complaints) / 300 < 0.5
    for c in complaints:
        times = [item.time for item in c.items]
        assert times == sorted(times) and times[-1] <= now and c.items[0].item_type == 1
        assert c.expire_time is None or c.expire_time > now  # no deadline left behind
        assert c.appeal_deadline is None or c.appeal_deadline > now
    assert state.run_scheduled() == 0
    pushed = {p.complaint_order_id for p in state.pushes}
    assert pushed == set(ids)


def test_seed_without_pushes(state: MiniProgramState, creds: AppCredentials) -> None:
    seed(state, creds.appid, count=40, days=10, push=False)
    assert state.pushes == []


def test_live_events(
    state: MiniProgramState, creds: AppCredentials, other_creds: AppCredentials, clock: ManualClock
) -> None:
    rng = random.Random(2)
    touched = []
    for _ in range(80):
        touched.append(live_event(state, rng))
        clock.advance(1800)
    assert set(touched) <= set(state.complaint_ids())
    assert 15 < len(state.complaint_ids()) < 60
    assert {state.get(cid).appid for cid in state.complaint_ids()} == {creds.appid, other_creds.appid}
    new = [p for p in state.pushes if p.info.get("option_type") == 1]
    assert len(new) == len(state.complaint_ids())
    assert len(state.pushes) > len(new)
