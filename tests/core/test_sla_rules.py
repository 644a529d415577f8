from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from complaintdesk.core.sla.rules import DeadlineKind, SlaFacts, SlaState, assess, deadlines
from complaintdesk.settings import SlaSettings

T0 = datetime.fromisoformat("2026-11-02T00:00:00+00:00")
H = timedelta(hours=1)
LEAD = 4 * H


@dataclass(frozen=True)
class Case:
    label: str
    facts: SlaFacts
    at: timedelta  # evaluation time after T0
    state: SlaState
    due: timedelta | None  # expected sla_due_at after T0
    kinds: tuple[str, ...]
    settings: SlaSettings = field(default_factory=SlaSettings)


def wp(status: str = "open", replied: timedelta | None = None, channel: str = "wechatpay") -> SlaFacts:
    return SlaFacts(
        channel=channel,
        status=status,
        raw_status="",
        complained_at=T0,
        first_response_at=T0 + replied if replied is not None else None,
    )


def mp(
    raw_status: str, status: str = "open", deadline: timedelta | None = None, appeal: timedelta | None = None
) -> SlaFacts:
    return SlaFacts(
        channel="miniprogram",
        status=status,
        raw_status=raw_status,
        complained_at=T0,
        deadline_at=T0 + deadline if deadline is not None else None,
        appeal_started_at=T0 + appeal if appeal is not None else None,
    )


CASES = [
    Case("wp new", wp(), 1 * H, SlaState.OK, 24 * H, ("first_reply", "finish")),
    Case(
        "wp just before warning",
        wp(),
        19 * H + 59 * timedelta(minutes=1),
        SlaState.OK,
        24 * H,
        ("first_reply", "finish"),
    ),
    Case(
        "wp warning 4 h before first reply", wp(), 20 * H, SlaState.WARNING, 24 * H, ("first_reply", "finish")
    ),
    Case("wp first reply breached", wp(), 24 * H, SlaState.BREACHED, 24 * H, ("first_reply", "finish")),
    Case("wp replied: finish clock only", wp("responded", 2 * H), 30 * H, SlaState.OK, 72 * H, ("finish",)),
    Case("wp finish warning", wp("responded", 2 * H), 69 * H, SlaState.WARNING, 72 * H, ("finish",)),
    Case("wp finish breached", wp("responded", 2 * H), 73 * H, SlaState.BREACHED, 72 * H, ("finish",)),
    Case(
        "wp reply seen in history, status still open",
        wp("open", 2 * H),
        30 * H,
        SlaState.OK,
        72 * H,
        ("finish",),
    ),
    Case("wp resolved: no clock", wp("resolved"), 100 * H, SlaState.OK, None, ()),
    Case("wp closed: no clock", wp("closed"), 100 * H, SlaState.OK, None, ()),
    Case(
        "hsq like wechat pay",
        wp(channel="huishouqian"),
        25 * H,
        SlaState.BREACHED,
        24 * H,
        ("first_reply", "finish"),
    ),
    Case(
        "hsq configured 12 h",
        wp(channel="huishouqian"),
        13 * H,
        SlaState.BREACHED,
        12 * H,
        ("first_reply", "finish"),
        SlaSettings(huishouqian_first_reply_hours=12),
    ),
    Case(
        "wp configured lead 1 h",
        wp(),
        22 * H,
        SlaState.OK,
        24 * H,
        ("first_reply", "finish"),
        SlaSettings(warning_lead_hours=1),
    ),
    Case("mp pending merchant", mp("201", deadline=48 * H), 10 * H, SlaState.OK, 48 * H, ("status",)),
    Case(
        "mp pending merchant warning",
        mp("201", deadline=48 * H),
        45 * H,
        SlaState.WARNING,
        48 * H,
        ("status",),
    ),
    Case(
        "mp pending merchant breached",
        mp("201", deadline=48 * H),
        49 * H,
        SlaState.BREACHED,
        48 * H,
        ("status",),
    ),
    Case("mp proof due", mp("206", deadline=30 * H), 31 * H, SlaState.BREACHED, 30 * H, ("status",)),
    Case(
        "mp waiting for the user: not ours",
        mp("203", "responded", deadline=48 * H),
        49 * H,
        SlaState.OK,
        None,
        (),
    ),
    Case(
        "mp unknown status counts",
        mp("999", "unknown", deadline=48 * H),
        49 * H,
        SlaState.BREACHED,
        48 * H,
        ("status",),
    ),
    Case("mp no first-reply clock", mp("201"), 100 * H, SlaState.OK, None, ()),
    Case("mp appeal window", mp("209", "closed", appeal=50 * H), 60 * H, SlaState.OK, 122 * H, ("appeal",)),
    Case(
        "mp appeal breached",
        mp("209", "closed", appeal=50 * H),
        123 * H,
        SlaState.BREACHED,
        122 * H,
        ("appeal",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_rules(case: Case) -> None:
    found = deadlines(case.facts, case.settings)
    lead = timedelta(hours=case.settings.warning_lead_hours)
    result = assess(found, T0 + case.at, lead)
    assert result.state == case.state
    assert result.due_at == (T0 + case.due if case.due is not None else None)
    assert tuple(d.kind.value for d in found) == case.kinds


def test_next_check_is_the_next_state_change() -> None:
    found = deadlines(wp(), SlaSettings())
    assert [d.kind for d in found] == [DeadlineKind.FIRST_REPLY, DeadlineKind.FINISH]
    assert assess(found, T0 + H, LEAD).next_check_at == T0 + 20 * H  # first reply enters warning
    assert assess(found, T0 + 21 * H, LEAD).next_check_at == T0 + 24 * H  # first reply breaches
    assert assess(found, T0 + 25 * H, LEAD).next_check_at == T0 + 68 * H  # finish enters warning
    assert assess(found, T0 + 80 * H, LEAD).next_check_at is None  # everything already breached
