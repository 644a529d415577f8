"""The gateway's error codes (seed 001) and which situation the simulator answers each one for.

=========  ============================  ==========================================================
code       seed text                     answered when
=========  ============================  ==========================================================
``000000`` 成功                           never as ``errorCode`` (success carries ``null``, see
                                         ``HuishouqianState.success_code``)
``000001`` 系统异常,请稍后再试             rate limit exceeded; injected faults (``error_rate``,
                                         ``fail_next(endpoint, 1)``)
``130000`` 受理成功                        ``respCode`` inside the ``result`` of accepted writes
``130001`` 结果未知,请稍后查询             injected only (``fail_next(endpoint, 130001, after_apply=True)``:
                                         applied, outcome unknown)
``130002`` 参数校验不通过                  malformed envelope or ``signContent``; bad signature / CFCA
                                         ciphertext; ``method`` not the path's; ``version``/``format``/
                                         ``signType`` wrong; ``limit`` out of range; refused date
                                         window; reply text too long; unknown ``fileId``/``mediaUrl``;
                                         state rules (complaint already PROCESSED)
``130003`` 投诉订单号不存在                ``complaintId`` unknown
``130004`` 商户号不匹配                    the complaint belongs to a merchant the caller may not see;
                                         ``merchantNo`` in ``signContent`` is not the caller (or, with
                                         ``agentMerchantNo``, not one of the agent's merchants)
``130005`` 商户号不存在                    envelope ``merchantNo`` missing from the gateway (unsigned)
``130006`` 代理商户号不匹配                ``agentMerchantNo`` is not the caller, or the caller is no agent
``130007`` 文件大小超限                    uploaded image over 2 MB
``130008`` 文件类型不合法                  uploaded bytes are not JPG/PNG/BMP
``130009`` 回复上传图片不能超过四张        more than 4 ``responseImages``
``130010`` 投诉订单号不能为空              ``complaintId`` missing where required
``130011`` 商户秘钥未配置                  merchant registered with ``key_configured=False`` (unsigned)
=========  ============================  ==========================================================

``errorMsg`` is the seed text, followed by ``:<detail>`` when the simulator knows more.
"""

from __future__ import annotations

SUCCESS = "000000"
SYSTEM_ERROR = "000001"
ACCEPTED = "130000"
RESULT_UNKNOWN = "130001"
BAD_PARAMS = "130002"
NO_COMPLAINT = "130003"
MERCHANT_MISMATCH = "130004"
NO_MERCHANT = "130005"
AGENT_MISMATCH = "130006"
FILE_TOO_LARGE = "130007"
BAD_FILE_TYPE = "130008"
TOO_MANY_IMAGES = "130009"
NO_COMPLAINT_ID = "130010"
KEY_NOT_CONFIGURED = "130011"

ERROR_MESSAGES: dict[str, str] = {
    SUCCESS: "成功",
    SYSTEM_ERROR: "系统异常,请稍后再试",
    ACCEPTED: "受理成功",
    RESULT_UNKNOWN: "结果未知,请稍后查询",
    BAD_PARAMS: "参数校验不通过",
    NO_COMPLAINT: "投诉订单号不存在",
    MERCHANT_MISMATCH: "商户号不匹配",
    NO_MERCHANT: "商户号不存在",
    AGENT_MISMATCH: "代理商户号不匹配",
    FILE_TOO_LARGE: "文件大小超限",
    BAD_FILE_TYPE: "文件类型不合法",
    TOO_MANY_IMAGES: "回复上传图片不能超过四张",
    NO_COMPLAINT_ID: "投诉订单号不能为空",
    KEY_NOT_CONFIGURED: "商户秘钥未配置",
}


class GatewayError(Exception):
    """A business error answer ``{"success": false, "errorCode", "errorMsg"}`` (HTTP 200)."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        base = ERROR_MESSAGES.get(code, "未知错误")
        self.code = code
        self.message = f"{base}:{detail}" if detail else base
        super().__init__(f"{code} {self.message}")


class HttpFailure(Exception):
    """An injected non-gateway answer: HTTP ``status`` with an HTML body (proxy or gateway outage)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def injected(value: int) -> Exception:
    """The error a queued fault value stands for: 100..599 an HTTP status, anything else an errorCode."""
    if 100 <= value <= 599:
        return HttpFailure(value)
    return GatewayError(f"{value:06d}")
