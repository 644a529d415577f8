"""Huishouqian gateway codes (seed 001) mapped onto the project's exception tree (HS5).

``000000`` (and the empty code) means success; ``130000`` 受理成功 ("accepted") is also taken as success
when the gateway says ``success=true``. Every other known code has its own class carrying the seed's
zh-CN text and an English text; unknown codes become a plain ``ChannelAPIError`` with the code kept verbatim.
The upstream ``errorMsg`` is always kept verbatim (``upstream_message``) and shown to the operator.
"""

from __future__ import annotations

from typing import Any, ClassVar

from complaintdesk.errors import (
    AuthFailed,
    ChannelAPIError,
    InvalidRequest,
    UpstreamNotFound,
    UpstreamUnavailable,
    WebhookError,
)

__all__ = [
    "CODE_TABLE",
    "OK_CODES",
    "UNCERTAIN_CODES",
    "HsAcceptedAsFailure",
    "HsAgentMismatch",
    "HsComplaintIdMissing",
    "HsComplaintNotFound",
    "HsError",
    "HsFileTooLarge",
    "HsFileTypeInvalid",
    "HsKeyNotConfigured",
    "HsMerchantMismatch",
    "HsMerchantNotFound",
    "HsParamInvalid",
    "HsResultUnknown",
    "HsSystemError",
    "HsTooManyImages",
    "WrongMerchant",
    "error_for_code",
]

CHANNEL = "huishouqian"
#: Codes that mean "done" when the envelope says ``success=true`` (an empty code too).
OK_CODES = frozenset({"", "000000", "130000"})
#: Codes after which a write may or may not have been applied (never resent blindly; check history first).
UNCERTAIN_CODES = frozenset({"000001", "130000", "130001"})
_MAX_MESSAGE = 128  # errorMsg is string[1,128] in the seed


class HsError(ChannelAPIError):
    """A Huishouqian gateway code (used as is for codes not in the table, kept verbatim in ``code``)."""

    code_value: ClassVar[str] = ""
    message_zh: ClassVar[str] = ""
    message_en: ClassVar[str] = ""
    retry_reads: ClassVar[bool] = False
    upstream_message: str = ""


class HsSystemError(HsError, UpstreamUnavailable):
    """000001 系统异常,请稍后再试."""

    code_value = "000001"
    message_zh = "系统异常,请稍后再试"
    message_en = "System error at Huishouqian, try again later"
    retry_reads = True


class HsAcceptedAsFailure(HsError, UpstreamUnavailable):
    """130000 受理成功 sent with ``success=false``: contradictory, so the outcome is unknown."""

    code_value = "130000"
    message_zh = "受理成功"
    message_en = "Accepted (but reported as a failure; check the complaint history)"


class HsResultUnknown(HsError, UpstreamUnavailable):
    """130001 结果未知,请稍后查询."""

    code_value = "130001"
    message_zh = "结果未知,请稍后查询"
    message_en = "Result unknown, query again later"
    retry_reads = True


class HsParamInvalid(HsError, InvalidRequest):
    """130002 参数校验不通过."""

    code_value = "130002"
    message_zh = "参数校验不通过"
    message_en = "Parameter validation failed"


class HsComplaintNotFound(HsError, UpstreamNotFound):
    """130003 投诉订单号不存在."""

    code_value = "130003"
    message_zh = "投诉订单号不存在"
    message_en = "Complaint id does not exist"


class HsMerchantMismatch(HsError, AuthFailed):
    """130004 商户号不匹配."""

    code_value = "130004"
    message_zh = "商户号不匹配"
    message_en = "Merchant number does not match"


class HsMerchantNotFound(HsError, AuthFailed):
    """130005 商户号不存在."""

    code_value = "130005"
    message_zh = "商户号不存在"
    message_en = "Merchant number does not exist"


class HsAgentMismatch(HsError, AuthFailed):
    """130006 代理商户号不匹配."""

    code_value = "130006"
    message_zh = "代理商户号不匹配"
    message_en = "Agent merchant number does not match"


class HsFileTooLarge(HsError, InvalidRequest):
    """130007 文件大小超限."""

    code_value = "130007"
    message_zh = "文件大小超限"
    message_en = "File too large"


class HsFileTypeInvalid(HsError, InvalidRequest):
    """130008 文件类型不合法."""

    code_value = "130008"
    message_zh = "文件类型不合法"
    message_en = "File type not allowed"


class HsTooManyImages(HsError, InvalidRequest):
    """130009 回复上传图片不能超过四张."""

    code_value = "130009"
    message_zh = "回复上传图片不能超过四张"
    message_en = "A reply takes at most four images"


class HsComplaintIdMissing(HsError, InvalidRequest):
    """130010 投诉订单号不能为空."""

    code_value = "130010"
    message_zh = "投诉订单号不能为空"
    message_en = "Complaint id must not be empty"


class HsKeyNotConfigured(HsError, AuthFailed):
    """130011 商户秘钥未配置."""

    code_value = "130011"
    message_zh = "商户秘钥未配置"
    message_en = "Merchant key not configured at Huishouqian"


class WrongMerchant(WebhookError):
    """A notification addressed to another merchant number than the account's."""


CODE_TABLE: dict[str, type[HsError]] = {
    cls.code_value: cls
    for cls in (
        HsSystemError,
        HsAcceptedAsFailure,
        HsResultUnknown,
        HsParamInvalid,
        HsComplaintNotFound,
        HsMerchantMismatch,
        HsMerchantNotFound,
        HsAgentMismatch,
        HsFileTooLarge,
        HsFileTypeInvalid,
        HsTooManyImages,
        HsComplaintIdMissing,
        HsKeyNotConfigured,
    )
}


def error_for_code(code: str, error_msg: str | None, *, method: str, **context: Any) -> HsError:
    """Build the exception for a gateway ``errorCode`` (or a write's ``respCode``) and its ``errorMsg``."""
    upstream = (error_msg or "")[:_MAX_MESSAGE]
    cls = CODE_TABLE.get(code, HsError)
    if cls is HsError:
        message = f"{method}: Huishouqian error {code[:32] or '(no code)'}: {upstream or 'no errorMsg'}"
    else:
        message = f"{method}: {cls.message_en} ({code}: {upstream or cls.message_zh})"
    error = cls(
        message,
        channel=CHANNEL,
        status=200,
        code=code[:32],
        detail={"errorCode": code[:32], "errorMsg": upstream},
        retryable=cls.retry_reads,
        **context,
    )
    error.upstream_message = upstream
    return error
