"""How the platform's pushes look on the wire (spec A.5, A.6): XML or JSON; plaintext, compatible, safe.

Pure functions. ``complaint_info`` snapshots a complaint when the event happens (a retry resends the
same message); ``wire_request`` renders it for the app's current format and mode with fresh
``timestamp``/``nonce`` and signatures.

Decisions (UNCONFIRMED upstream): ``option_type`` is 1 for a new complaint and 2 for a progress update;
``FromUserName`` and the ``openid`` query parameter are the complainant's openid; media lists are one
comma-separated string of CDN URLs; ``total_cost`` is in fen. JSON is flat (SKIT) unless the app's layout is
``nested`` (fields under ``BussiCallBackInfo``); with ``json_quirks`` a single ``history`` entry is an object
rather than an array and ``complaint_order_id`` is a string (int64 beyond 2**53).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from complaintdesk.sandbox.miniprogram.crypto import encrypt_message, msg_signature, url_signature
from complaintdesk.sandbox.miniprogram.keys import AppCredentials
from complaintdesk.sandbox.miniprogram.model import Complaint, Push, UrlFor, unix

COMPLAINT_EVENT = "complaint_callback"
OPTION_NEW, OPTION_UPDATE = 1, 2
#: Unrelated events a mini program's message server also receives (to be ignored by a complaint desk).
OTHER_EVENTS: dict[str, dict[str, Any]] = {
    "weapp_audit_success": {"SuccTime": 0},
    "wxa_media_check": {"isrisky": 0, "extra_info_json": "", "appid": "", "trace_id": "", "status_code": 0},
    "user_enter_tempsession": {"SessionFrom": "complaint"},
    "subscribe_msg_popup_event": {"SubscribeMsgPopupEvent": ""},
}


class MessageFormat(StrEnum):
    """数据格式 of the message server."""

    XML = "xml"
    JSON = "json"


class MessageMode(StrEnum):
    """消息加解密方式."""

    PLAINTEXT = "plaintext"
    COMPATIBLE = "compatible"
    SAFE = "safe"


@dataclass
class App:
    """A registered mini program and its message-server configuration (changes apply immediately)."""

    credentials: AppCredentials
    push_url: str | None = None
    message_format: MessageFormat = MessageFormat.XML
    message_mode: MessageMode = MessageMode.SAFE
    json_layout: str = "flat"  # or "nested"
    json_quirks: bool = True
    send_openid: bool = True

    @property
    def appid(self) -> str:
        """The AppID."""
        return self.credentials.appid


@dataclass(frozen=True)
class WireRequest:
    """One push attempt: query parameters, body, content type."""

    params: dict[str, str]
    body: bytes
    content_type: str

    def url(self, push_url: str) -> str:
        """``push_url`` with the query parameters appended."""
        joiner = "&" if "?" in push_url else "?"
        return push_url + joiner + urlencode(self.params)


def _media(keys: list[str], url_for: UrlFor) -> str:
    return ",".join(url_for(key) for key in keys)


def complaint_info(
    c: Complaint, option_type: int, url_for: UrlFor
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``BussiCallBackInfo`` fields and ``history`` entries of ``c`` as they are now."""
    info: dict[str, Any] = {
        "appid": c.appid,
        "option_type": option_type,
        "complaint_order_id": int(c.complaint_order_id),
        "status": int(c.status),
        "create_time": unix(c.create_time),
        "expire_time": unix(c.expire_time),
        "type": c.type,
        "order_id": c.order_id,
        "out_trade_no": c.out_trade_no,
        "phone_number": c.phone_number,
        "open_id": c.open_id,
        "customer_material_content": c.content,
        "customer_material_media_id_list": _media(c.media, url_for),
        "pay_time": unix(c.pay_time),
        "total_cost": c.total_cost,
        "product_name": c.product_name,
    }
    history = [
        {"time": unix(item.time), "content": item.content, "media_id_list": _media(item.media, url_for)}
        for item in c.items
    ]
    return info, history


def _envelope(app: App, push: Push) -> dict[str, Any]:
    return {
        "ToUserName": app.credentials.original_id,
        "FromUserName": push.from_user,
        "CreateTime": push.create_time,
        "MsgType": "event",
        "Event": push.event,
    }


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_fields(fields: dict[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        text = str(value) if isinstance(value, int) else _cdata(str(value))
        parts.append(f"<{name}>{text}</{name}>")
    return "".join(parts)


def _xml(app: App, push: Push, encrypt: str | None) -> bytes:
    inner = _xml_fields(push.info)
    if push.event == COMPLAINT_EVENT:
        inner = "<BussiCallBackInfo>" + inner
        inner += "".join(f"<history>{_xml_fields(entry)}</history>" for entry in push.history)
        inner += "</BussiCallBackInfo>"
    tail = f"<Encrypt>{_cdata(encrypt)}</Encrypt>" if encrypt is not None else ""
    return f"<xml>{_xml_fields(_envelope(app, push))}{inner}{tail}</xml>".encode()


def _json(app: App, push: Push, encrypt: str | None) -> bytes:
    info = dict(push.info)
    if push.event == COMPLAINT_EVENT:
        history: Any = list(push.history)
        if app.json_quirks:
            info["complaint_order_id"] = str(info["complaint_order_id"])
            if len(history) == 1:
                history = history[0]
        info["history"] = history
    document = _envelope(app, push)
    if push.event == COMPLAINT_EVENT and app.json_layout == "nested":
        document["BussiCallBackInfo"] = info
    else:
        document.update(info)
    if encrypt is not None:
        document["Encrypt"] = encrypt
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def plaintext(app: App, push: Push) -> bytes:
    """The plaintext message in the app's format (what ``Encrypt`` carries)."""
    return _xml(app, push, None) if app.message_format == MessageFormat.XML else _json(app, push, None)


def wire_request(app: App, push: Push, *, timestamp: str, nonce: str) -> WireRequest:
    """The request for one attempt: body per format and mode, and every query parameter WeChat adds."""
    creds = app.credentials
    params = {
        "signature": url_signature(creds.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    if app.send_openid:
        params["openid"] = push.from_user
    xml = app.message_format == MessageFormat.XML
    content_type = "text/xml" if xml else "application/json"
    if app.message_mode == MessageMode.PLAINTEXT:
        return WireRequest(params, plaintext(app, push), content_type)
    encrypt = encrypt_message(creds.encoding_aes_key, creds.appid, plaintext(app, push))
    params["encrypt_type"] = "aes"
    params["msg_signature"] = msg_signature(creds.token, timestamp, nonce, encrypt)
    if app.message_mode == MessageMode.COMPATIBLE:
        body = _xml(app, push, encrypt) if xml else _json(app, push, encrypt)
    elif xml:
        to_user, sealed = _cdata(creds.original_id), _cdata(encrypt)
        body = f"<xml><ToUserName>{to_user}</ToUserName><Encrypt>{sealed}</Encrypt></xml>".encode()
    else:
        safe = {"ToUserName": creds.original_id, "Encrypt": encrypt}
        body = json.dumps(safe, separators=(",", ":")).encode()
    return WireRequest(params, body, content_type)
