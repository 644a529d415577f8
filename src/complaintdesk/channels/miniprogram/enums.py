"""Mini Program complaint enumerations with zh-CN and English labels (spec A.4).

Five tables: :data:`COMPLAINT_TYPES` (``type``), :data:`STATUSES` (``status``), :data:`APPEAL_STATES`
(``appealState`` / ``appealItemType``), :data:`ITEM_TYPES` (``item[].itemType``) and
:data:`RETURN_ORDER_STATUSES` (``returnBill.orderStatus``). Unknown codes are never an error: :func:`label`
shows them raw, and the mapping lists them in ``unknown_values``.

Usage::

    label(STATUSES, 201)            # '待处理（商家需在 48 小时内处理）'
    label(STATUSES, 201, "en")      # 'Pending merchant (48 h)'
    label(STATUSES, 999)            # '999'
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "APPEAL_STATES",
    "BLAME_RESULTS",
    "COMPLAINT_TYPES",
    "ENUMS",
    "ITEM_TYPES",
    "RETURN_ORDER_STATUSES",
    "STATUSES",
    "Label",
    "label",
]


class Label(NamedTuple):
    """A code's display text in each supported locale."""

    zh: str
    en: str


COMPLAINT_TYPES: dict[int, Label] = {
    611: Label("发货问题：未按约定时间发货", "Shipping: not shipped at the agreed time"),
    612: Label("发货问题：商家拒绝发货", "Shipping: merchant refuses to ship"),
    613: Label("发货问题：少发/错发", "Shipping: short or wrong items"),
    614: Label("发货问题：物流长时间未更新", "Shipping: logistics not updated for a long time"),
    621: Label("客服问题：客服不回复", "Customer service: no reply"),
    622: Label("客服问题：辱骂/骚扰/威胁", "Customer service: abuse, harassment or threats"),
    631: Label("承诺未履行：赠品", "Promise not kept: gift"),
    632: Label("承诺未履行：物流", "Promise not kept: logistics"),
    633: Label("承诺未履行：其他", "Promise not kept: other"),
    641: Label("商品问题：货不对板", "Product: not as described"),
    642: Label("商品问题：商品破损", "Product: damaged"),
    643: Label("商品问题：其他", "Product: other"),
    650: Label("计费问题：车辆亏电或故障", "Charging (bike-share): vehicle flat or faulty"),
    651: Label("计费问题：关锁后仍在计费", "Charging (bike-share): still charged after locking"),
    652: Label("计费问题：计费金额有误", "Charging (bike-share): wrong amount"),
    653: Label("计费问题：规范停车仍收调度费", "Charging (bike-share): dispatch fee despite proper parking"),
    654: Label("计费问题：其他", "Charging (bike-share): other"),
    655: Label("骑行卡问题：已购卡仍扣费", "Riding card: card bought but still charged"),
    656: Label("骑行卡问题：退款", "Riding card: refund"),
    657: Label("押金退还问题", "Deposit return"),
    658: Label("余额退还问题", "Balance return"),
    659: Label("客服问题：客服不回复", "Customer service: no reply"),
    660: Label("充电宝：未弹出但扣费", "Power bank: not ejected but charged"),
    661: Label("充电宝：无法使用", "Power bank: unusable"),
    662: Label("充电宝：已归还仍扣费", "Power bank: returned but still charged"),
    663: Label("充电宝：对计费时长有异议", "Power bank: disputes billed duration"),
    664: Label("充电宝：其他", "Power bank: other"),
    665: Label("押金退还失败", "Deposit return failed"),
    666: Label("其他：客服不回复", "Other: customer service no reply"),
    667: Label("其他：返还积分过少", "Other: too few return points"),
    668: Label("其他：误购", "Other: bought by mistake"),
    670: Label("欺诈：虚假宣传", "Fraud: false advertising"),
    671: Label("欺诈：集数与承诺不符", "Fraud: episode count not as promised"),
    672: Label("欺诈：实付金额与页面不符", "Fraud: amount paid differs from page"),
    673: Label("欺诈：剧集内容与宣传不符", "Fraud: episode content not as advertised"),
    674: Label("欺诈：营销活动问题", "Fraud: marketing campaign problem"),
    675: Label("扣费：重复扣费", "Deduction: duplicate charge"),
    676: Label("扣费：无故扣费", "Deduction: charge without reason"),
    677: Label("扣费：扣费标准不一致", "Deduction: inconsistent charging standard"),
    678: Label("扣费：未成年人支付", "Deduction: payment by a minor"),
    679: Label("其他", "Other"),
    610001: Label("可观看集数或时长与承诺不符", "Viewable count or duration not as promised"),
    610002: Label("剧集内容与宣传不符", "Episode content not as advertised"),
    610003: Label("内容无法播放", "Content cannot be played"),
    610004: Label("未成年人支付", "Payment by a minor"),
    610005: Label("其他", "Other"),
}

_PLATFORM = Label("平台客服处理中", "Platform customer service handling")
_DONE = Label("已完结", "Closed: resolved")
_USER_CONFIRM = Label("商家已回应，待用户确认", "Merchant responded; waiting for the user to confirm")
_RETURN = Label("商家责任，待用户退货", "Merchant liable; waiting for the user to return the goods")

STATUSES: dict[int, Label] = {
    101: _PLATFORM,
    102: Label("用户已取消投诉", "User cancelled"),
    103: _PLATFORM,
    104: _PLATFORM,
    105: _PLATFORM,
    106: Label("待商家补充凭证", "Waiting for the merchant's supplementary evidence"),
    107: _PLATFORM,
    108: Label("待双方补充凭证", "Waiting for evidence from both parties"),
    109: _PLATFORM,
    112: _DONE,
    115: _DONE,
    116: _DONE,
    201: Label("待处理（商家需在 48 小时内处理）", "Pending merchant (48 h)"),
    202: Label(
        "商家超时未回应，待用户确认", "Merchant did not respond in time; waiting for the user to confirm"
    ),
    203: _USER_CONFIRM,
    204: _USER_CONFIRM,
    205: _DONE,
    206: Label(
        "平台判定商家责任，待商家上传处理凭证（48 小时）",
        "Platform ruled the merchant liable; waiting for processing proof (48 h)",
    ),
    207: Label("平台审核凭证中", "Platform verifying the proof"),
    208: Label("商家超时未上传凭证", "Proof not uploaded in time"),
    209: Label("投诉已关闭", "Complaint closed"),
    305: _PLATFORM,
    307: _PLATFORM,
    308: _RETURN,
    309: _RETURN,
    310: _PLATFORM,
    311: Label("签收异常", "Delivery-receipt exception"),
    312: Label("平台判定商家责任，平台退款中", "Merchant liable; platform is refunding"),
}

APPEAL_STATES: dict[int, Label] = {
    0: Label("非申诉阶段", "Not in the appeal stage"),
    401: Label("待商家申诉（72 小时内）", "Waiting for the merchant's appeal (72 h)"),
    402: Label("申诉已超时", "Appeal window expired"),
    403: Label("申诉中", "Appeal in progress"),
    117: Label("申诉成功", "Appeal succeeded"),
    118: Label("申诉失败", "Appeal failed"),
}

_LIABLE = Label("平台判定商家责任", "Merchant liable (see blame result)")
_NOT_LIABLE = Label("非商家责任，投诉关闭", "Not the merchant's fault; closed")

ITEM_TYPES: dict[int, Label] = {
    1: Label("用户发起投诉", "User filed the complaint"),
    2: Label("用户补充留言", "User added a message"),
    3: Label("商家补充留言", "Merchant added a message"),
    7: Label("用户补充凭证", "User supplied evidence"),
    8: Label("商家补充凭证", "Merchant supplied evidence"),
    11: Label("用户申请平台协助", "User asked for platform help"),
    12: Label("用户撤销投诉", "User withdrew the complaint"),
    13: Label("平台处理中", "Platform handling"),
    14: Label("待用户补充凭证", "Waiting for the user's evidence"),
    16: Label("待商家补充凭证", "Waiting for the merchant's evidence"),
    18: Label("平台要求双方补充凭证", "Platform asked both parties for evidence"),
    26: Label(
        "凭证异常，投诉关闭，商家需联系用户", "Proof found abnormal; closed; merchant to contact the user"
    ),
    30: _NOT_LIABLE,
    31: _LIABLE,
    32: _LIABLE,
    33: _NOT_LIABLE,
    36: Label("凭证审核通过，投诉完结", "Proof verified; closed"),
    37: Label("凭证审核异常，投诉关闭", "Proof found abnormal; closed"),
    101: Label("商家超时未回应", "Merchant did not respond in time"),
    104: Label("用户接受处理结果，投诉完结", "User accepted the result; closed"),
    107: Label("商家超时未提交凭证，平台处理中", "Merchant did not submit proof in time; platform handling"),
    108: Label("用户超时未确认，投诉完结", "User did not confirm in time; closed"),
    109: Label("商家已回应", "Merchant responded"),
    110: Label("商家已提交凭证", "Merchant submitted proof"),
    111: Label("用户举证超时", "User evidence timeout"),
    112: Label("商家举证超时", "Merchant evidence timeout"),
    113: Label("双方举证超时", "Both parties' evidence timeout"),
    118: Label("商责自动赔付", "Automatic compensation (merchant liable)"),
}

#: ``item[].blameResult`` for ``itemType`` 31/32.
BLAME_RESULTS: dict[int, Label] = {
    0: Label("待商家提交处理凭证", "Waiting for the merchant's processing proof"),
    1: Label("待用户退货", "Waiting for the user to return the goods"),
}

RETURN_ORDER_STATUSES: dict[int, Label] = {
    0: Label("已下单，待揽件", "Ordered, awaiting pickup"),
    1: Label("已揽件", "Picked up"),
    2: Label("运输中", "In transit"),
    3: Label("派件中", "Out for delivery"),
    4: Label("已签收", "Signed for"),
    5: Label("异常", "Exception"),
    6: Label("代签收", "Signed by proxy"),
    7: Label("揽收失败", "Pickup failed"),
    8: Label("派送失败", "Delivery failed"),
    10: Label("未下单", "Not ordered"),
    11: Label("已取消", "Cancelled"),
    12: Label("已删除", "Deleted"),
    13: Label("退回中", "Being returned"),
    14: Label("已退回", "Returned"),
    15: Label("快递员取消", "Cancelled by carrier"),
    99: Label("待确认", "Unconfirmed"),
}

#: Every table by the field name it describes (for the console and the docs).
ENUMS: dict[str, dict[int, Label]] = {
    "type": COMPLAINT_TYPES,
    "status": STATUSES,
    "appealState": APPEAL_STATES,
    "itemType": ITEM_TYPES,
    "blameResult": BLAME_RESULTS,
    "returnBill.orderStatus": RETURN_ORDER_STATUSES,
}


def label(table: dict[int, Label], code: int | str | None, locale: str = "zh-CN") -> str:
    """Display text of ``code`` in ``locale`` ("zh-CN" or "en"); unknown or unparsable codes are shown raw."""
    if code is None:
        return ""
    try:
        key = int(code)
    except (TypeError, ValueError):
        return str(code)
    found = table.get(key)
    if found is None:
        return str(code)
    return found.en if locale.lower().startswith("en") else found.zh
