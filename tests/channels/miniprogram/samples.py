"""Sample documents: the seed's push sample, push events in XML/JSON, and detail answers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from .wxref import APPID

SEED = Path(__file__).resolve().parents[4] / "shared" / "seeds" / "000_miniprogram_transaction_complaints.txt"
# the seed's XML sample, as published (including its malformed <media_id_list> tag and the // comment)
_COMMENT = (
    " // CDN link to complaint-related images (for security reasons, this URL expires after a certain time."
    " To view the images, call this interface again each time to obtain the latest URL.)"
)
SEED_XML = f"""<xml>
    <ToUserName><![CDATA[toUser]]></ToUserName>
    <FromUserName><![CDATA[fromUser]]></FromUserName>
    <CreateTime>1546924844</CreateTime>
    <MsgType><![CDATA[event]]></MsgType>
    <Event><![CDATA[complaint_callback]]></Event>
    <BussiCallBackInfo>
        <appid>123</appid>
        <option_type>123</option_type>
        <complaint_order_id>123</complaint_order_id>
        <status>123</status>
        <create_time>123</create_time>
        <expire_time>123</expire_time>
        <type>123</type>
        <order_id>123</order_id>
        <out_trade_no>123</out_trade_no>
        <phone_number>123</phone_number>
        <open_id>123</open_id>
        <customer_material_content>123</customer_material_content>
        <customer_material_media_id_list>123</customer_material_media_id_list>{_COMMENT}
        <pay_time>123</pay_time>
        <total_cost>123</total_cost>
        <product_name>123</product_name>
        <history>
            <time>123</time>
            <content>123</content>
            <media_id_list>123</media_id_list>
        </history>
        <history>
            <time>123</time>
            <content>123</content>
            <media_id_list>123<media_id_list>
        </history>
    </BussiCallBackInfo>
</xml>"""

EVENT_FIELDS: dict[str, Any] = {
    "appid": APPID,
    "option_type": "2",
    "complaint_order_id": "1000000123456789",
    "status": 201,
    "create_time": 1714036000,
    "expire_time": 1714208800,
    "type": 641,
    "order_id": "4200001234202404250000000001",
    "out_trade_no": "MP20240425001",
    "phone_number": "13812345678",
    "open_id": "oUser123",
    "customer_material_content": "货不对板，要求退款",
    "customer_material_media_id_list": "https://cdn.example/a.jpg,https://cdn.example/b.jpg",
    "pay_time": 1714030000,
    "total_cost": 12800,
    "product_name": "连衣裙",
}


def xml_event(fields: dict[str, Any] | None = None, *, history: list[dict[str, Any]] | None = None) -> bytes:
    """A well-formed XML complaint_callback push."""
    values = fields if fields is not None else EVENT_FIELDS
    inner = "".join(f"<{key}><![CDATA[{value}]]></{key}>" for key, value in values.items())
    for entry in history or []:
        inner += "<history>" + "".join(f"<{k}>{v}</{k}>" for k, v in entry.items()) + "</history>"
    return (
        "<xml><ToUserName><![CDATA[gh_123]]></ToUserName><FromUserName><![CDATA[oSystem]]></FromUserName>"
        "<CreateTime>1714036504</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[complaint_callback]]></Event><BussiCallBackInfo>{inner}</BussiCallBackInfo></xml>"
    ).encode()


def json_event(fields: dict[str, Any] | None = None, *, nested: bool = False, **extra: Any) -> bytes:
    """A JSON complaint_callback push, flat (SKIT's model) or nested under BussiCallBackInfo."""
    values = dict(fields if fields is not None else EVENT_FIELDS) | extra
    envelope: dict[str, Any] = {
        "ToUserName": "gh_123",
        "FromUserName": "oSystem",
        "CreateTime": 1714036504,
        "MsgType": "event",
        "Event": "complaint_callback",
    }
    doc = envelope | ({"BussiCallBackInfo": values} if nested else values)
    return json.dumps(doc, ensure_ascii=False).encode()


def xml_safe_body(encrypted: str) -> bytes:
    outer = f"<ToUserName><![CDATA[gh_123]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
    return f"<xml>{outer}</xml>".encode()


DETAIL: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "complaintOrder": {
        "complaintOrderId": "1000000123456789",
        "openid": "oUser123",
        "createTime": 1714036000,
        "phoneNumber": 13812345678,
        "type": 641,
        "status": 201,
        "customerMaterial": {"content": "货不对板", "mediaIdList": ["https://mmbiz.qpic.cn/a.jpg"]},
        "orderId": "4200001234202404250000000001",
        "outTradeNo": "MP20240425001",
        "productName": "连衣裙",
        "payTime": 1714030000,
        "totalCost": "12800",
        "expireTime": 1714208800,
        "headImgUrl": "https://thirdwx.qlogo.cn/x",
        "nickName": "小明",
        "appealState": 0,
    },
    "item": [
        {
            "itemType": 1,
            "time": 1714036000,
            "content": "货不对板",
            "mediaIdList": ["https://mmbiz.qpic.cn/a.jpg"],
            "phoneNumber": "13812345678",
            "nickName": "小明",
        },
        {"itemType": 2, "time": 1714036100, "content": "请尽快处理", "mediaIdList": []},
    ],
}


def detail(
    *,
    status: int | None = 201,
    appeal_state: int | None = 0,
    return_bill: dict[str, Any] | None = None,
    **order: Any,
) -> dict[str, Any]:
    """A detail answer with the given status (and optional appeal state / returnBill / order fields)."""
    doc = copy.deepcopy(DETAIL)
    complaint = doc["complaintOrder"]
    complaint["status"] = status
    complaint["appealState"] = appeal_state
    complaint.update(order)
    if return_bill is not None:
        doc["returnBill"] = return_bill
    return doc
