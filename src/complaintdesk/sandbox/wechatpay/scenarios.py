"""Realistic complaint populations and live traffic for the WeChat Pay simulator."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from complaintdesk.sandbox.wechatpay.model import Complaint, ComplaintState
from complaintdesk.sandbox.wechatpay.state import SimulatorState

_TEXTS: dict[str, list[tuple[str, str]]] = {
    "REFUND": [
        ("商家未发货，要求退款", "下单一周了还没有发货，客服一直不回复，申请全额退款。"),
        ("商品质量问题，要求退款", "收到的商品有明显破损，和描述完全不符，要求退款。"),
        ("重复扣款，要求退款", "同一笔订单被扣了两次钱，请退还多扣的款项。"),
        ("未享受服务，要求退款", "预约的课程被取消了，但是费用一直没有退回。"),
        ("商家拒绝退款", "按照约定七天无理由退货，商家收到退货后拒绝退款。"),
    ],
    "SERVICE_NOT_WORK": [
        ("会员权益未生效", "开通了会员但是权益没有生效，无法使用。"),
        ("充值未到账", "话费充值已经付款两个小时了还没有到账。"),
        ("兑换码无法使用", "购买的兑换码提示已被使用，联系不上商家。"),
    ],
    "OTHERS": [
        ("商家服务态度差", "客服态度非常恶劣，还挂断电话，希望平台处理。"),
        ("虚假宣传", "宣传的是正品，收到的明显是仿品，商家不承认。"),
        ("不知情扣款", "我没有购买过这个商品，为什么会被扣款？"),
        ("诱导消费", "说是免费体验，结果自动扣费，没有任何提示。"),
    ],
}
_USER_MESSAGES = [
    "请尽快处理，谢谢。",
    "已经过去好几天了，为什么还没有结果？",
    "补充一下订单截图，请查看。",
    "商家电话一直打不通。",
    "我只要求退款，不需要其他补偿。",
]
_MERCHANT_REPLIES = [
    "您好，非常抱歉给您带来不便，我们已经核实订单，会在24小时内为您处理退款。",
    "您好，已为您安排补发，快递单号稍后短信通知您。",
    "您好，我们的客服会在今天内电话联系您，请保持电话畅通。",
]
_PLATFORM_MESSAGES = ["请商户尽快与用户协商处理。", "用户已提供补充材料，请商户查看并回复。"]
_PLATFORM_REASONS = ["商家未回复", "对商家处理结果不满意", "商家拒绝退款"]
_CONTINUE_TEXTS = ["问题还是没有解决，继续投诉。", "商家说会退款但是到现在还没有收到。"]


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))


def _moments(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    span = max((end - start).total_seconds(), 1.0)
    return [start + timedelta(seconds=s) for s in sorted(rng.uniform(0, span) for _ in range(count))]


def seed(
    state: SimulatorState,
    complainted_mchid: str,
    *,
    count: int,
    days: int,
    rng: random.Random | None = None,
    notify: bool = True,
) -> list[str]:
    """Create ``count`` complaints spread over the last ``days`` days, with a realistic mix of histories."""
    rng = rng or state.rng
    now = state.now()
    times = sorted(now - timedelta(seconds=rng.uniform(60, max(days, 1) * 86400)) for _ in range(count))
    return [_one(state, complainted_mchid, rng, when, now, notify, follow_ups=True) for when in times]


def _one(
    state: SimulatorState,
    mchid: str,
    rng: random.Random,
    when: datetime,
    now: datetime,
    notify: bool,
    *,
    follow_ups: bool,
) -> str:
    """One complaint; with ``follow_ups`` also a plausible history between ``when`` and ``now``."""
    roll = rng.random()
    problem_type = "REFUND" if roll < 0.4 else "SERVICE_NOT_WORK" if roll < 0.7 else "OTHERS"
    description, detail = rng.choice(_TEXTS[problem_type])
    amount = rng.choice([990, 1990, 2900, 5800, 9900, 12800, 29900, 49900, 128800])
    refund = None
    if problem_type == "REFUND":
        refund = amount if rng.random() < 0.7 else rng.randint(1, amount)
    tags = ["TRUSTED"] if rng.random() < 0.2 else ["HIGH_RISK"] if rng.random() < 0.05 else []
    complaint_id = state.create_complaint(
        mchid,
        detail=detail,
        problem_type=problem_type,
        problem_description=description,
        amount_fen=amount,
        apply_refund_amount_fen=refund,
        payer_phone=_phone(rng) if rng.random() < 0.85 else None,
        images=rng.randint(1, 3) if rng.random() < 0.3 else 0,
        complaint_time=when,
        need_immediate_service=rng.random() < 0.1,
        user_tags=tags,
        notify=notify,
    )
    if not follow_ups:
        return complaint_id
    moments = iter(_moments(rng, when, now, 10))
    outcome = rng.random()  # ~35% stay PENDING, ~35% PROCESSING, ~30% PROCESSED
    if rng.random() < 0.3:
        state.user_message(
            complaint_id, rng.choice(_USER_MESSAGES), rng.randint(0, 1), at=next(moments), notify=notify
        )
    if rng.random() < 0.05:
        state.platform_message(complaint_id, rng.choice(_PLATFORM_MESSAGES), at=next(moments), notify=notify)
    if outcome >= 0.35:
        state.merchant_reply(complaint_id, rng.choice(_MERCHANT_REPLIES), at=next(moments))
        if outcome < 0.7 and rng.random() < 0.25:  # a fresh user message the merchant has not answered
            state.user_message(complaint_id, rng.choice(_USER_MESSAGES), at=next(moments), notify=notify)
    if rng.random() < 0.1:
        state.apply_platform_service(
            complaint_id, rng.choice(_PLATFORM_REASONS), at=next(moments), notify=notify
        )
        if rng.random() < 0.5:
            state.finish_platform_service(complaint_id, at=next(moments), notify=notify)
    if outcome >= 0.7:
        if problem_type == "REFUND" and rng.random() < 0.5:
            state.seller_refund(complaint_id, at=next(moments), notify=notify)
        state.complete(complaint_id, at=next(moments))
        if rng.random() < 0.08:
            state.continue_complaint(
                complaint_id, rng.choice(_CONTINUE_TEXTS), at=next(moments), notify=notify
            )
    return complaint_id


def _awaiting_user(c: Complaint) -> bool:
    """The last word is a merchant reply made through the API."""
    return bool(c.history) and c.history[-1].via_api and c.history[-1].operate_type == "MERCHANT_RESPONSE"


def live_event(state: SimulatorState, rng: random.Random) -> str:
    """Apply one random new event (mostly new complaints and user messages); returns the complaint id.

    User messages go half of the time to complaints the merchant just answered through the API, so
    a desk that replies sees users write back.
    """
    existing = [state.get(cid) for cid in state.complaint_ids()]
    targets = state.merchants.complaint_targets()
    if not targets:
        raise ValueError("register a merchant before generating live traffic")
    open_ones = [c for c in existing if c.state != ComplaintState.PROCESSED]
    closed = [c for c in existing if c.state == ComplaintState.PROCESSED]
    answered = [c for c in open_ones if _awaiting_user(c)]
    roll = rng.random()
    if roll < 0.5 or not existing:
        now = state.now()
        return _one(state, rng.choice(targets), rng, now, now, True, follow_ups=False)
    if roll < 0.75 and open_ones:
        pool = answered if answered and rng.random() < 0.5 else open_ones
        complaint = rng.choice(pool)
        state.user_message(complaint.complaint_id, rng.choice(_USER_MESSAGES), rng.randint(0, 1))
    elif roll < 0.85 and closed:
        complaint = rng.choice(closed)
        state.continue_complaint(complaint.complaint_id, rng.choice(_CONTINUE_TEXTS))
    elif roll < 0.92 and open_ones:
        complaint = rng.choice(open_ones)
        if complaint.in_platform_service:
            state.finish_platform_service(complaint.complaint_id)
        else:
            state.apply_platform_service(complaint.complaint_id, rng.choice(_PLATFORM_REASONS))
    else:
        complaint = rng.choice(existing)
        state.platform_message(complaint.complaint_id, rng.choice(_PLATFORM_MESSAGES))
    return complaint.complaint_id
