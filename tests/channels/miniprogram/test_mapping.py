"""Detail → snapshot: every status of the spec's table, needs-action, deadline, history, tolerant parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from complaintdesk.channels.base import ComplaintFacts, UnifiedStatus
from complaintdesk.channels.miniprogram.actions import allowed_actions, allowed_mp_actions
from complaintdesk.channels.miniprogram.enums import (
    APPEAL_STATES,
    COMPLAINT_TYPES,
    ITEM_TYPES,
    RETURN_ORDER_STATUSES,
    STATUSES,
    label,
)
from complaintdesk.channels.miniprogram.mapping import to_history, to_snapshot
from complaintdesk.errors import ChannelError

from .samples import detail
from .wxref import APPID

U = UnifiedStatus
BILL = {"returnId": "7001", "waybillId": "SF123", "deliveryName": "顺丰", "orderStatus": 2}

# status → (unified status, actions without a return bill, actions with one) — written from spec A.4
STATUS_TABLE: dict[int, tuple[UnifiedStatus, set[str], set[str]]] = {
    101: (U.IN_PLATFORM, set(), set()),
    102: (U.CLOSED, set(), set()),
    103: (U.IN_PLATFORM, set(), set()),
    104: (U.IN_PLATFORM, set(), set()),
    105: (U.IN_PLATFORM, set(), set()),
    106: (U.IN_PLATFORM, {"supply_proof"}, {"supply_proof"}),
    107: (U.IN_PLATFORM, set(), set()),
    108: (U.IN_PLATFORM, {"supply_proof"}, {"supply_proof"}),
    109: (U.IN_PLATFORM, set(), set()),
    112: (U.RESOLVED, set(), set()),
    115: (U.RESOLVED, set(), set()),
    116: (U.RESOLVED, set(), set()),
    201: (U.OPEN, {"respond"}, {"respond"}),
    202: (U.RESPONDED, set(), set()),
    203: (U.RESPONDED, set(), set()),
    204: (U.RESPONDED, set(), set()),
    205: (U.RESOLVED, set(), set()),
    206: (U.OPEN, {"supply_refund"}, {"supply_refund"}),
    207: (U.IN_PLATFORM, set(), set()),
    208: (U.IN_PLATFORM, set(), set()),
    209: (U.CLOSED, set(), set()),
    305: (U.IN_PLATFORM, set(), set()),
    307: (U.IN_PLATFORM, set(), set()),
    308: (U.RESPONDED, set(), {"supply_refund"}),
    309: (U.RESPONDED, set(), {"supply_refund"}),
    310: (U.IN_PLATFORM, set(), set()),
    311: (U.IN_PLATFORM, set(), set()),
    312: (U.RESOLVED, set(), set()),
}


def test_the_table_covers_every_documented_status() -> None:
    assert set(STATUS_TABLE) == set(STATUSES)
    assert len(STATUS_TABLE) == 28


@pytest.mark.parametrize("status", sorted(STATUS_TABLE))
def test_every_status_maps_to_a_unified_status_and_allowed_actions(status: int) -> None:
    unified, plain, with_bill = STATUS_TABLE[status]
    snapshot = to_snapshot(detail(status=status), appid=APPID)
    assert snapshot.status is unified
    assert snapshot.raw_status == str(snapshot.raw["complaintOrder"]["status"]) == str(status)
    assert set(snapshot.raw["needs_action"]) == plain
    assert not [v for v in snapshot.unknown_values if v.startswith("status:")]
    billed = to_snapshot(detail(status=status, return_bill=BILL), appid=APPID)
    assert set(billed.raw["needs_action"]) == with_bill
    facts = ComplaintFacts(raw_status=str(status), raw=billed.raw)
    assert allowed_mp_actions(facts) == with_bill
    assert bool(allowed_actions(facts)) == bool(with_bill)
    appeal = to_snapshot(detail(status=status, appeal_state=401), appid=APPID)
    assert set(appeal.raw["needs_action"]) == plain | {"appeal"}


@pytest.mark.parametrize("appeal_state", [0, 402, 403, 117, 118, None])
def test_appeal_only_while_the_platform_waits_for_it(appeal_state: int | None) -> None:
    snapshot = to_snapshot(detail(status=312, appeal_state=appeal_state), appid=APPID)
    assert snapshot.raw["needs_action"] == []


def test_snapshot_fields() -> None:
    snapshot = to_snapshot(detail(), appid=APPID)
    assert snapshot.channel == "miniprogram"
    assert (snapshot.external_id, snapshot.merchant_id) == ("1000000123456789", APPID)
    assert snapshot.complained_at == datetime(2024, 4, 25, 9, 6, 40, tzinfo=UTC)
    assert snapshot.deadline_at == datetime.fromtimestamp(1714208800, tz=UTC)
    assert snapshot.raw["deadline_at"] == "2024-04-27T09:06:40+00:00"
    assert snapshot.detail == "货不对板"
    assert (snapshot.problem_type, snapshot.problem_description) == ("641", "商品问题：货不对板")
    assert snapshot.amount_fen == 12800
    assert [(o.transaction_id, o.out_trade_no, o.amount_fen) for o in snapshot.orders] == [
        ("4200001234202404250000000001", "MP20240425001", 12800)
    ]
    assert snapshot.payer_phone == "13812345678" and snapshot.payer_openid == "oUser123"
    assert snapshot.media_urls == ["https://mmbiz.qpic.cn/a.jpg"]
    assert snapshot.user_message_waiting  # the last node is the user's message
    assert not snapshot.refund_requested and not snapshot.platform_assistance
    assert snapshot.unknown_values == []


def test_phone_numbers_are_not_kept_in_raw() -> None:
    snapshot = to_snapshot(detail(), appid=APPID)
    text = repr(snapshot.raw) + repr([entry.raw for entry in snapshot.history or []])
    assert "13812345678" not in text and "phoneNumber" not in text
    assert "errcode" not in snapshot.raw


def test_history_comes_from_item() -> None:
    doc = detail()
    doc["item"].append({"itemType": 109, "time": 1714036200, "content": "已同意退款", "nickName": "商家"})
    doc["item"].append({"itemType": 31, "time": 1714036300, "content": "", "blameResult": 0})
    doc["item"].append({"itemType": 777, "time": 1714036400})
    snapshot = to_snapshot(doc, appid=APPID)
    history = snapshot.history or []
    assert [(e.kind, e.actor, e.known) for e in history] == [
        ("1", "user", True),
        ("2", "user", True),
        ("109", "merchant", True),
        ("31", "platform", True),
        ("777", "system", False),
    ]
    assert history[0].media_urls == ("https://mmbiz.qpic.cn/a.jpg",)
    assert history[2].actor_label == "商家" and history[2].text == "已同意退款"
    assert history[3].raw["blameResult"] == 0
    assert "itemType:777" in snapshot.unknown_values
    assert not snapshot.user_message_waiting  # the merchant answered after the user
    assert len({e.external_id for e in history}) == len(history)
    assert [e.external_id for e in to_history(doc)] == [e.external_id for e in history]  # stable


def test_identical_nodes_get_distinct_ids() -> None:
    doc = detail()
    doc["item"] = [{"itemType": 2, "time": 1714036100, "content": "同样"}] * 2
    ids = [entry.external_id for entry in to_history(doc)]
    assert len(set(ids)) == 2


def test_return_bill_and_flags() -> None:
    snapshot = to_snapshot(detail(status=309, return_bill=BILL), appid=APPID)
    assert snapshot.raw["returnBill"] == BILL
    assert snapshot.refund_requested
    assert to_snapshot(detail(status=106), appid=APPID).platform_assistance


def test_tolerant_shapes() -> None:
    doc = detail()
    order = doc["complaintOrder"]
    order["openId"] = order.pop("openid")
    order["totalCostStr"] = order.pop("totalCost")
    order["status"] = "201"
    order["createTime"] = "1714036000"
    order["complaintOrderId"] = 1000000123456789
    order["item"] = {"itemType": "2", "time": "1714036100", "content": "nested item", "mediaIdList": "u1,u2"}
    del doc["item"]
    order["surprise"] = {"new": "field"}
    order["payTime"] = "yesterday"
    snapshot = to_snapshot(doc, appid=APPID)
    assert snapshot.external_id == "1000000123456789"
    assert snapshot.payer_openid == "oUser123" and snapshot.amount_fen == 12800
    assert snapshot.status is U.OPEN
    history = snapshot.history or []
    assert [(e.kind, e.text, e.media_urls) for e in history] == [("2", "nested item", ("u1", "u2"))]
    assert "drift:ComplaintOrder.pay_time" in snapshot.unknown_values
    assert snapshot.raw["complaintOrder"]["surprise"] == {"new": "field"}


def test_yuan_amounts_are_taken_as_yuan() -> None:
    assert to_snapshot(detail(totalCost="128.5"), appid=APPID).amount_fen == 12850


def test_unknown_codes_are_kept_and_flagged() -> None:
    doc = detail(status=999, appeal_state=404, type=123456, return_bill=BILL | {"orderStatus": 42})
    snapshot = to_snapshot(doc, appid=APPID)
    assert snapshot.status is U.UNKNOWN and snapshot.raw_status == "999"
    assert snapshot.raw["needs_action"] == []
    assert {"status:999", "appealState:404", "type:123456", "returnBill.orderStatus:42"} <= set(
        snapshot.unknown_values
    )
    assert snapshot.problem_type == "123456" and snapshot.problem_description == ""


def test_no_deadline_when_expire_time_is_zero() -> None:
    snapshot = to_snapshot(detail(expireTime=0), appid=APPID)
    assert snapshot.deadline_at is None and snapshot.raw["deadline_at"] is None


def test_missing_id_or_creation_time_is_an_error() -> None:
    doc = detail()
    del doc["complaintOrder"]["complaintOrderId"]
    with pytest.raises(ChannelError, match="complaintOrder"):
        to_snapshot(doc, appid=APPID)
    with pytest.raises(ChannelError, match="createTime"):
        to_snapshot(detail(createTime=0), appid=APPID)


def test_labels_in_both_locales_and_raw_for_unknown_codes() -> None:
    assert label(STATUSES, 201).startswith("待处理")
    assert label(STATUSES, "201", "en") == "Pending merchant (48 h)"
    assert label(STATUSES, 999) == "999"
    assert label(STATUSES, "abc") == "abc"
    assert label(COMPLAINT_TYPES, 610003, "en") == "Content cannot be played"
    assert label(APPEAL_STATES, 401, "en").startswith("Waiting for the merchant's appeal")
    assert label(ITEM_TYPES, 118) == "商责自动赔付"
    assert label(RETURN_ORDER_STATUSES, 99, "en") == "Unconfirmed"
    for table in (STATUSES, COMPLAINT_TYPES, APPEAL_STATES, ITEM_TYPES, RETURN_ORDER_STATUSES):
        assert all(entry.zh and entry.en for entry in table.values())
    assert len(COMPLAINT_TYPES) == 46 and len(ITEM_TYPES) == 28 and len(RETURN_ORDER_STATUSES) == 16
