"""Parse message-server documents (XML or JSON) and normalise the ``complaint_callback`` event.

XML is parsed only with ``defusedxml``: a DTD, entity declarations and external references are refused
(billion laughs, XXE). The official sample has a malformed tag (``<media_id_list>123<media_id_list>``); a
document that is not well-formed gets one repair pass for exactly that mistake (an opening tag written where
the closing tag belongs, around text), then it is parsed again, still defused.

The JSON event may be flat (SKIT's model) or nested under ``BussiCallBackInfo`` like the XML; ``history``
may be an object or an array; numbers may arrive as strings; media lists may be comma-separated strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from complaintdesk.errors import MalformedNotification

__all__ = [
    "ENVELOPE_FIELDS",
    "EVENT_FIELDS",
    "as_int",
    "complaint_event",
    "media_list",
    "parse_document",
    "parse_json",
    "parse_xml",
]

CHANNEL = "miniprogram"
#: Deepest element nesting we accept (the event is three levels deep).
MAX_DEPTH = 12
ENVELOPE_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Event")
#: Fields of ``BussiCallBackInfo`` (``phone_number`` is read but never kept in the payload).
EVENT_FIELDS = (
    "appid",
    "option_type",
    "complaint_order_id",
    "status",
    "create_time",
    "expire_time",
    "type",
    "order_id",
    "out_trade_no",
    "open_id",
    "customer_material_content",
    "customer_material_media_id_list",
    "pay_time",
    "total_cost",
    "product_name",
    "history",
)
_INT_FIELDS = frozenset({"status", "create_time", "expire_time", "type", "pay_time", "total_cost"})
_CAMEL = {
    "complaint_order_id": "complaintOrderId",
    "option_type": "optionType",
    "expire_time": "expireTime",
    "create_time": "createTime",
}
_INFO_KEYS = frozenset({"bussicallbackinfo"})
#: ``<tag>text<tag>`` where ``</tag>`` was meant (text may be CDATA); only tried on a broken document.
_MISCLOSED = re.compile(rb"<([A-Za-z_][\w.-]*)>((?:<!\[CDATA\[.*?\]\]>|[^<])+?)<\1>", re.DOTALL)
_INT_RE = re.compile(r"-?\d{1,19}")


def _refuse(message: str) -> MalformedNotification:
    return MalformedNotification(message, channel=CHANNEL)


def _element(node: Element, depth: int = 0) -> Any:
    """Turn an element into text (leaf) or a dict; repeated child tags become lists."""
    if depth > MAX_DEPTH:
        raise _refuse(f"XML is nested deeper than {MAX_DEPTH} levels")
    children = list(node)
    if not children:
        return node.text or ""
    out: dict[str, Any] = {}
    repeated: set[str] = set()
    for child in children:
        tag = child.tag.rsplit("}", 1)[-1] if isinstance(child.tag, str) else str(child.tag)
        value = _element(child, depth + 1)
        if tag in out:
            if tag not in repeated:
                out[tag] = [out[tag]]
                repeated.add(tag)
            out[tag].append(value)
        else:
            out[tag] = value
    return out


def _defused(data: bytes) -> Element:
    try:
        root: Element = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise _refuse("XML with a DTD, entity declarations or external references is refused") from exc
    return root


def parse_xml(data: bytes) -> dict[str, Any]:
    """Parse an XML message into a dict of its root's children (defused; one repair pass, see module doc)."""
    try:
        root = _defused(data)
    except ParseError:
        repaired = _MISCLOSED.sub(rb"<\1>\2</\1>", data)
        if repaired == data:
            raise _refuse("body is not well-formed XML") from None
        try:
            root = _defused(repaired)
        except ParseError:
            raise _refuse("body is not well-formed XML") from None
    doc = _element(root)
    if not isinstance(doc, dict):
        raise _refuse("XML message has no fields")
    return doc


def parse_json(data: bytes) -> dict[str, Any]:
    """Parse a JSON message; it must be an object."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _refuse("body is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise _refuse("JSON message is not an object")
    return doc


def parse_document(body: bytes) -> tuple[dict[str, Any], str]:
    """Parse a message body by its first character: ``(fields, "xml" | "json")``."""
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"<":
        return parse_xml(body), "xml"
    if start == b"{":
        return parse_json(body), "json"
    raise _refuse("body is neither an XML nor a JSON message")


# -- normalisation ----------------------------------------------------------------------------------------


def as_int(value: Any) -> int | None:
    """Return an integer from an int or a numeric string (surrounding spaces allowed), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _text(value: Any) -> str:
    """Return a scalar as text ("" for None and containers)."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def media_list(value: Any) -> list[str]:
    """Normalise a media list: an array, a comma-separated string, or XML children, to unique URLs."""
    items: list[Any]
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        items = [item for inner in value.values() for item in (inner if isinstance(inner, list) else [inner])]
    elif isinstance(value, str):
        items = value.split(",")
    else:
        items = []
    urls = [_text(item).strip() for item in items]
    return list(dict.fromkeys(url for url in urls if url))


def _history(value: Any) -> list[dict[str, Any]]:
    """Normalise ``history`` (object, array, or a JSON string of either) into a list of entries."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
    entries = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    return [
        {
            "time": as_int(entry.get("time")),
            "content": _text(entry.get("content")),
            "media_id_list": media_list(entry.get("media_id_list")),
        }
        for entry in entries
        if isinstance(entry, dict)
    ]


def _info(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event fields: the nested ``BussiCallBackInfo`` object when there is one, else the document."""
    for key, value in doc.items():
        if key.lower() in _INFO_KEYS:
            if isinstance(value, str) and value.strip().startswith("{"):
                try:
                    value = orjson.loads(value)
                except orjson.JSONDecodeError:
                    continue
            if isinstance(value, dict):
                return value
    return doc


def _field(info: Mapping[str, Any], name: str) -> Any:
    value = info.get(name)
    if value is None and name in _CAMEL:
        value = info.get(_CAMEL[name])
    return value


def complaint_event(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise a ``complaint_callback`` document into one flat dict (envelope + event fields, no phone).

    Integers become ``int`` when they parse (else the raw text stays); ``complaint_order_id`` stays text.
    """
    out: dict[str, Any] = {}
    for name in ENVELOPE_FIELDS:
        value = doc.get(name)
        out[name] = as_int(value) if name == "CreateTime" and as_int(value) is not None else _text(value)
    info = _info(doc)
    for name in EVENT_FIELDS:
        value = _field(info, name)
        if name == "history":
            out[name] = _history(value)
        elif name.endswith("media_id_list"):
            out[name] = media_list(value)
        elif name in _INT_FIELDS:
            number = as_int(value)
            out[name] = number if number is not None else _text(value).strip() or None
        else:
            out[name] = _text(value).strip() if name != "customer_material_content" else _text(value)
    out["complaint_order_id"] = _text(_field(info, "complaint_order_id")).strip()
    return out
