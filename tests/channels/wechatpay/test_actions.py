"""Tier 1: the pure action rules — status guards, parameter checks, images, history matching."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaintdesk.channels.base import ActionKind, ComplaintFacts, HistoryEntry
from complaintdesk.channels.wechatpay import actions
from complaintdesk.errors import ActionRefused

K = ActionKind
OPEN = ComplaintFacts(raw_status="PROCESSING", problem_type="OTHERS")
REFUND = ComplaintFacts(raw_status="PENDING", problem_type="REFUND")
IMMEDIATE = ComplaintFacts(raw_status="PENDING", problem_type="OTHERS", immediate_service=True)
SHA = "ab" * 32
SHA2 = "cd" * 32


def refused(
    kind: ActionKind, params: dict[str, Any], facts: ComplaintFacts = OPEN, **kw: Any
) -> ActionRefused:
    with pytest.raises(ActionRefused) as info:
        actions.validate(kind, params, facts, **kw)
    return info.value


# -- status guard ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (ComplaintFacts(raw_status="PROCESSED", problem_type="REFUND", immediate_service=True), set()),
        (ComplaintFacts(raw_status="PENDING"), {K.REPLY, K.COMPLETE}),
        (OPEN, {K.REPLY, K.COMPLETE}),
        (IMMEDIATE, {K.REPLY, K.COMPLETE, K.IMMEDIATE_REPLY}),
        (REFUND, {K.REPLY, K.COMPLETE, K.REFUND_APPROVE, K.REFUND_REJECT}),
        (
            ComplaintFacts(raw_status="PENDING", problem_type="REFUND", fully_refunded=True),
            {K.REPLY, K.COMPLETE},
        ),
        (
            ComplaintFacts(
                raw_status="PROCESSING",
                problem_type="REFUND",
                raw={"history": [{"operate_type": "MERCHANT_APPROVE_REFUND"}]},
            ),
            {K.REPLY, K.COMPLETE},
        ),
        (ComplaintFacts(raw_status="FROZEN", problem_type="REFUND", immediate_service=True), set()),
        (ComplaintFacts(raw_status=""), set()),
    ],
)
def test_allowed_actions(facts: ComplaintFacts, expected: set[ActionKind]) -> None:
    assert actions.allowed_actions(facts) == expected


def test_refund_decision_reads_history_in_raw() -> None:
    entry = HistoryEntry(
        external_id="1",
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
        kind="MERCHANT_REFUSE_RERUND",
        actor="merchant",
    )
    assert actions.refund_decision({"history": [entry]}) == "REJECT"
    assert actions.refund_decision({"history": [{"kind": "MERCHANT_APPROVE_REFUND"}]}) == "APPROVE"
    assert actions.refund_decision({"history": "junk"}) is None
    assert actions.refund_decision({}) is None


def test_processed_complaint_refuses_everything_with_status_label() -> None:
    facts = ComplaintFacts(raw_status="PROCESSED")
    for kind in ActionKind:
        error = refused(kind, {}, facts)
        assert error.field == "status"
        assert "已处理完成 (PROCESSED)" in error.message
        assert "Allowed now: nothing" in error.message


def test_refund_on_non_refund_complaint_is_refused() -> None:
    facts = ComplaintFacts(raw_status="PROCESSING", problem_type="SERVICE_NOT_WORK")
    error = refused(K.REFUND_APPROVE, {}, facts)
    assert error.message.startswith("cannot approve the refund: it is only for refund complaints")
    assert "服务权益未生效 (SERVICE_NOT_WORK)" in error.message
    assert "处理中 (PROCESSING)" in error.message
    assert "Allowed now: mark as complete, reply" in error.message
    error = refused(K.REFUND_REJECT, {"reject_reason": "x"}, ComplaintFacts(raw_status="PENDING"))
    assert "(none)" in error.message


def test_refund_guard_explains_full_refund_and_earlier_decision() -> None:
    error = refused(
        K.REFUND_REJECT, {"reject_reason": "x"}, ComplaintFacts("PENDING", "REFUND", fully_refunded=True)
    )
    assert "already fully refunded" in error.message
    facts = ComplaintFacts("PROCESSING", "REFUND", raw={"history": [{"kind": "MERCHANT_APPROVE_REFUND"}]})
    assert "already sent (APPROVE)" in refused(K.REFUND_REJECT, {"reject_reason": "x"}, facts).message


def test_immediate_reply_on_normal_complaint_is_refused() -> None:
    error = refused(K.IMMEDIATE_REPLY, {"blocks": [{"type": "TEXT", "text": {"text": "hi"}}]}, OPEN)
    assert "need immediate service" in error.message and "use a reply" in error.message
    assert error.field == "status"


def test_unknown_status_is_explained() -> None:
    error = refused(K.REPLY, {"content": "hi"}, ComplaintFacts(raw_status="ARCHIVED"))
    assert "'ARCHIVED' is not one WeChat Pay documents" in error.message


# -- reply -------------------------------------------------------------------------------------------------


def test_reply_is_normalised() -> None:
    params = {
        "content": "  您好，已为您退款  ",
        "images": [SHA, SHA2, SHA],
        "jump_url": "https://m.example.com/c/1",
        "jump_url_text": "查看详情",
        "mini_program_jump_info": {"appid": "wx1", "path": "pages/a", "text": "打开"},
    }
    out = actions.validate(K.REPLY, params, OPEN)
    assert out == params | {"content": "您好，已为您退款", "images": [SHA, SHA2]}
    assert actions.validate(K.REPLY, out, OPEN) == out
    assert actions.validate(K.REPLY, {"content": "ok"}, OPEN) == {"content": "ok", "images": []}


def test_too_long_reply() -> None:
    error = refused(K.REPLY, {"content": "好" * 214})
    assert error.message == "reply is 214 characters; WeChat Pay accepts at most 200"
    assert error.field == "content"
    assert actions.validate(K.REPLY, {"content": "好" * 200}, OPEN)["content"] == "好" * 200
    error = refused(K.REPLY, {"content": "a" * 201}, reply_max_chars=120)
    assert "201 characters; WeChat Pay accepts at most 120" in error.message


def test_four_byte_reply_names_the_character_and_position() -> None:
    error = refused(K.REPLY, {"content": "谢谢您😀!"})
    assert "😀 (U+1F600) at character 4" in error.message
    assert "up to 3 bytes in UTF-8" in error.message
    assert error.field == "content"
    error = refused(K.REPLY, {"content": "ok\ud83d"})
    assert "lone surrogate (U+D83D) at character 3" in error.message


@pytest.mark.parametrize("content", [None, "", "   \n", 5])
def test_reply_needs_text(content: Any) -> None:
    assert refused(K.REPLY, {"content": content}).field == "content"


def test_five_images() -> None:
    error = refused(K.REPLY, {"content": "hi", "images": [f"{i:064x}" for i in range(5)]})
    assert error.message == "5 images attached; WeChat Pay accepts at most 4"
    assert error.field == "images"


@pytest.mark.parametrize("images", ["abc", [""], [1], ["has space"], ["x" * 129]])
def test_bad_image_refs(images: Any) -> None:
    assert refused(K.REPLY, {"content": "hi", "images": images}).field.startswith("images")


def test_jump_url_without_text() -> None:
    error = refused(K.REPLY, {"content": "hi", "jump_url": "https://a.example/x"})
    assert error.message == "jump_url and jump_url_text go together: give both or neither"
    assert error.field == "jump_url_text"
    assert refused(K.REPLY, {"content": "hi", "jump_url_text": "看看"}).field == "jump_url"


@pytest.mark.parametrize(
    ("url", "text", "field", "fragment"),
    [
        ("http://a.example/x", "看看", "jump_url", "https://"),
        (
            "https://a.example/" + "x" * 495,
            "看看",
            "jump_url",
            "513 characters; WeChat Pay accepts at most 512",
        ),
        ("https://a.example/x", "这是一个超过十个字的链接文字", "jump_url_text", "at most 10"),
        ("ftp://a.example/x", "看看", "jump_url", "https://"),
    ],
)
def test_jump_url_rules(url: str, text: str, field: str, fragment: str) -> None:
    error = refused(K.REPLY, {"content": "hi", "jump_url": url, "jump_url_text": text})
    assert error.field == field and fragment in error.message


def test_mini_program_needs_all_three() -> None:
    error = refused(K.REPLY, {"content": "hi", "mini_program_jump_info": {"appid": "wx1", "path": "p"}})
    assert error.field == "mini_program_jump_info.text" and "required" in error.message
    assert (
        refused(K.REPLY, {"content": "hi", "mini_program_jump_info": "wx1"}).field == "mini_program_jump_info"
    )


def test_unknown_parameter_is_refused() -> None:
    error = refused(K.REPLY, {"content": "hi", "response_images": []})
    assert error.field == "response_images" and "does not take response_images" in error.message
    assert refused(K.COMPLETE, {"content": "x"}).field == "content"
    assert actions.validate(K.COMPLETE, {}, OPEN) == {}


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=200), st.characters(min_codepoint=0x10000), st.integers(min_value=0))
def test_never_accepts_a_character_beyond_the_bmp(text: str, astral: str, where: int) -> None:
    position = where % (len(text) + 1)
    content = text[:position] + astral + text[position:]
    with pytest.raises(ActionRefused):
        actions.validate_params(K.REPLY, {"content": content})


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), min_size=1, max_size=200
    ).filter(lambda s: s.strip() != "")
)
def test_accepts_any_short_bmp_text(text: str) -> None:
    out = actions.validate_params(K.REPLY, {"content": text})
    assert out["content"] == text.strip()
    assert actions.validate_params(K.REPLY, out) == out


# -- refunds -----------------------------------------------------------------------------------------------


def test_refund_approve() -> None:
    assert actions.validate(K.REFUND_APPROVE, {}, REFUND) == {}
    out = actions.validate(K.REFUND_APPROVE, {"launch_refund_day": 0, "remark": " 今天退 "}, REFUND)
    assert out == {"launch_refund_day": 0, "remark": "今天退"}
    assert "between 0 (today) and 30" in refused(K.REFUND_APPROVE, {"launch_refund_day": 31}, REFUND).message
    assert refused(K.REFUND_APPROVE, {"launch_refund_day": True}, REFUND).field == "launch_refund_day"
    assert refused(K.REFUND_APPROVE, {"launch_refund_day": "3"}, REFUND).field == "launch_refund_day"
    error = refused(K.REFUND_APPROVE, {"reject_reason": "no"}, REFUND)
    assert error.message.startswith("reject_reason only goes with REJECT") and error.field == "reject_reason"
    assert refused(K.REFUND_APPROVE, {"reject_media": [SHA]}, REFUND).field == "reject_media"
    assert "201 characters" in refused(K.REFUND_APPROVE, {"remark": "x" * 201}, REFUND).message


def test_refund_reject_with_launch_refund_day() -> None:
    error = refused(K.REFUND_REJECT, {"reject_reason": "已发货", "launch_refund_day": 1}, REFUND)
    assert error.message.startswith("launch_refund_day only goes with APPROVE")
    assert error.field == "launch_refund_day"


def test_refund_reject() -> None:
    out = actions.validate(K.REFUND_REJECT, {"reject_reason": "商品已使用", "reject_media": [SHA]}, REFUND)
    assert out == {"reject_reason": "商品已使用", "reject_media": [SHA]}
    assert actions.image_refs(K.REFUND_REJECT, out) == [SHA]
    assert refused(K.REFUND_REJECT, {}, REFUND).message == "reject reason is required"
    error = refused(K.REFUND_REJECT, {"reject_reason": "x" * 201}, REFUND)
    assert error.message == "reject reason is 201 characters; WeChat Pay accepts at most 200"
    error = refused(
        K.REFUND_REJECT, {"reject_reason": "x", "reject_media": [f"{i:064x}" for i in range(5)]}, REFUND
    )
    assert error.message == "5 evidence images attached; WeChat Pay accepts at most 4"
