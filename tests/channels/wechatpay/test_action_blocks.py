"""Tier 1: the rich message of an immediate-service reply (spec §1.5)."""

from __future__ import annotations

from typing import Any

import pytest

from complaintdesk.channels.base import ActionKind, ComplaintFacts
from complaintdesk.channels.wechatpay import actions
from complaintdesk.errors import ActionRefused

K = ActionKind
IMMEDIATE = ComplaintFacts(raw_status="PENDING", problem_type="OTHERS", immediate_service=True)
SHA = "ab" * 32
SHA2 = "cd" * 32


def refused(params: dict[str, Any]) -> ActionRefused:
    with pytest.raises(ActionRefused) as info:
        actions.validate(K.IMMEDIATE_REPLY, params, IMMEDIATE)
    return info.value


# -- immediate-service reply -------------------------------------------------------------------------------


def test_immediate_reply_blocks_are_normalised() -> None:
    send = {"action_type": "ACTION_TYPE_SEND_MESSAGE", "message_info": {"content": "退款进度"}}
    params = {
        "blocks": [
            {"type": "TEXT", "text": {"text": "您好", "color": "DEFAULT", "is_bold": True}},
            {"type": "IMAGE", "image": SHA},
            {"type": "IMAGE", "image": {"ref": SHA2, "image_style_type": "IMAGE_STYLE_TYPE_WIDE"}},
            {
                "type": "LINK",
                "link": {
                    "text": "详情",
                    "action": {"action_type": "ACTION_TYPE_JUMP_URL", "jump_url": "https://a.example"},
                },
            },
            {
                "type": "FAQ_LIST",
                "faq_list": {"faqs": [{"faq_id": "1", "faq_title": "怎么退款", "action": send}]},
            },
            {
                "type": "BUTTON_GROUP",
                "button_group": {
                    "buttons": [{"text": "是", "action": send, "invalid_info": {"multi_clickable": False}}],
                    "button_layout": "LAYOUT_HORIZONTAL",
                    "invalid_info": {"expired_time": "2026-01-01T00:00:00+08:00"},
                },
            },
            {
                "type": "BUTTON",
                "button": {
                    "text": "小程序",
                    "action": {
                        "action_type": "ACTION_TYPE_JUMP_MINI_PROGRAM",
                        "mini_program_jump_info": {"appid": "wx1"},
                    },
                },
            },
        ],
    }
    out = actions.validate(K.IMMEDIATE_REPLY, params, IMMEDIATE)
    assert out["sender_identity"] == "MANUAL"
    assert out["blocks"][1] == {"type": "IMAGE", "image": {"ref": SHA}}
    assert out["blocks"][2]["image"] == {"ref": SHA2, "image_style_type": "IMAGE_STYLE_TYPE_WIDE"}
    assert actions.validate(K.IMMEDIATE_REPLY, out, IMMEDIATE) == out
    assert actions.image_refs(K.IMMEDIATE_REPLY, out) == [SHA, SHA2]


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({}, "blocks", "at least one block"),
        ({"blocks": [{"type": "VIDEO"}]}, "blocks[0].type", "must be one of TEXT"),
        ({"blocks": [{"type": "TEXT"}]}, "blocks[0].text", "needs text"),
        (
            {"blocks": [{"type": "TEXT", "text": {"text": "hi"}, "image": SHA}]},
            "blocks[0].image",
            "does not take image",
        ),
        ({"blocks": [{"type": "TEXT", "text": {"text": "好🎉"}}]}, "blocks[0].text.text", "U+1F389"),
        (
            {"blocks": [{"type": "TEXT", "text": {"text": "hi", "color": "RED"}}]},
            "blocks[0].text.color",
            "DEFAULT",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "BUTTON",
                        "button": {"text": "x", "action": {"action_type": "ACTION_TYPE_JUMP_URL"}},
                    }
                ]
            },
            "blocks[0].button.action.jump_url",
            "needs jump_url",
        ),
        (
            {"blocks": [{"type": "FAQ_LIST", "faq_list": {"faqs": []}}]},
            "blocks[0].faq_list.faqs",
            "non-empty",
        ),
        (
            {"blocks": [{"type": "TEXT", "text": {"text": "hi"}}], "sender_identity": "ROBOT"},
            "sender_identity",
            "UNKNOWN, MANUAL, MACHINE",
        ),
        (
            {"blocks": [{"type": "TEXT", "text": {"text": "hi"}}], "custom_data": "x" * 4097},
            "custom_data",
            "at most 4096",
        ),
    ],
)
def test_immediate_reply_refusals(params: dict[str, Any], field: str, fragment: str) -> None:
    error = refused(params)
    assert error.field == field
    assert fragment in error.message


def test_immediate_reply_invalid_info_time() -> None:
    send = {"action_type": "ACTION_TYPE_SEND_MESSAGE", "message_info": {"content": "x"}}
    button = {"text": "x", "action": send, "invalid_info": {"expired_time": "tomorrow"}}
    error = refused({"blocks": [{"type": "BUTTON", "button": button}]})
    assert error.field == "blocks[0].button.invalid_info.expired_time" and "RFC3339" in error.message
    wrong = {"action_type": "ACTION_TYPE_SEND_MESSAGE", "jump_url": "https://a.example"}
    error = refused({"blocks": [{"type": "LINK", "link": {"text": "x", "action": wrong}}]})
    assert error.field == "blocks[0].link.action.jump_url" and "does not go with" in error.message
