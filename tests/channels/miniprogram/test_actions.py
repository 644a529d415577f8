"""Action rules: status guard messages, parameter validation, return flow, history check (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from complaintdesk.channels.base import ActionKind, ActionRequest, ComplaintFacts, HistoryEntry
from complaintdesk.channels.miniprogram.actions import (
    Limits,
    applied_in_history,
    image_refs,
    validate,
    validate_params,
)
from complaintdesk.errors import ActionRefused

from .samples import detail

REF = "a" * 64
REPLY = ActionKind.REPLY


def facts(status: int, *, appeal_state: int = 0, bill: dict[str, Any] | None = None) -> ComplaintFacts:
    raw = detail(status=status, appeal_state=appeal_state, return_bill=bill)
    return ComplaintFacts(raw_status=str(status), raw=raw)


def refused(
    params: dict[str, Any], at: ComplaintFacts, *, kind: ActionKind = REPLY, **kw: Any
) -> ActionRefused:
    with pytest.raises(ActionRefused) as info:
        validate(kind, params, at, **kw)
    return info.value


def test_respond_is_normalised() -> None:
    out = validate(
        REPLY,
        {"mp_action": "respond", "agree": True, "content": "  同意退款  ", "images": [REF, REF]},
        facts(201),
    )
    assert out == {"mp_action": "respond", "content": "同意退款", "images": [REF], "agree": 1}
    assert validate(REPLY, out, facts(201)) == out  # idempotent
    refuse = validate(REPLY, {"mp_action": "respond", "agree": 2, "images": [REF]}, facts(201))
    assert refuse == {"mp_action": "respond", "content": "", "images": [REF], "agree": 2}
    assert image_refs(REPLY, refuse) == [REF]


def test_status_guard_explains_what_is_allowed() -> None:
    error = refused({"mp_action": "supply_proof", "content": "凭证"}, facts(201))
    assert error.field == "status"
    assert "cannot supply evidence (补充凭证): it is only possible in status 106, 108" in error.message
    assert "Complaint status: 待处理（商家需在 48 小时内处理） (201)" in error.message
    assert "Allowed now: respond (回应)" in error.message
    closed = refused({"mp_action": "respond", "agree": 1, "content": "x"}, facts(209))
    assert "Allowed now: nothing" in closed.message


def test_appeal_needs_the_open_appeal_state() -> None:
    error = refused({"mp_action": "appeal", "content": "申诉"}, facts(312, appeal_state=402))
    assert "appeal state 401" in error.message and "申诉已超时" in error.message
    ok = validate(REPLY, {"mp_action": "appeal", "content": "申诉"}, facts(312, appeal_state=401))
    assert ok == {"mp_action": "appeal", "content": "申诉", "images": []}


def test_unknown_status_allows_nothing() -> None:
    error = refused({"mp_action": "respond", "agree": 1, "content": "x"}, facts(999))
    assert "not one we know" in error.message


def test_content_or_images_are_required() -> None:
    error = refused({"mp_action": "respond", "agree": 1, "content": "   "}, facts(201))
    assert error.field == "content" and "at least one" in error.message


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        (
            {"mp_action": "reply", "content": "x"},
            "mp_action",
            "mp_action must be one of respond, supply_proof",
        ),
        ({"content": "x"}, "mp_action", "mp_action is required: one of respond"),
        ({"mp_action": "respond", "content": "x"}, "agree", "agree is required: 1 (agree to settle"),
        ({"mp_action": "respond", "content": "x", "agree": 3}, "agree", "2 (refuse"),
        ({"mp_action": "respond", "content": "x", "agree": "1"}, "agree", "agree is required"),
        ({"mp_action": "respond", "agree": 1, "content": 5}, "content", "content must be text, not int"),
        (
            {"mp_action": "respond", "agree": 1, "content": "x" * 11},
            "content",
            "content is 11 characters; we send at most 10",
        ),
        ({"mp_action": "respond", "agree": 1, "images": "abc"}, "images", "must be a list"),
        (
            {"mp_action": "respond", "agree": 1, "images": ["a b"]},
            "images[0]",
            "item 1 is not an image reference",
        ),
        (
            {"mp_action": "respond", "agree": 1, "images": ["1", "2", "3"]},
            "images",
            "3 images attached; we send at most 2",
        ),
        (
            {"mp_action": "respond", "agree": 1, "content": "x", "return_id": 1},
            "return_id",
            "respond does not take",
        ),
        (
            {"mp_action": "respond", "agree": 1, "content": "x", "jump_url": "u"},
            "jump_url",
            "it takes agree, content",
        ),
    ],
)
def test_parameter_refusals(params: dict[str, Any], field: str, text: str) -> None:
    error = refused(params, facts(201), limits=Limits(content_max_chars=10, max_images=2))
    assert error.field == field
    assert text in error.message, error.message


def test_other_action_kinds_are_refused_with_a_pointer() -> None:
    error = refused({}, facts(201), kind=ActionKind.COMPLETE)
    assert error.field == "kind" and "send a reply with mp_action respond" in error.message


def test_supply_refund_outside_the_return_flow() -> None:
    ok = validate(REPLY, {"mp_action": "supply_refund", "content": "已退款", "images": [REF]}, facts(206))
    assert ok == {"mp_action": "supply_refund", "content": "已退款", "images": [REF]}
    error = refused({"mp_action": "supply_refund", "content": "x", "accept_return": True}, facts(206))
    assert error.field == "accept_return" and "only goes with a complaint in the return flow" in error.message


def test_supply_refund_in_the_return_flow() -> None:
    bill = {"returnId": 7001, "waybillId": "SF1", "orderStatus": 4}
    at = facts(309, bill=bill)
    out = validate(REPLY, {"mp_action": "supply_refund", "content": "已收到退货", "accept_return": True}, at)
    assert out == {
        "mp_action": "supply_refund",
        "content": "已收到退货",
        "images": [],
        "accept_return": True,
        "return_id": "7001",
    }
    missing = refused({"mp_action": "supply_refund", "content": "x"}, at)
    assert (
        missing.field == "accept_return" and "say whether you received the returned goods" in missing.message
    )
    wrong = refused(
        {"mp_action": "supply_refund", "content": "x", "accept_return": 0, "return_id": "7002"}, at
    )
    assert (
        wrong.field == "return_id" and "does not match the complaint's return waybill (7001)" in wrong.message
    )
    bad = refused({"mp_action": "supply_refund", "content": "x", "accept_return": "yes"}, at)
    assert bad.field == "accept_return"


def test_supply_refund_waits_for_the_return_waybill() -> None:
    error = refused({"mp_action": "supply_refund", "content": "x"}, facts(308))
    assert "no return waybill" in error.message


def test_validate_params_has_no_status_guard() -> None:
    out = validate_params(REPLY, {"mp_action": "appeal", "content": "x"})
    assert out["mp_action"] == "appeal"


# -- history ----------------------------------------------------------------------------------------------

SENT_AT = datetime(2024, 4, 25, 10, 0, tzinfo=UTC)


def request(params: dict[str, Any]) -> ActionRequest:
    return ActionRequest("a1", REPLY, "1000000123456789", "wx1", params, SENT_AT)


def node(kind: str, minutes: float, text: str = "", **raw: Any) -> HistoryEntry:
    return HistoryEntry(
        f"{kind}-{minutes}", SENT_AT + timedelta(minutes=minutes), kind, "merchant", text=text, raw=raw
    )


def test_applied_in_history_matches_type_time_and_text() -> None:
    respond = request({"mp_action": "respond", "content": "同意退款", "images": [], "agree": 1})
    assert applied_in_history(respond, [node("109", 1, "同意退款")])
    assert applied_in_history(respond, [node("109", -4, "")])  # node without text: type and time suffice
    assert not applied_in_history(respond, [node("109", 1, "别的内容")])
    assert not applied_in_history(respond, [node("109", -6, "同意退款")])  # before the request
    assert not applied_in_history(respond, [node("8", 1, "同意退款")])
    proof = request({"mp_action": "supply_proof", "content": "", "images": [REF]})
    assert applied_in_history(proof, [node("8", 2, "whatever")])
    refund = request({"mp_action": "supply_refund", "content": "x", "images": []})
    assert applied_in_history(refund, [node("110", 0, "x")]) and not applied_in_history(
        refund, [node("109", 0)]
    )


def test_applied_in_history_sees_an_appeal_by_its_appeal_item_type() -> None:
    appeal = request({"mp_action": "appeal", "content": "申诉", "images": []})
    assert applied_in_history(appeal, [node("13", 1, appealItemType=403)])
    assert applied_in_history(appeal, [node("13", 1, appealItemType="118")])
    assert not applied_in_history(appeal, [node("13", 1, appealItemType=401)])
    assert not applied_in_history(appeal, [node("13", -10, appealItemType=403)])
