"""Tier 1: every gateway code of the seed maps to its typed error with zh-CN and English text."""

from __future__ import annotations

import pytest

from complaintdesk.channels.huishouqian import errors as hs
from complaintdesk.errors import (
    AuthFailed,
    ChannelAPIError,
    InvalidRequest,
    UpstreamNotFound,
    UpstreamUnavailable,
)

# (code, zh-CN text copied from seed 001, class, base class, retried for reads)
SEED = [
    ("000001", "系统异常,请稍后再试", hs.HsSystemError, UpstreamUnavailable, True),
    ("130000", "受理成功", hs.HsAcceptedAsFailure, UpstreamUnavailable, False),
    ("130001", "结果未知,请稍后查询", hs.HsResultUnknown, UpstreamUnavailable, True),
    ("130002", "参数校验不通过", hs.HsParamInvalid, InvalidRequest, False),
    ("130003", "投诉订单号不存在", hs.HsComplaintNotFound, UpstreamNotFound, False),
    ("130004", "商户号不匹配", hs.HsMerchantMismatch, AuthFailed, False),
    ("130005", "商户号不存在", hs.HsMerchantNotFound, AuthFailed, False),
    ("130006", "代理商户号不匹配", hs.HsAgentMismatch, AuthFailed, False),
    ("130007", "文件大小超限", hs.HsFileTooLarge, InvalidRequest, False),
    ("130008", "文件类型不合法", hs.HsFileTypeInvalid, InvalidRequest, False),
    ("130009", "回复上传图片不能超过四张", hs.HsTooManyImages, InvalidRequest, False),
    ("130010", "投诉订单号不能为空", hs.HsComplaintIdMissing, InvalidRequest, False),
    ("130011", "商户秘钥未配置", hs.HsKeyNotConfigured, AuthFailed, False),
]


@pytest.mark.parametrize(("code", "zh", "cls", "base", "retry"), SEED)
def test_code_maps_to_typed_error(code: str, zh: str, cls: type, base: type, retry: bool) -> None:
    error = hs.error_for_code(code, zh, method="COMPLAINT_QUERY")
    assert type(error) is cls
    assert isinstance(error, base) and isinstance(error, ChannelAPIError)
    assert error.code == code and error.channel == "huishouqian"
    assert error.message_zh == zh
    assert error.message_en and error.message_en != zh and error.message_en.isascii()
    assert error.retryable is retry
    assert error.upstream_message == zh
    assert code in error.message and zh in error.message and error.message_en in error.message


def test_table_covers_exactly_the_seed() -> None:
    assert set(hs.CODE_TABLE) == {code for code, *_ in SEED}


def test_without_error_msg_the_table_text_is_shown() -> None:
    error = hs.error_for_code("130003", None, method="COMPLAINT_QUERY")
    assert "投诉订单号不存在" in error.message and error.upstream_message == ""


def test_unknown_code_is_kept_verbatim() -> None:
    error = hs.error_for_code("SIGN_ERROR", "验签失败", method="COMPLAINT_QUERY")
    assert type(error) is hs.HsError
    assert error.code == "SIGN_ERROR"
    assert error.upstream_message == "验签失败"
    assert "SIGN_ERROR" in error.message and "验签失败" in error.message
    assert error.detail == {"errorCode": "SIGN_ERROR", "errorMsg": "验签失败"}
    assert not error.retryable


def test_long_upstream_message_is_cut() -> None:
    error = hs.error_for_code("999999", "x" * 1000, method="M")
    assert len(error.upstream_message) == 128
