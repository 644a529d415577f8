"""Realistic complaint populations and live traffic for the Mini Program simulator."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from complaintdesk.sandbox.miniprogram.codes import (
    CLOSED_STATUSES,
    COMPLAINT_TYPES,
    WAIT_USER_STATUSES,
    AppealState,
    Status,
)
from complaintdesk.sandbox.miniprogram.model import Complaint
from complaintdesk.sandbox.miniprogram.state import PLATFORM_STATUSES, MiniProgramState

_PRODUCTS = [
    ("夏季纯棉T恤 白色 L", 5900),
    ("无线蓝牙耳机 降噪版", 19900),
    ("进口车厘子 2斤装", 12800),
    ("儿童绘本套装 10册", 8990),
    ("月卡会员 30天", 3000),
    ("短剧全集解锁", 2990),
    ("家用电饭煲 4L", 29900),
    ("运动跑鞋 42码", 45900),
]
_DETAILS = [
    "下单五天了还没有发货，联系客服也不回复，要求退款。",
    "收到的东西和图片完全不一样，质量很差。",
    "商品到手就是坏的，外包装也破了。",
    "说好的赠品没有给，客服一直推脱。",
    "同一笔订单被扣了两次钱，请退还多扣的款项。",
    "不小心买错了，还没有使用，申请退款。",
    "页面显示的价格和实际支付的金额不一致。",
]
_USER_MESSAGES = [
    "请尽快处理，谢谢。",
    "已经等了好几天了。",
    "补充一下照片，请查看。",
    "客服电话一直打不通。",
]
_RESPONSES = [
    "您好，非常抱歉给您带来不便，已为您安排全额退款，请注意查收。",
    "您好，已为您补发商品，快递单号稍后短信通知。",
    "您好，经核实商品发出时完好，请提供开箱照片以便我们进一步处理。",
]
_PROOFS = ["已上传发货单和物流签收记录。", "附聊天记录截图与退款凭证。", "已退款，附退款截图。"]


class _Story:
    """Walks one complaint through events at increasing times, never past ``now`` or a pending deadline."""

    def __init__(self, state: MiniProgramState, c: Complaint, rng: random.Random, now: datetime, push: bool):
        self.state, self.c, self.rng, self.now, self.push = state, c, rng, now, push
        self.t = c.create_time
        self.stopped = False

    def step(self, low_hours: float, high_hours: float, event: Callable[[datetime], object]) -> bool:
        """Advance by a random gap (before the current deadline) and apply ``event``; False once past now."""
        if self.stopped:
            return False
        gap = self.rng.uniform(low_hours, high_hours) * 3600
        deadline = self.c.expire_time
        if deadline is not None:
            gap = min(gap, max((deadline - self.t).total_seconds() - 60, 1))
        when = self.t + timedelta(seconds=gap)
        if when >= self.now:
            self.stopped = True
            return False
        self.t = when
        event(when)
        return True


def _complaint(state: MiniProgramState, appid: str, rng: random.Random, when: datetime, push: bool) -> str:
    product, price = rng.choice(_PRODUCTS)
    return state.create_complaint(
        appid,
        type=rng.choice(sorted(COMPLAINT_TYPES)),
        content=rng.choice(_DETAILS),
        images=rng.randint(1, 3) if rng.random() < 0.35 else 0,
        product_name=product,
        total_cost=price,
        at=when,
        push=push,
    )


def _platform(story: _Story, rng: random.Random) -> None:
    """From 101: evidence, a ruling, and what follows it."""
    s, cid, push = story.state, story.c.complaint_order_id, story.push
    both = rng.random() < 0.4
    if not story.step(2, 20, lambda t: s.platform_requests_evidence(cid, both=both, at=t, push=push)):
        return
    if rng.random() < 0.7:
        text = rng.choice(_PROOFS)
        story.step(1, 30, lambda t: s.merchant_supply_proof(cid, text, ["proof"], at=t, push=push))
    roll = rng.random()
    liable = roll >= 0.35
    ret, refund = 0.65 <= roll < 0.85, roll >= 0.85
    ruled = story.step(
        3,
        48,
        lambda t: s.platform_rules(
            cid, liable=liable, return_goods=ret, platform_refund=refund, at=t, push=push
        ),
    )
    if not ruled or not liable:
        return
    if rng.random() < 0.4:
        story.step(
            1,
            60,
            lambda t: s.merchant_appeal(cid, "我方已按约定发货，附物流凭证。", ["appeal"], at=t, push=push),
        )
        if rng.random() < 0.6:
            story.step(12, 72, lambda t: s.appeal_decided(cid, success=rng.random() < 0.3, at=t, push=push))
    c = story.c
    if c.status == Status.PLATFORM_REFUNDING:
        if rng.random() < 0.7:
            story.step(2, 48, lambda t: s.platform_refund_done(cid, at=t, push=push))
    elif c.status == Status.WAIT_USER_RETURN:
        if story.step(4, 72, lambda t: s.user_ships_return(cid, at=t, push=push)):
            story.step(12, 48, lambda t: s.return_progress(cid, 4, at=t, push=push))
            accept = 1 if rng.random() < 0.85 else 0
            bill = c.return_bill
            rid = bill.return_id if bill else None
            story.step(
                2,
                40,
                lambda t: s.merchant_supply_refund(
                    cid, "已收到退货并退款", accept_return=accept, return_id=rid, at=t, push=push
                ),
            )
    elif c.status == Status.WAIT_PROCESSING_PROOF and rng.random() < 0.75:
        story.step(
            1, 40, lambda t: s.merchant_supply_refund(cid, rng.choice(_PROOFS), ["refund"], at=t, push=push)
        )
    if c.status == Status.PLATFORM_VERIFYING_PROOF:
        story.step(4, 48, lambda t: s.platform_reviews_proof(cid, ok=rng.random() < 0.85, at=t, push=push))


def _story(state: MiniProgramState, cid: str, rng: random.Random, now: datetime, push: bool) -> None:
    c = state.get(cid)
    story = _Story(state, c, rng, now, push)
    s = state
    if rng.random() < 0.3:
        story.step(
            0.2,
            12,
            lambda t: s.user_message(cid, rng.choice(_USER_MESSAGES), rng.randint(0, 1), at=t, push=push),
        )
    roll = rng.random()
    if roll < 0.08:
        story.step(1, 30, lambda t: s.user_withdraws(cid, at=t, push=push))
        return
    if roll < 0.75:
        handle = 1 if rng.random() < 0.7 else 2
        story.step(
            0.5, 40, lambda t: s.merchant_respond(cid, handle, rng.choice(_RESPONSES), at=t, push=push)
        )
    outcome = rng.random()
    if outcome < 0.45 and c.status in WAIT_USER_STATUSES:
        story.step(1, 40, lambda t: s.user_accepts(cid, at=t, push=push))
    elif (
        outcome < 0.85
        and c.status in {201, *WAIT_USER_STATUSES}
        and story.step(1, 40, lambda t: s.user_asks_platform(cid, at=t, push=push))
    ):
        _platform(story, rng)
    state.expire_due(c, now, push)


def seed(
    state: MiniProgramState,
    appid: str,
    *,
    count: int,
    days: int,
    rng: random.Random | None = None,
    push: bool = True,
) -> list[str]:
    """Create ``count`` complaints over the last ``days`` days with plausible histories; returns their ids."""
    rng = rng or state.rng
    now = state.now()
    times = sorted(now - timedelta(seconds=rng.uniform(60, max(days, 1) * 86400)) for _ in range(count))
    ids = []
    for when in times:
        cid = _complaint(state, appid, rng, when, push)
        _story(state, cid, rng, now, push)
        ids.append(cid)
    return ids


def _options(c: Complaint) -> list[str]:
    """The live events that may happen to ``c`` now."""
    status = c.status
    names = ["user_message"]
    if status in WAIT_USER_STATUSES:
        names.append("user_accepts")
    if status in {201, *WAIT_USER_STATUSES}:
        names.append("user_asks_platform")
    if status in PLATFORM_STATUSES:
        names.append("platform_requests_evidence")
    if status in {101, 107, 109, 208, 311}:
        names.append("platform_rules")
    if status == Status.WAIT_USER_RETURN:
        names.append("user_ships_return")
    if status == Status.PLATFORM_VERIFYING_PROOF:
        names.append("platform_reviews_proof")
    if status == Status.PLATFORM_REFUNDING:
        names.append("platform_refund_done")
    if c.appeal_state == AppealState.IN_PROGRESS:
        names.append("appeal_decided")
    return names


def _apply(state: MiniProgramState, cid: str, name: str, rng: random.Random) -> None:
    if name == "user_message":
        state.user_message(cid, rng.choice(_USER_MESSAGES), rng.randint(0, 1))
    elif name == "platform_requests_evidence":
        state.platform_requests_evidence(cid, both=rng.random() < 0.4)
    elif name == "platform_rules":
        roll = rng.random()
        state.platform_rules(
            cid, liable=roll >= 0.35, return_goods=0.65 <= roll < 0.85, platform_refund=roll >= 0.85
        )
    elif name == "platform_reviews_proof":
        state.platform_reviews_proof(cid, ok=rng.random() < 0.85)
    elif name == "appeal_decided":
        state.appeal_decided(cid, success=rng.random() < 0.3)
    else:
        getattr(state, name)(cid)


def live_event(state: MiniProgramState, rng: random.Random) -> str:
    """Apply one random new event now (new complaints, user messages, platform steps); returns the id."""
    if not state.apps:
        raise ValueError("register an app before generating live traffic")
    state.run_scheduled()
    choices = [
        (cid, name)
        for cid in state.complaint_ids()
        if state.get(cid).status not in CLOSED_STATUSES
        for name in _options(state.get(cid))
    ]
    if not choices or rng.random() < 0.4:
        return _complaint(state, rng.choice(sorted(state.apps)), rng, state.now(), True)
    cid, name = rng.choice(choices)
    _apply(state, cid, name, rng)
    return cid
