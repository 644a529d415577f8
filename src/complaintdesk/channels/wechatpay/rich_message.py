"""The rich ``message`` of an immediate-service reply (spec §1.5): validation and wire form.

Parameters use the wire structure except for images: an IMAGE block names a *local* image reference,
either as ``"image": "<ref>"`` or ``"image": {"ref": "<ref>", "image_style_type": "..."}``; the
normalised form is always the object. :func:`to_wire` swaps the reference for the uploaded ``media_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from complaintdesk.channels.wechatpay.fields import (
    bool_field,
    check_keys,
    choice_field,
    https_url,
    image_refs_field,
    mapping_field,
    refuse,
    text_field,
)

__all__ = [
    "ACTION_TYPES",
    "BLOCK_TYPES",
    "SENDER_IDENTITIES",
    "message_image_refs",
    "message_text",
    "to_wire",
    "validate_blocks",
]

BLOCK_TYPES = ("TEXT", "IMAGE", "LINK", "FAQ_LIST", "BUTTON", "BUTTON_GROUP")
SENDER_IDENTITIES = ("UNKNOWN", "MANUAL", "MACHINE")
ACTION_TYPES = ("ACTION_TYPE_SEND_MESSAGE", "ACTION_TYPE_JUMP_URL", "ACTION_TYPE_JUMP_MINI_PROGRAM")
TEXT_COLORS = ("DEFAULT", "SECONDARY")
IMAGE_STYLES = ("IMAGE_STYLE_TYPE_NARROW", "IMAGE_STYLE_TYPE_WIDE")
BUTTON_LAYOUTS = ("LAYOUT_UNKNOWN", "LAYOUT_HORIZONTAL", "LAYOUT_VERTICAL")
#: ``custom_data`` is string(4096).
MAX_CUSTOM_DATA = 4096
_MAX_JUMP_URL = 512


def _text(
    value: Any, field: str, *, required: bool = True, max_chars: int | None = None, strip: bool = True
) -> str | None:
    return text_field(value, field=field, label=field, required=required, max_chars=max_chars, strip=strip)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` only when there is a value (requests never carry JSON null)."""
    if value is not None:
        target[key] = value


def _mini_program(value: Any, field: str, *, all_required: bool) -> dict[str, str]:
    info = mapping_field(value, field=field, label=field)
    check_keys(info, ("appid", "path", "text"), field=field, what=field)
    out: dict[str, str] = {}
    for key in ("appid", "path", "text"):
        _put(out, key, _text(info.get(key), f"{field}.{key}", required=all_required or key == "appid"))
    return out


def _invalid_info(value: Any, field: str) -> dict[str, Any]:
    info = mapping_field(value, field=field, label=field)
    check_keys(info, ("expired_time", "multi_clickable"), field=field, what=field)
    out: dict[str, Any] = {}
    expired = _text(info.get("expired_time"), f"{field}.expired_time", required=False)
    if expired is not None:
        try:
            parsed = datetime.fromisoformat(expired)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            refuse(
                f"{field}.expired_time must be an RFC3339 time with offset, got {expired[:40]!r}",
                f"{field}.expired_time",
            )
        out["expired_time"] = expired
    multi = bool_field(info.get("multi_clickable"), field=f"{field}.multi_clickable", label="multi_clickable")
    _put(out, "multi_clickable", multi)
    return out


def _action(value: Any, field: str) -> dict[str, Any]:
    action = mapping_field(value, field=field, label=field)
    keys = ("action_type", "jump_url", "mini_program_jump_info", "message_info", "action_id")
    check_keys(action, keys, field=field, what=field)
    kind = choice_field(
        action.get("action_type"), field=f"{field}.action_type", label=field, choices=ACTION_TYPES
    )
    needed = {
        "ACTION_TYPE_JUMP_URL": "jump_url",
        "ACTION_TYPE_JUMP_MINI_PROGRAM": "mini_program_jump_info",
        "ACTION_TYPE_SEND_MESSAGE": "message_info",
    }[kind]
    for other in ("jump_url", "mini_program_jump_info", "message_info"):
        if other != needed and action.get(other) is not None:
            refuse(f"{field}: {other} does not go with {kind}", f"{field}.{other}")
    if action.get(needed) is None:
        refuse(f"{field}: {kind} needs {needed}", f"{field}.{needed}")
    out: dict[str, Any] = {"action_type": kind}
    if needed == "jump_url":
        out["jump_url"] = https_url(
            action["jump_url"], field=f"{field}.jump_url", label="jump_url", max_chars=_MAX_JUMP_URL
        )
    elif needed == "mini_program_jump_info":
        out[needed] = _mini_program(action[needed], f"{field}.{needed}", all_required=False)
    else:
        info = mapping_field(action[needed], field=f"{field}.{needed}", label=needed)
        check_keys(info, ("content", "custom_data"), field=f"{field}.{needed}", what=needed)
        out[needed] = {"content": _text(info.get("content"), f"{field}.{needed}.content")}
        _put(
            out[needed],
            "custom_data",
            _text(
                info.get("custom_data"),
                f"{field}.{needed}.custom_data",
                required=False,
                max_chars=MAX_CUSTOM_DATA,
            ),
        )
    _put(out, "action_id", _text(action.get("action_id"), f"{field}.action_id", required=False))
    return out


def _button(value: Any, field: str) -> dict[str, Any]:
    button = mapping_field(value, field=field, label=field)
    check_keys(button, ("text", "action", "invalid_info"), field=field, what=field)
    out: dict[str, Any] = {"text": _text(button.get("text"), f"{field}.text")}
    out["action"] = _action(button.get("action"), f"{field}.action")
    if button.get("invalid_info") is not None:
        out["invalid_info"] = _invalid_info(button["invalid_info"], f"{field}.invalid_info")
    return out


def _image(value: Any, field: str) -> dict[str, Any]:
    image = {"ref": value} if isinstance(value, str) else mapping_field(value, field=field, label=field)
    check_keys(image, ("ref", "image_style_type"), field=field, what=field)
    (ref,) = image_refs_field([image.get("ref")], field=f"{field}.ref", label="image reference", max_count=1)
    out: dict[str, Any] = {"ref": ref}
    if image.get("image_style_type") is not None:
        out["image_style_type"] = choice_field(
            image["image_style_type"],
            field=f"{field}.image_style_type",
            label="image_style_type",
            choices=IMAGE_STYLES,
        )
    return out


def _block(value: Any, field: str) -> dict[str, Any]:
    block = mapping_field(value, field=field, label=field)
    kind = choice_field(block.get("type"), field=f"{field}.type", label=f"{field}.type", choices=BLOCK_TYPES)
    member = kind.lower()
    check_keys(block, ("type", member), field=field, what=f"a {kind} block")
    if block.get(member) is None:
        refuse(f"a {kind} block needs {member}", f"{field}.{member}")
    where = f"{field}.{member}"
    content: dict[str, Any]
    if kind == "TEXT":
        text = mapping_field(block[member], field=where, label=where)
        check_keys(text, ("text", "color", "is_bold"), field=where, what=where)
        content = {"text": _text(text.get("text"), f"{where}.text", strip=False)}
        if text.get("color") is not None:
            content["color"] = choice_field(
                text["color"], field=f"{where}.color", label="color", choices=TEXT_COLORS
            )
        _put(content, "is_bold", bool_field(text.get("is_bold"), field=f"{where}.is_bold", label="is_bold"))
    elif kind == "IMAGE":
        content = _image(block[member], where)
    elif kind in ("LINK", "BUTTON"):
        content = _button(block[member], where)
    elif kind == "FAQ_LIST":
        faq_list = mapping_field(block[member], field=where, label=where)
        check_keys(faq_list, ("faqs",), field=where, what=where)
        faqs = faq_list.get("faqs")
        if not isinstance(faqs, list) or not faqs:
            refuse("a FAQ_LIST block needs a non-empty faqs list", f"{where}.faqs")
        content = {"faqs": [_faq(item, f"{where}.faqs[{i}]") for i, item in enumerate(faqs)]}
    else:
        group = mapping_field(block[member], field=where, label=where)
        check_keys(group, ("buttons", "button_layout", "invalid_info"), field=where, what=where)
        buttons = group.get("buttons")
        if not isinstance(buttons, list) or not buttons:
            refuse("a BUTTON_GROUP block needs a non-empty buttons list", f"{where}.buttons")
        content = {"buttons": [_button(item, f"{where}.buttons[{i}]") for i, item in enumerate(buttons)]}
        if group.get("button_layout") is not None:
            content["button_layout"] = choice_field(
                group["button_layout"],
                field=f"{where}.button_layout",
                label="button_layout",
                choices=BUTTON_LAYOUTS,
            )
        if group.get("invalid_info") is not None:
            content["invalid_info"] = _invalid_info(group["invalid_info"], f"{where}.invalid_info")
    return {"type": kind, member: content}


def _faq(value: Any, field: str) -> dict[str, Any]:
    faq = mapping_field(value, field=field, label=field)
    check_keys(faq, ("faq_id", "faq_title", "action"), field=field, what=field)
    out: dict[str, Any] = {
        "faq_id": _text(faq.get("faq_id"), f"{field}.faq_id"),
        "faq_title": _text(faq.get("faq_title"), f"{field}.faq_title"),
    }
    if faq.get("action") is not None:
        out["action"] = _action(faq["action"], f"{field}.action")
    return out


def validate_blocks(value: Any) -> list[dict[str, Any]]:
    """Check the ``blocks`` parameter (at least one block) and return it normalised."""
    if not isinstance(value, list) or not value:
        refuse("an immediate-service reply needs at least one block (TEXT, IMAGE, LINK, …)", "blocks")
    return [_block(item, f"blocks[{index}]") for index, item in enumerate(value)]


def message_image_refs(blocks: list[dict[str, Any]]) -> list[str]:
    """Return the local image references used by normalised blocks, in order, once each."""
    refs: dict[str, None] = {}
    for block in blocks:
        if block.get("type") == "IMAGE":
            refs[block["image"]["ref"]] = None
    return list(refs)


def message_text(blocks: list[dict[str, Any]]) -> str:
    """Return the TEXT blocks joined by newlines (how history shows a rich message's text)."""
    return "\n".join(block["text"]["text"] for block in blocks if block.get("type") == "TEXT")


def to_wire(
    blocks: list[dict[str, Any]],
    media_ids: Mapping[str, str],
    *,
    sender_identity: str,
    custom_data: str | None,
) -> dict[str, Any]:
    """Build the request ``message``: image references become media ids (which must all be known)."""
    wire: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        if block.get("type") != "IMAGE":
            wire.append(block)
            continue
        image = dict(block["image"])
        ref = image.pop("ref")
        media_id = media_ids.get(ref)
        if not media_id:
            refuse(
                f"image {ref[:16]} of block {index + 1} has not been uploaded yet", f"blocks[{index}].image"
            )
        wire.append({"type": "IMAGE", "image": {"media_id": media_id, **image}})
    message: dict[str, Any] = {"blocks": wire, "sender_identity": sender_identity}
    _put(message, "custom_data", custom_data)
    return message
