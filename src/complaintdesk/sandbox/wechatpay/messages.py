"""Content a merchant sends: uploaded-image references, jump links and rich "NormalMessage"s (spec §1.4/§1.5).

Decisions for the rich message (the spec lists fields, not all of their rules): ``blocks`` must be a
non-empty array; every block needs the sub-object matching its ``type``; ``text.text``, ``link.text``,
``link.action``, ``button.text``, ``button.action``, ``faq_list.faqs`` (non-empty) with ``faq_id`` and
``faq_title``, ``button_group.buttons`` (non-empty) and ``image.media_id`` are required; an ``action``
needs ``action_type`` plus ``jump_url`` (https) / ``mini_program_jump_info.appid`` /
``message_info.content`` for JUMP_URL / JUMP_MINI_PROGRAM / SEND_MESSAGE.
"""

from __future__ import annotations

from typing import Any

from complaintdesk.sandbox.wechatpay.gate import ApiError, Caller
from complaintdesk.sandbox.wechatpay.model import Complaint
from complaintdesk.sandbox.wechatpay.state import SimulatorState
from complaintdesk.sandbox.wechatpay.validate import Body, param_error

MAX_IMAGES = 4
BLOCK_TYPES = {
    "TEXT": "text",
    "IMAGE": "image",
    "LINK": "link",
    "FAQ_LIST": "faq_list",
    "BUTTON": "button",
    "BUTTON_GROUP": "button_group",
}
SENDER_IDENTITIES = ("UNKNOWN", "MANUAL", "MACHINE")
_ACTIONS = ("ACTION_TYPE_SEND_MESSAGE", "ACTION_TYPE_JUMP_URL", "ACTION_TYPE_JUMP_MINI_PROGRAM")
_COLORS = ("DEFAULT", "SECONDARY")
_IMAGE_STYLES = ("IMAGE_STYLE_TYPE_NARROW", "IMAGE_STYLE_TYPE_WIDE")
_LAYOUTS = ("LAYOUT_UNKNOWN", "LAYOUT_HORIZONTAL", "LAYOUT_VERTICAL")


def check_media_id(state: SimulatorState, caller: Caller, value: Any, field: str) -> str:
    """A media id this caller uploaded (400 PARAM_ERROR otherwise)."""
    if not isinstance(value, str) or state.media.upload(value, caller.mchid) is None:
        raise param_error(field, "media_id不存在或不是本商户上传的图片")
    return value


def uploaded_media(state: SimulatorState, caller: Caller, body: Body, key: str) -> list[str]:
    """An optional array of at most 4 media ids uploaded by the caller."""
    items = body.array(key, max_items=MAX_IMAGES) or []
    return [check_media_id(state, caller, item, f"{body.name(key)}[{i}]") for i, item in enumerate(items)]


def check_target(complaint: Complaint, target: str) -> None:
    """``complainted_mchid`` must be the complaint's (the sub-merchant in SP mode): 403 NO_AUTH otherwise."""
    if target != complaint.complainted_mchid:
        raise ApiError(403, "NO_AUTH", "complainted_mchid与投诉单的被诉商户号不一致")


def jump_fields(body: Body) -> bool:
    """Validate ``jump_url``/``jump_url_text``/``mini_program_jump_info``; True when any is used."""
    url = body.url("jump_url", max_chars=512)
    text = body.string("jump_url_text", max_chars=10)
    if (url is None) != (text is None):
        missing = "jump_url_text" if text is None else "jump_url"
        raise param_error(missing, "jump_url与jump_url_text必须同时提供")
    mini = body.obj("mini_program_jump_info")
    if mini is not None:
        for key in ("appid", "path", "text"):
            mini.required(key, max_chars=256)
    return url is not None or mini is not None


def check_jump_allowed(state: SimulatorState, caller: Caller, complaint: Complaint) -> None:
    """Jump links are a gray (whitelist) feature: 403 NO_AUTH unless the caller or merchant is listed."""
    allowed = state.jump_url_whitelist
    if caller.mchid not in allowed and complaint.complainted_mchid not in allowed:
        raise ApiError(403, "NO_AUTH", "商户未开通跳转链接权限，请联系行业运营申请")


class MessageReader:
    """Validates a rich message; collects the referenced uploads and the plain texts."""

    def __init__(self, state: SimulatorState, caller: Caller) -> None:
        self.state = state
        self.caller = caller
        self.uploads: list[str] = []
        self.texts: list[str] = []

    def message(self, body: Body) -> dict[str, Any]:
        """Check ``body`` (the ``message`` object) and return it unchanged."""
        for block in body.objects("blocks", required=True, min_items=1):
            self._block(block)
        body.choice("sender_identity", SENDER_IDENTITIES)
        body.string("custom_data", max_chars=4096)
        return body.data

    def _block(self, block: Body) -> None:
        kind = block.choice("type", BLOCK_TYPES, required=True)
        assert kind is not None
        content = block.obj(BLOCK_TYPES[kind], required=True)
        assert content is not None
        if kind == "TEXT":
            self.texts.append(content.required("text", max_chars=2048))
            content.choice("color", _COLORS)
            content.boolean("is_bold")
        elif kind == "IMAGE":
            name = content.name("media_id")
            self.uploads.append(check_media_id(self.state, self.caller, content.data.get("media_id"), name))
            content.choice("image_style_type", _IMAGE_STYLES)
        elif kind in ("LINK", "BUTTON"):
            self._button(content)
        elif kind == "FAQ_LIST":
            for faq in content.objects("faqs", required=True, min_items=1):
                faq.required("faq_id", max_chars=64)
                faq.required("faq_title", max_chars=256)
                self._action(faq.obj("action"))
        else:
            for button in content.objects("buttons", required=True, min_items=1):
                self._button(button)
            content.choice("button_layout", _LAYOUTS)
            self._invalid_info(content.obj("invalid_info"))

    def _button(self, body: Body) -> None:
        body.required("text", max_chars=256)
        self._action(body.obj("action", required=True))
        self._invalid_info(body.obj("invalid_info"))

    def _action(self, action: Body | None) -> None:
        if action is None:
            return
        kind = action.choice("action_type", _ACTIONS, required=True)
        action.url("jump_url", max_chars=512, required=kind == "ACTION_TYPE_JUMP_URL")
        mini = action.obj("mini_program_jump_info", required=kind == "ACTION_TYPE_JUMP_MINI_PROGRAM")
        if mini is not None:
            mini.required("appid", max_chars=64)
            mini.string("path", max_chars=512)
            mini.string("text", max_chars=256)
        info = action.obj("message_info", required=kind == "ACTION_TYPE_SEND_MESSAGE")
        if info is not None:
            info.required("content", max_chars=2048)
            info.string("custom_data", max_chars=4096)
        action.string("action_id", max_chars=64)

    def _invalid_info(self, info: Body | None) -> None:
        if info is not None:
            info.string("expired_time", max_chars=32)
            info.boolean("multi_clickable")
