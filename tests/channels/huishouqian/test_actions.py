"""Tier 1: the pure action rules and their operator messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from complaintdesk.channels.base import ActionKind, ActionRequest, ComplaintFacts, HistoryEntry
from complaintdesk.channels.huishouqian import actions
from complaintdesk.errors import ActionRefused

K = ActionKind
OPEN = ComplaintFacts(raw_status="PROCESSING")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def refused(kind: ActionKind, params: dict[str, Any], facts: ComplaintFacts = OPEN) -> ActionRefused:
    with pytest.raises(ActionRefused) as info:
        actions.validate(kind, params, facts)
    return info.value


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("PENDING", {K.REPLY, K.COMPLETE}),
        ("PROCESSING", {K.REPLY, K.COMPLETE}),
        ("PROCESSED", set()),
        ("X", set()),
    ],
)
def test_allowed_actions(status: str, expected: set[ActionKind]) -> None:
    assert actions.allowed_actions(ComplaintFacts(raw_status=status)) == expected


def test_status_guard_messages() -> None:
    done = refused(K.REPLY, {"content": "hi"}, ComplaintFacts(raw_status="PROCESSED"))
    assert done.field == "status"
    assert "已处理完成 (PROCESSED)" in done.message and "Allowed now: nothing" in done.message
    odd = refused(K.COMPLETE, {"content": "hi"}, ComplaintFacts(raw_status="FROZEN"))
    assert "'FROZEN'" in odd.message and "not one Huishouqian documents" in odd.message
    refund = refused(K.REFUND_APPROVE, {}, OPEN)
    assert "only reply and mark-as-complete" in refund.message
    assert "Allowed now: mark as complete, reply" in refund.message


def test_reply_is_normalised() -> None:
    params = actions.validate(
        K.REPLY, {"content": "  您好，已退款  ", "images": ["a" * 64, "a" * 64, "b" * 64]}, OPEN
    )
    assert params == {"content": "您好，已退款", "images": ["a" * 64, "b" * 64]}
    assert actions.validate_params(K.REPLY, params) == params


def test_text_rules() -> None:
    assert refused(K.REPLY, {}).message == "reply is required"
    assert refused(K.REPLY, {"content": "   "}).message == "reply is empty"
    long = refused(K.REPLY, {"content": "好" * 201})
    assert (
        long.field == "content" and long.message == "reply is 201 characters; Huishouqian accepts at most 200"
    )
    assert actions.validate(K.REPLY, {"content": "好" * 200}, OPEN)["content"] == "好" * 200
    emoji = refused(K.REPLY, {"content": "谢谢😀"})
    assert "U+1F600" in emoji.message and "character 3" in emoji.message
    assert "must be text" in refused(K.REPLY, {"content": 5}).message


def test_complete_requires_a_message() -> None:
    missing = refused(K.COMPLETE, {})
    assert missing.field == "content" and "completion message" in missing.message
    assert actions.validate(K.COMPLETE, {"content": "已为您处理完毕"}, OPEN) == {
        "content": "已为您处理完毕",
        "images": [],
    }


def test_image_and_key_rules() -> None:
    five = refused(K.REPLY, {"content": "hi", "images": [str(i) * 64 for i in range(5)]})
    assert five.field == "images" and five.message == "5 images attached; Huishouqian accepts at most 4"
    assert refused(K.REPLY, {"content": "hi", "images": "abc"}).field == "images"
    assert refused(K.REPLY, {"content": "hi", "images": ["a b"]}).field == "images[0]"
    typo = refused(K.REPLY, {"content": "hi", "jump_url": "https://x"})
    assert typo.field == "jump_url" and "takes content, images" in typo.message
    assert actions.image_refs(K.REPLY, {"content": "x", "images": ["a"]}) == ["a"]


def test_check_image() -> None:
    assert actions.check_image(PNG, "a.png") == "image/png"
    assert actions.check_image(b"\xff\xd8\xff\xe0" + b"\x00" * 10, "a.jpg") == "image/jpeg"
    assert actions.check_image(b"BM" + b"\x00" * 30, "a.bmp") == "image/bmp"
    with pytest.raises(ActionRefused, match="is empty"):
        actions.check_image(b"", "a.png")
    with pytest.raises(ActionRefused, match=r"2\.0 MB \(2097153 bytes\); Huishouqian accepts at most 2 MB"):
        actions.check_image(PNG + b"\x00" * (2 * 1024 * 1024 + 1 - len(PNG)), "big.png")
    with pytest.raises(ActionRefused, match="not a JPG, PNG or BMP"):
        actions.check_image(b"GIF89a" + b"\x00" * 10, "a.png")
    assert actions.content_type_of(b"????", "gif") == "image/gif"
    assert actions.content_type_of(PNG, "jpg") == "image/png"


def _request(kind: ActionKind, content: str = "您好") -> ActionRequest:
    return ActionRequest(
        action_id="a1",
        kind=kind,
        external_id="c1",
        merchant_id="m",
        params={"content": content, "images": []},
        requested_at=datetime(2024, 3, 1, 2, 0, tzinfo=UTC),
    )


def _entry(kind: str, text: str, minutes: int) -> HistoryEntry:
    return HistoryEntry(
        external_id=f"{kind}{minutes}",
        occurred_at=datetime(2024, 3, 1, 2, 0, tzinfo=UTC) + timedelta(minutes=minutes),
        kind=kind,
        actor="merchant",
        text=text,
    )


def test_applied_in_history() -> None:
    assert actions.applied_in_history(_request(K.REPLY), [_entry("MERCHANT_RESPONSE", " 您好\r\n", 1)])
    assert not actions.applied_in_history(_request(K.REPLY), [_entry("MERCHANT_RESPONSE", "别的", 1)])
    assert not actions.applied_in_history(_request(K.REPLY), [_entry("MERCHANT_RESPONSE", "您好", -6)])
    assert actions.applied_in_history(_request(K.COMPLETE), [_entry("MERCHANT_CONFIRM_COMPLETE", "", -4)])
    assert not actions.applied_in_history(_request(K.COMPLETE), [_entry("MERCHANT_RESPONSE", "您好", 1)])
