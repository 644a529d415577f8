"""Realistic complaint populations and live traffic for the Huishouqian simulator."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from complaintdesk.sandbox.huishouqian.model import ComplaintState
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

_TEXTS: list[tuple[str, str]] = [
    ("其他问题", "昨天晚上我都没有充电，为什么要扣款请核对一下。"),
    ("充电未成功，要求退款", "充电桩显示充电失败，但是钱已经扣了，请退款。"),
    ("重复扣款", "同一笔订单被扣了两次钱，请退还多扣的款项。"),
    ("商家未发货", "下单一周了还没有发货，客服一直不回复。"),
    ("服务未生效", "开通了会员但是权益没有生效，无法使用。"),
    ("不知情扣款", "我没有购买过这个商品，为什么会被扣款？"),
    ("商家服务态度差", "客服态度非常恶劣，还挂断电话，希望平台处理。"),
]
_USER_MESSAGES = ["请尽快处理，谢谢。", "已经过去好几天了，为什么还没有结果？", "补充一下付款截图，请查看。"]
_MERCHANT_REPLIES = [
    "您好，非常抱歉给您带来不便，我们已经核实订单，会在24小时内为您处理退款。",
    "您好，我们的客服会在今天内电话联系您，请保持电话畅通。",
]
_PLATFORM_MESSAGES = ["请商户尽快与用户协商处理。", "用户已提供补充材料，请商户查看并回复。"]
_CONTINUE_TEXTS = ["问题还是没有解决，继续投诉。", "商家说会退款但是到现在还没有收到。"]


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))


def _moments(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    span = max((end - start).total_seconds(), 1.0)
    return [start + timedelta(seconds=s) for s in sorted(rng.uniform(0, span) for _ in range(count))]


def _new(state: HuishouqianState, merchant_no: str, rng: random.Random, when: datetime, notify: bool) -> str:
    description, detail = rng.choice(_TEXTS)
    return state.create_complaint(
        merchant_no,
        detail=detail,
        problem_description=description,
        amount_fen=rng.choice([100, 300, 500, 990, 1990, 2900, 5800, 9900]),
        payer_phone=_phone(rng) if rng.random() < 0.85 else None,
        images=rng.randint(1, 3) if rng.random() < 0.3 else 0,
        complaint_time=when,
        notify=notify,
    )


def seed(
    state: HuishouqianState,
    merchant_no: str,
    *,
    count: int,
    days: int,
    rng: random.Random | None = None,
    notify: bool = True,
) -> list[str]:
    """Create ``count`` complaints over the last ``days`` days with a realistic mix of histories."""
    rng = rng or state.rng
    now = state.now()
    times = sorted(now - timedelta(seconds=rng.uniform(60, max(days, 1) * 86400)) for _ in range(count))
    ids = []
    for when in times:
        complaint_id = _new(state, merchant_no, rng, when, notify)
        moments = iter(_moments(rng, when, now, 6))
        outcome = rng.random()  # ~35% stay PENDING, ~35% PROCESSING, ~30% PROCESSED
        if rng.random() < 0.3:
            message = rng.choice(_USER_MESSAGES)
            state.user_message(complaint_id, message, rng.randint(0, 1), at=next(moments), notify=notify)
        if rng.random() < 0.05:
            message = rng.choice(_PLATFORM_MESSAGES)
            state.platform_message(complaint_id, message, at=next(moments), notify=notify)
        if outcome >= 0.35:
            reply = rng.choice(_MERCHANT_REPLIES)
            state.merchant_reply(complaint_id, reply, at=next(moments), notify=False)
            if outcome < 0.7 and rng.random() < 0.25:
                message = rng.choice(_USER_MESSAGES)
                state.user_message(complaint_id, message, at=next(moments), notify=notify)
        if outcome >= 0.7:
            if rng.random() < 0.4:
                state.seller_refund(complaint_id, at=next(moments), notify=notify)
            state.complete(complaint_id, at=next(moments), notify=False)
            if rng.random() < 0.08:
                text = rng.choice(_CONTINUE_TEXTS)
                state.continue_complaint(complaint_id, text, at=next(moments), notify=notify)
        ids.append(complaint_id)
    return ids


def live_event(state: HuishouqianState, rng: random.Random) -> str:
    """Apply one random new event (mostly new complaints and user messages); returns the complaint id."""
    targets = state.merchants.complaint_targets()
    if not targets:
        raise ValueError("register a merchant before generating live traffic")
    existing = [state.get(cid) for cid in state.complaint_ids()]
    open_ones = [c for c in existing if c.state != ComplaintState.PROCESSED]
    closed = [c for c in existing if c.state == ComplaintState.PROCESSED]
    roll = rng.random()
    if roll < 0.5 or not existing:
        return _new(state, rng.choice(targets), rng, state.now(), True)
    if roll < 0.75 and open_ones:
        complaint = rng.choice(open_ones)
        state.user_message(complaint.complaint_id, rng.choice(_USER_MESSAGES), rng.randint(0, 1))
    elif roll < 0.85 and closed:
        complaint = rng.choice(closed)
        state.continue_complaint(complaint.complaint_id, rng.choice(_CONTINUE_TEXTS))
    elif roll < 0.92 and open_ones:
        complaint = rng.choice(open_ones)
        if complaint.full_refunded:
            state.platform_message(complaint.complaint_id, rng.choice(_PLATFORM_MESSAGES))
        else:
            state.seller_refund(complaint.complaint_id)
    else:
        complaint = rng.choice(existing)
        state.platform_message(complaint.complaint_id, rng.choice(_PLATFORM_MESSAGES))
    return complaint.complaint_id
