"""Tier 1: evidence-image checks and matching an uncertain send against the negotiation history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from complaintdesk.channels.base import ActionKind, ActionRequest, HistoryEntry
from complaintdesk.channels.wechatpay import actions
from complaintdesk.errors import ActionRefused

K = ActionKind
SHA = "ab" * 32


# -- images ------------------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
BMP = b"BM" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64


@pytest.mark.parametrize(
    ("data", "content_type"), [(PNG, "image/png"), (JPG, "image/jpeg"), (BMP, "image/bmp")]
)
def test_check_image_by_magic_bytes(data: bytes, content_type: str) -> None:
    assert actions.check_image(data, "evidence.jpg") == content_type


def test_gif_renamed_png_is_refused_naming_the_real_type() -> None:
    with pytest.raises(ActionRefused) as info:
        actions.check_image(GIF, "receipt.png")
    assert info.value.message == "'receipt.png' is a GIF image; WeChat Pay accepts only JPG, PNG or BMP"
    with pytest.raises(ActionRefused, match="not a recognisable image"):
        actions.check_image(b"hello world", "a.jpg")
    with pytest.raises(ActionRefused, match="WebP"):
        actions.check_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a.png")


def test_image_over_2_mb_is_refused_with_both_sizes() -> None:
    data = JPG + b"\x00" * (int(2.1 * 1024 * 1024) - len(JPG))
    with pytest.raises(ActionRefused) as info:
        actions.check_image(data, "big.jpg")
    assert info.value.message == (
        f"'big.jpg' is 2.1 MB ({len(data)} bytes); WeChat Pay accepts at most 2 MB (2097152 bytes)"
    )
    exact = JPG + b"\x00" * (2 * 1024 * 1024 - len(JPG))
    assert actions.check_image(exact, "ok.jpg") == "image/jpeg"


def test_empty_image_is_refused() -> None:
    with pytest.raises(ActionRefused, match=r"'a\.png' is empty"):
        actions.check_image(b"", "a.png")


def test_upload_filename() -> None:
    assert actions.upload_filename(SHA.upper(), "image/jpeg") == f"{SHA}.jpg"
    assert actions.upload_filename(SHA, "image/bmp") == f"{SHA}.bmp"
    with pytest.raises(ValueError):
        actions.upload_filename("abc", "image/png")
    with pytest.raises(ValueError):
        actions.upload_filename(SHA, "image/gif")


# -- history -----------------------------------------------------------------------------------------------

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def request(kind: ActionKind, params: dict[str, Any], at: datetime = T0) -> ActionRequest:
    return ActionRequest("act-1", kind, "2002", "1900012181", params, at)


def entry(kind: str, at: datetime, text: str = "", log_id: str = "L1") -> HistoryEntry:
    return HistoryEntry(external_id=log_id, occurred_at=at, kind=kind, actor="merchant", text=text)


def test_reply_matches_same_text_after_window_start() -> None:
    req = request(K.REPLY, {"content": "已退款", "images": []})
    assert actions.applied_in_history(req, [entry("MERCHANT_RESPONSE", T0 + timedelta(seconds=3), "已退款")])
    assert actions.applied_in_history(
        req, [entry("MERCHANT_RESPONSE", T0 - timedelta(minutes=4), " 已退款\r\n")]
    )
    assert not actions.applied_in_history(
        req, [entry("MERCHANT_RESPONSE", T0 - timedelta(minutes=6), "已退款")]
    )
    assert not actions.applied_in_history(req, [entry("MERCHANT_RESPONSE", T0, "别的")])
    assert not actions.applied_in_history(req, [entry("USER_RESPONSE", T0, "已退款")])
    assert not actions.applied_in_history(req, [])


def test_naive_requested_at_is_utc() -> None:
    req = request(K.COMPLETE, {}, at=T0.replace(tzinfo=None))
    assert actions.applied_in_history(req, [entry("MERCHANT_CONFIRM_COMPLETE", T0)])


def test_immediate_reply_matches_text_or_known_log_id() -> None:
    blocks = [{"type": "TEXT", "text": {"text": "您好"}}, {"type": "TEXT", "text": {"text": "已处理"}}]
    req = request(K.IMMEDIATE_REPLY, {"blocks": blocks, "sender_identity": "MANUAL"})
    assert actions.applied_in_history(req, [entry("MERCHANT_RESPONSE", T0, "您好\n已处理")])
    old = entry("MERCHANT_RESPONSE", T0 - timedelta(hours=1), "", log_id="LOG-9")
    assert actions.applied_in_history(req, [old], known_refs={"LOG-9"})
    assert not actions.applied_in_history(req, [old], known_refs={"LOG-1"})
    images_only = request(K.IMMEDIATE_REPLY, {"blocks": [{"type": "IMAGE", "image": {"ref": SHA}}]})
    assert not actions.applied_in_history(images_only, [entry("MERCHANT_RESPONSE", T0, "")])


@pytest.mark.parametrize(
    ("kind", "operate_type", "applied"),
    [
        (K.COMPLETE, "MERCHANT_CONFIRM_COMPLETE", True),
        (K.COMPLETE, "MERCHANT_RESPONSE", False),
        (K.REFUND_APPROVE, "MERCHANT_APPROVE_REFUND", True),
        (K.REFUND_APPROVE, "MERCHANT_REFUSE_RERUND", False),
        (K.REFUND_REJECT, "MERCHANT_REFUSE_RERUND", True),
        (K.REFUND_REJECT, "MERCHANT_REFUSE_REFUND", True),
        (K.REFUND_REJECT, "MERCHANT_APPROVE_REFUND", False),
    ],
)
def test_state_actions_match_their_entry(kind: ActionKind, operate_type: str, applied: bool) -> None:
    req = request(kind, {})
    assert actions.applied_in_history(req, [entry(operate_type, T0 + timedelta(seconds=1))]) is applied
    assert not actions.applied_in_history(req, [entry(operate_type, T0 - timedelta(minutes=5, seconds=1))])
