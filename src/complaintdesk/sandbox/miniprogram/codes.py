"""Codes of the Mini Program 交易投诉 platform (spec A.4) and the errcodes the simulator answers."""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    """``status`` of a complaint (spec A.4; only the ones the simulator moves through are named)."""

    PLATFORM_HANDLING = 101
    USER_CANCELLED = 102
    PLATFORM_HANDLING_USER_EVIDENCE = 105
    WAIT_MERCHANT_EVIDENCE = 106
    PLATFORM_REVIEWING_EVIDENCE = 107
    WAIT_BOTH_EVIDENCE = 108
    PLATFORM_REVIEWING_BOTH = 109
    CLOSED_RULED = 112
    CLOSED_REFUNDED = 115
    CLOSED_PROOF_VERIFIED = 116
    PENDING_MERCHANT = 201
    MERCHANT_TIMEOUT_WAIT_USER = 202
    MERCHANT_AGREED_WAIT_USER = 203
    MERCHANT_REFUSED_WAIT_USER = 204
    CLOSED_RESOLVED = 205
    WAIT_PROCESSING_PROOF = 206
    PLATFORM_VERIFYING_PROOF = 207
    PROOF_TIMEOUT = 208
    CLOSED = 209
    WAIT_USER_RETURN = 308
    RETURN_SHIPPED = 309
    PLATFORM_HANDLING_RETURN = 310
    RECEIPT_EXCEPTION = 311
    PLATFORM_REFUNDING = 312


CLOSED_STATUSES = frozenset({102, 112, 115, 116, 205, 209})
WAIT_USER_STATUSES = frozenset({202, 203, 204})


class ItemType(IntEnum):
    """``item[].itemType``: history node types (spec A.4)."""

    USER_FILED = 1
    USER_MESSAGE = 2
    MERCHANT_MESSAGE = 3
    USER_EVIDENCE = 7
    MERCHANT_EVIDENCE = 8
    USER_ASKED_PLATFORM = 11
    USER_WITHDREW = 12
    PLATFORM_HANDLING = 13
    WAIT_USER_EVIDENCE = 14
    WAIT_MERCHANT_EVIDENCE = 16
    WAIT_BOTH_EVIDENCE = 18
    PROOF_ABNORMAL_CONTACT_USER = 26
    NOT_MERCHANT_FAULT = 30
    MERCHANT_LIABLE = 31
    MERCHANT_LIABLE_RETURN = 32
    NOT_MERCHANT_FAULT_CLOSED = 33
    PROOF_VERIFIED = 36
    PROOF_ABNORMAL = 37
    MERCHANT_NO_RESPONSE = 101
    USER_ACCEPTED = 104
    MERCHANT_NO_PROOF = 107
    USER_NO_CONFIRM = 108
    MERCHANT_RESPONDED = 109
    MERCHANT_SUBMITTED_PROOF = 110
    USER_EVIDENCE_TIMEOUT = 111
    MERCHANT_EVIDENCE_TIMEOUT = 112
    BOTH_EVIDENCE_TIMEOUT = 113
    AUTO_COMPENSATION = 118


class AppealState(IntEnum):
    """``appealState`` / ``appealItemType``."""

    NONE = 0
    WAITING = 401
    EXPIRED = 402
    IN_PROGRESS = 403
    SUCCEEDED = 117
    FAILED = 118


class ReturnStatus(IntEnum):
    """``returnBill.orderStatus`` (the waybill of goods the user sends back)."""

    ORDERED = 0
    PICKED_UP = 1
    IN_TRANSIT = 2
    OUT_FOR_DELIVERY = 3
    SIGNED = 4
    EXCEPTION = 5


#: Complaint ``type`` codes used by the scenarios, with the user's words (any int is accepted).
COMPLAINT_TYPES: dict[int, str] = {
    611: "商家超时未发货",
    612: "商家拒绝发货",
    613: "少发漏发错发",
    614: "物流长时间未更新",
    621: "客服不回复",
    631: "赠品未兑现",
    641: "商品与描述不符",
    642: "商品破损",
    643: "商品其他问题",
    668: "误购",
    672: "支付金额与页面不一致",
    675: "重复扣费",
    676: "无故扣费",
    679: "其他",
}

# errcodes (spec A.3) and the general WeChat ones the simulator also uses (documented in __init__).
OK = 0
NOT_FOUND = 1
APPEAL_BAD_PARAM = 2
WRONG_STATUS = 309
APPEAL_NOT_ALLOWED = 1002
BAD_PARAM = 10001
SYSTEM_ERROR = -1
INVALID_CREDENTIAL = 40001
INVALID_GRANT_TYPE = 40002
INVALID_MEDIA_TYPE = 40004
INVALID_FILE_TYPE = 40005
INVALID_MEDIA_SIZE = 40006
INVALID_APPID = 40013
INVALID_TOKEN = 40014
INVALID_APPSECRET = 40125
TOKEN_MISSING = 41001
APPID_MISSING = 41002
SECRET_MISSING = 41004
MEDIA_MISSING = 41005
TOKEN_EXPIRED = 42001
DAILY_QUOTA = 45009
DATA_FORMAT = 47001
MINUTE_QUOTA = 45011

ERRMSG: dict[int, str] = {
    OK: "ok",
    NOT_FOUND: "单号不存在",
    APPEAL_BAD_PARAM: "mediaIdList或content格式错误",
    WRONG_STATUS: "状态不对，投诉单可能已流转到下一状态，请重新查询投诉单状态",
    APPEAL_NOT_ALLOWED: "当前状态不支持该操作",
    BAD_PARAM: "参数异常",
    SYSTEM_ERROR: "system error",
    INVALID_CREDENTIAL: "invalid credential, access_token is invalid or not latest",
    INVALID_GRANT_TYPE: "invalid grant_type",
    INVALID_MEDIA_TYPE: "invalid media type",
    INVALID_FILE_TYPE: "invalid file type",
    INVALID_MEDIA_SIZE: "invalid media size",
    INVALID_APPID: "invalid appid",
    INVALID_TOKEN: "invalid access_token",
    INVALID_APPSECRET: "invalid appsecret",
    TOKEN_MISSING: "access_token missing",
    APPID_MISSING: "appid missing",
    SECRET_MISSING: "appsecret missing",
    MEDIA_MISSING: "media data missing",
    TOKEN_EXPIRED: "access_token expired",
    DAILY_QUOTA: "reach max api daily quota limit",
    DATA_FORMAT: "data format error",
    MINUTE_QUOTA: "api minute-quota reach limit  mustslower  retry next minute",
}
