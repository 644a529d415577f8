"""Sample documents shaped like the spec's examples."""

from __future__ import annotations

from typing import Any


def complaint_doc(**overrides: Any) -> dict[str, Any]:
    """A detail document with every documented field."""
    doc: dict[str, Any] = {
        "complaint_id": "200201820200101080076610000",
        "complaint_time": "2015-05-20T13:29:35.120+08:00",
        "complaint_detail": "反馈一个重复扣费的问题",
        "complaint_state": "PENDING",
        "complainted_mchid": "1900012181",
        "payer_openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "complaint_media_list": [
            {
                "media_type": "USER_COMPLAINT_IMAGE",
                "media_url": ["https://api.mch.weixin.qq.com/v3/merchant-service/images/abc%2Fdef%3D"],
            }
        ],
        "complaint_order_info": [
            {
                "transaction_id": "4200000404201909069117582536",
                "out_trade_no": "20190906154617947762231",
                "amount": 3,
            }
        ],
        "service_order_info": [
            {"order_id": "15646546545165651651", "out_order_no": "1234323JKHDFE1243252", "state": "DOING"}
        ],
        "complaint_full_refunded": True,
        "incoming_user_response": False,
        "problem_description": "不满意商家服务",
        "user_complaint_times": 1,
        "problem_type": "REFUND",
        "apply_refund_amount": 150,
        "user_tag_list": ["TRUSTED"],
        "in_platform_service": False,
        "need_immediate_service": True,
    }
    doc.update(overrides)
    return doc


def history_doc(**overrides: Any) -> dict[str, Any]:
    """A negotiation-history entry."""
    doc: dict[str, Any] = {
        "log_id": "300285320210322170000071077",
        "operator": "投诉人",
        "operate_time": "2015-05-20T13:29:35.120+08:00",
        "operate_type": "USER_CREATE_COMPLAINT",
        "operate_details": "已与用户沟通解决",
        "image_list": ["https://qpic.cn/xxx/0"],
        "complaint_media_list": {
            "media_type": "USER_COMPLAINT_IMAGE",
            "media_url": ["https://api.mch.weixin.qq.com/v3/merchant-service/images/xyz"],
        },
    }
    doc.update(overrides)
    return doc
