"""Every code an upstream can send us, with its label in zh-CN and English, in one registry.

A table is named by (channel, kind): ``status``, ``problem``, ``history`` (timeline entry types),
``notification`` (notification actions / event types) and ``error`` (the upstream's error codes). The zh-CN
text is the upstream's own wording where it has one. The console reads labels through ``labels.code_label``,
which is total: an unknown code gets a translated "unknown" label with the code shown as data.

To label a new code: add it to the channel's table here (or to the channel's own table these are built from,
e.g. ``channels/miniprogram/enums.py``); ``tests/web/test_code_labels.py`` fails naming any code left without
both labels.
"""

from __future__ import annotations

from complaintdesk.channels.huishouqian import errors as hsq_errors
from complaintdesk.channels.huishouqian import mapping as hsq_mapping
from complaintdesk.channels.miniprogram import enums as mp_enums
from complaintdesk.channels.miniprogram.enums import Label
from complaintdesk.channels.wechatpay import mapping as wx_mapping

__all__ = ["KINDS", "TABLES", "Label", "codes", "lookup"]

#: The kinds of table each channel may have.
KINDS = ("status", "problem", "history", "notification", "error")

_WX_STATUS_EN = {"PENDING": "Pending", "PROCESSING": "In progress", "PROCESSED": "Processed"}
_WX_PROBLEM_EN = {"REFUND": "Refund request", "SERVICE_NOT_WORK": "Service not working", "OTHERS": "Other"}
_WX_OPERATE_EN = {
    "USER_CREATE_COMPLAINT": "User filed the complaint",
    "USER_CONTINUE_COMPLAINT": "User complained again",
    "USER_RESPONSE": "User message",
    "PLATFORM_RESPONSE": "Platform message",
    "MERCHANT_RESPONSE": "Merchant message",
    "MERCHANT_CONFIRM_COMPLETE": "Merchant marked as complete",
    "USER_CREATE_COMPLAINT_SYSTEM_MESSAGE": "System notice: complaint filed",
    "COMPLAINT_FULL_REFUNDED_SYSTEM_MESSAGE": "System notice: fully refunded",
    "USER_CONTINUE_COMPLAINT_SYSTEM_MESSAGE": "System notice: user complained again",
    "USER_REVOKE_COMPLAINT": "User withdrew the complaint",
    "USER_COMFIRM_COMPLAINT": "User confirmed the complaint",
    "PLATFORM_HELP_APPLICATION": "Platform enquiry",
    "USER_APPLY_PLATFORM_HELP": "User asked for help",
    "MERCHANT_APPROVE_REFUND": "Merchant approved the refund",
    "MERCHANT_REFUSE_RERUND": "Merchant refused the refund",
    "USER_SUBMIT_SATISFACTION": "User rated the handling",
    "SERVICE_ORDER_CANCEL": "Service order cancelled",
    "SERVICE_ORDER_COMPLETE": "Service order completed",
    "COMPLAINT_PARTIAL_REFUNDED_SYSTEM_MESSAGE": "System notice: partly refunded",
    "COMPLAINT_REFUND_RECEIVED_SYSTEM_MESSAGE": "System notice: refund received",
    "COMPLAINT_ENTRUSTED_REFUND_SYSTEM_MESSAGE": "System notice: entrusted refund",
    "USER_APPLY_PLATFORM_SERVICE": "User asked for platform help",
    "USER_CANCEL_PLATFORM_SERVICE": "User cancelled platform help",
    "PLATFORM_SERVICE_FINISHED": "Platform help finished",
    "USER_CLICK_RESPONSE": "User clicked a message",
}
_WX_ACTION_EN = {
    "CREATE_COMPLAINT": "User filed the complaint",
    "CONTINUE_COMPLAINT": "User complained again",
    "USER_RESPONSE": "New user message",
    "RESPONSE_BY_PLATFORM": "New platform message",
    "SELLER_REFUND": "Payee refunded in full",
    "MERCHANT_RESPONSE": "New merchant reply",
    "MERCHANT_CONFIRM_COMPLETE": "Merchant reported it handled",
    "MERCHANT_APPROVE_REFUND": "Merchant approved the refund",
    "MERCHANT_REJECT_REFUND": "Merchant rejected the refund",
    "REFUND_SUCCESS": "Refund succeeded",
    "USER_APPLY_PLATFORM_SERVICE": "User asked for platform help",
    "USER_APPLY_PLATFORM_SERIVCE": "User asked for platform help",
    "USER_CANCEL_PLATFORM_SERVICE": "User cancelled platform help",
    "PLATFORM_SERVICE_FINISHED": "Platform help finished",
}
_WX_EVENTS = {
    "COMPLAINT.CREATE": Label("新投诉通知", "New complaint notification"),
    "COMPLAINT.STATE_CHANGE": Label("投诉状态变化通知", "Complaint status change notification"),
}
#: WeChat Pay APIv3 error codes (spec 3.8).
_WX_ERRORS = {
    "PARAM_ERROR": Label("参数错误", "Malformed parameter"),
    "INVALID_REQUEST": Label("请求不符合业务规则", "Request breaks a business rule"),
    "SIGN_ERROR": Label("签名验证失败", "Signature verification failed"),
    "NO_AUTH": Label("无权限", "No permission"),
    "RESOURCE_NOT_EXISTS": Label("资源不存在", "Resource does not exist"),
    "ORDER_NOT_EXIST": Label("订单不存在", "Order does not exist"),
    "NOT_FOUND": Label("资源不存在", "Not found"),
    "FREQUENCY_LIMITED": Label("调用过于频繁", "Too many calls"),
    "RATELIMIT_EXCEEDED": Label("调用过于频繁", "Rate limit exceeded"),
    "RATE_LIMITED": Label("调用过于频繁", "Rate limited"),
    "SYSTEM_ERROR": Label("微信支付系统错误", "WeChat Pay system error"),
    "SERVICE_UNAVAILABLE": Label("服务暂不可用", "Service unavailable"),
}
#: Mini Program ``errcode`` values we know (channels/miniprogram/errors.py).
_MP_ERRORS = {
    "-1": Label("微信系统繁忙", "WeChat system busy"),
    "1": Label("投诉单号不存在", "Complaint not found"),
    "2": Label("内容或图片格式不正确", "Content or images badly formed"),
    "309": Label("投诉状态已变化，不能再执行此操作", "The complaint's status no longer allows this"),
    "1002": Label("当前状态不支持该操作", "The current status does not allow this action"),
    "10001": Label("参数异常", "Parameter error"),
    "40001": Label("access_token 无效", "Access token refused"),
    "42001": Label("access_token 已过期", "Access token expired"),
    "40014": Label("access_token 不合法", "Access token invalid"),
    "40004": Label("媒体文件类型不合法", "Invalid media type"),
    "40007": Label("图片 media_id 无效或已过期", "Image media id invalid or expired"),
    "40013": Label("appid 不合法", "Invalid appid"),
    "40125": Label("AppSecret 不合法", "Invalid AppSecret"),
    "40164": Label("服务器 IP 不在白名单中", "Server IP not in the whitelist"),
    "45009": Label("接口调用超过每日限额", "Daily API quota used up"),
    "45011": Label("接口调用超过频率限制", "Per-minute API quota hit"),
    "48001": Label("接口未授权", "API unauthorised"),
}


def _pairs(zh: dict[str, str], en: dict[str, str]) -> dict[str, Label]:
    return {code: Label(text, en.get(code, "")) for code, text in zh.items()}


def _mp(table: dict[int, Label]) -> dict[str, Label]:
    return {str(code): label for code, label in table.items()}


def _build() -> dict[tuple[str, str], dict[str, Label]]:
    wx_history = _pairs(wx_mapping.OPERATE_TYPE_LABELS, _WX_OPERATE_EN)
    wx_actions = _pairs(wx_mapping.ACTION_TYPE_LABELS, _WX_ACTION_EN)
    mp_status = _mp(mp_enums.STATUSES)
    return {
        ("wechatpay", "status"): _pairs(wx_mapping.STATUS_LABELS, _WX_STATUS_EN),
        ("wechatpay", "problem"): _pairs(wx_mapping.PROBLEM_TYPE_LABELS, _WX_PROBLEM_EN),
        ("wechatpay", "history"): wx_history,
        ("wechatpay", "notification"): {**wx_actions, **_WX_EVENTS},
        ("wechatpay", "error"): _WX_ERRORS,
        ("huishouqian", "status"): _pairs(hsq_mapping.STATUS_LABELS, _WX_STATUS_EN),
        ("huishouqian", "history"): wx_history,  # Huishouqian relays WeChat Pay's operate types
        ("huishouqian", "notification"): {
            **_pairs(hsq_mapping.ACTION_TYPE_LABELS, _WX_ACTION_EN),
            "COMPLAINT_NOTIFY": Label("投诉通知", "Complaint notification"),
        },
        ("huishouqian", "error"): {
            code: Label(cls.message_zh, cls.message_en) for code, cls in hsq_errors.CODE_TABLE.items()
        },
        ("miniprogram", "status"): mp_status,
        ("miniprogram", "problem"): _mp(mp_enums.COMPLAINT_TYPES),
        ("miniprogram", "history"): _mp(mp_enums.ITEM_TYPES),
        ("miniprogram", "notification"): {
            "complaint_callback": Label("投诉通知", "Complaint notification"),
            **{
                f"status:{code}": Label(f"状态变为：{lb.zh}", f"Status now: {lb.en}")
                for code, lb in mp_status.items()
            },
        },
        ("miniprogram", "appeal"): _mp(mp_enums.APPEAL_STATES),
        ("miniprogram", "return"): _mp(mp_enums.RETURN_ORDER_STATUSES),
        ("miniprogram", "error"): _MP_ERRORS,
    }


#: (channel, kind) → code → label.
TABLES: dict[tuple[str, str], dict[str, Label]] = _build()


def codes(channel: str, kind: str) -> list[str]:
    """The known codes of one table (empty when the channel has no such table)."""
    return list(TABLES.get((channel, kind), {}))


def lookup(channel: str, kind: str, code: object) -> Label | None:
    """The label of ``code`` in a table, or None when unknown."""
    return TABLES.get((channel, kind), {}).get(str(code))
