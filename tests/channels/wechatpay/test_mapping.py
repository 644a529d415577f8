"""Tier 1: mapping WeChat documents to neutral snapshots."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaintdesk.channels.base import ComplaintSnapshot, UnifiedStatus
from complaintdesk.channels.base import HistoryEntry as NeutralEntry
from complaintdesk.channels.wechatpay.crypto import decrypt_oaep
from complaintdesk.channels.wechatpay.mapping import (
    ACTION_TYPE_LABELS,
    KNOWN_OPERATE_TYPES,
    OPERATE_TYPE_LABELS,
    PROBLEM_TYPE_LABELS,
    STATUS_LABELS,
    actor_for,
    to_history_entry,
    to_snapshot,
)
from complaintdesk.channels.wechatpay.models import Complaint
from complaintdesk.channels.wechatpay.webhook import KNOWN_ACTION_TYPES
from complaintdesk.errors import ChannelError

from .keys import oaep_encrypt, rsa_key
from .samples import complaint_doc, history_doc


@pytest.mark.parametrize(
    ("state", "in_platform", "expected"),
    [
        ("PENDING", None, UnifiedStatus.OPEN),
        ("PROCESSING", False, UnifiedStatus.RESPONDED),
        ("PROCESSING", True, UnifiedStatus.IN_PLATFORM),
        ("PROCESSED", True, UnifiedStatus.RESOLVED),
        ("SOMETHING_NEW", None, UnifiedStatus.UNKNOWN),
    ],
)
def test_unified_status(state: str, in_platform: bool | None, expected: UnifiedStatus) -> None:
    snapshot = to_snapshot(complaint_doc(complaint_state=state, in_platform_service=in_platform))
    assert snapshot.status is expected
    assert snapshot.raw_status == state
    assert (f"complaint_state:{state}" in snapshot.unknown_values) is (expected is UnifiedStatus.UNKNOWN)


@pytest.mark.parametrize(
    ("operate_type", "actor", "known"),
    [
        ("USER_CREATE_COMPLAINT", "user", True),
        ("USER_RESPONSE", "user", True),
        ("USER_CREATE_COMPLAINT_SYSTEM_MESSAGE", "system", True),
        ("MERCHANT_RESPONSE", "merchant", True),
        ("MERCHANT_REFUSE_RERUND", "merchant", True),
        ("PLATFORM_RESPONSE", "platform", True),
        ("PLATFORM_SERVICE_FINISHED", "platform", True),
        ("RESPONSE_BY_PLATFORM", "platform", False),
        ("SERVICE_ORDER_CANCEL", "system", True),
        ("COMPLAINT_REFUND_RECEIVED_SYSTEM_MESSAGE", "system", True),
        ("USER_DID_SOMETHING_NEW", "user", False),
        ("ROBOT_RESPONSE", "system", False),
        ("", "system", False),
    ],
)
def test_actor_for(operate_type: str, actor: str, known: bool) -> None:
    assert actor_for(operate_type) == (actor, known)


def test_snapshot_fields() -> None:
    doc = complaint_doc(
        complaint_order_info=[
            {"transaction_id": "t1", "out_trade_no": "o1", "amount": 300},
            {"transaction_id": "t2", "out_trade_no": "o2", "amount": 200},
        ],
        incoming_user_response=True,
    )
    snapshot = to_snapshot(doc)
    assert snapshot.channel == "wechatpay"
    assert snapshot.external_id == "200201820200101080076610000"
    assert snapshot.merchant_id == "1900012181"
    assert snapshot.complained_at == datetime(2015, 5, 20, 5, 29, 35, 120000, tzinfo=UTC)
    assert snapshot.amount_fen == 500
    assert snapshot.refund_amount_fen == 150
    assert [o.transaction_id for o in snapshot.orders] == ["t1", "t2"]
    assert snapshot.refund_requested and snapshot.immediate_service and snapshot.fully_refunded
    assert snapshot.user_message_waiting and not snapshot.platform_assistance
    assert snapshot.media_urls == ["https://api.mch.weixin.qq.com/v3/merchant-service/images/abc%2Fdef%3D"]
    assert snapshot.history is None
    assert snapshot.unknown_values == []
    assert snapshot.payer_openid == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def test_no_orders_means_no_amount() -> None:
    assert to_snapshot(complaint_doc(complaint_order_info=[])).amount_fen is None


def test_phone_is_decrypted() -> None:
    key = rsa_key("merchant")
    doc = complaint_doc(payer_phone=oaep_encrypt(key, "13800138000"))
    snapshot = to_snapshot(doc, decrypt_phone=lambda c: decrypt_oaep(key, c))
    assert snapshot.payer_phone == "13800138000"
    assert "payer_phone" not in snapshot.raw


def test_phone_that_fails_to_decrypt_is_noted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    ciphertext = oaep_encrypt(rsa_key("other"), "13800138000")
    caplog.set_level(logging.DEBUG)
    snapshot = to_snapshot(
        complaint_doc(payer_phone=ciphertext), decrypt_phone=lambda c: decrypt_oaep(rsa_key("merchant"), c)
    )
    assert snapshot.payer_phone is None
    assert "payer_phone:undecryptable" in snapshot.unknown_values
    assert ciphertext not in caplog.text and "13800138000" not in caplog.text
    assert ciphertext not in repr(snapshot)


def test_phone_is_decrypted_when_first_read_and_only_once() -> None:
    key = rsa_key("merchant")
    calls: list[str] = []

    def decrypt(ciphertext: str) -> str:
        calls.append(ciphertext)
        return decrypt_oaep(key, ciphertext)

    ciphertext = oaep_encrypt(key, "13800138000")
    snapshot = to_snapshot(complaint_doc(payer_phone=ciphertext), decrypt_phone=decrypt)
    assert calls == []  # mapping costs no RSA decryption: the core reads the phone only to store it
    assert "payer_phone" not in snapshot.raw and ciphertext not in repr(snapshot.raw)
    assert snapshot.payer_phone == "13800138000"
    assert snapshot.payer_phone == "13800138000"
    assert calls == [ciphertext]


def test_undecryptable_phone_is_noted_whichever_field_is_read_first() -> None:
    ciphertext = oaep_encrypt(rsa_key("other"), "13800138000")
    snapshot = to_snapshot(
        complaint_doc(payer_phone=ciphertext), decrypt_phone=lambda c: decrypt_oaep(rsa_key("merchant"), c)
    )
    assert snapshot.unknown_values.count("payer_phone:undecryptable") == 1
    assert snapshot.payer_phone is None
    assert snapshot.unknown_values.count("payer_phone:undecryptable") == 1


def test_phone_assigned_to_a_snapshot_wins_over_the_deferred_ciphertext() -> None:
    def refuse(_ciphertext: str) -> str:
        raise AssertionError("must not decrypt")

    snapshot = to_snapshot(complaint_doc(payer_phone="ENC"), decrypt_phone=refuse)
    snapshot.payer_phone = "13900000000"
    assert snapshot.payer_phone == "13900000000"
    assert "payer_phone:undecryptable" not in snapshot.unknown_values


def test_history_mapping() -> None:
    entry = to_history_entry(history_doc())
    assert entry.external_id == "300285320210322170000071077"
    assert entry.actor == "user" and entry.known
    assert entry.actor_label == "投诉人"
    assert entry.text == "已与用户沟通解决"
    assert entry.media_urls == (
        "https://qpic.cn/xxx/0",
        "https://api.mch.weixin.qq.com/v3/merchant-service/images/xyz",
    )
    assert entry.occurred_at.tzinfo is not None


def test_history_rich_message_text_and_unknown_type_in_snapshot() -> None:
    rich = {
        "blocks": [{"type": "TEXT", "text": {"text": "第一行"}}, {"type": "IMAGE"}, {"text": {"text": "二"}}]
    }
    entries: list[Any] = [
        history_doc(operate_type="MERCHANT_RESPONSE", operate_details="", normal_message=rich),
        history_doc(log_id="2", operate_type="BOT_RESPONSE"),
        NeutralEntry(external_id="3", occurred_at=datetime(2024, 1, 1, tzinfo=UTC), kind="X", actor="system"),
    ]
    snapshot = to_snapshot(complaint_doc(), history=entries)
    assert snapshot.history is not None
    assert snapshot.history[0].text == "第一行\n二"
    assert snapshot.history[1].known is False
    assert snapshot.history[2].external_id == "3"
    assert "operate_type:BOT_RESPONSE" in snapshot.unknown_values


def test_missing_time_or_id_is_a_channel_error() -> None:
    with pytest.raises(ChannelError, match="complaint_time"):
        to_snapshot(complaint_doc(complaint_time=None))
    with pytest.raises(ChannelError, match="complaint_id"):
        to_snapshot({"complaint_time": "2024-01-01T00:00:00+08:00"})
    with pytest.raises(ChannelError, match="operate_time"):
        to_history_entry({"log_id": "1"})


def test_accepts_model_instances() -> None:
    assert to_snapshot(Complaint.from_raw(complaint_doc())).external_id == "200201820200101080076610000"


def test_labels_cover_enums() -> None:
    assert set(ACTION_TYPE_LABELS) == KNOWN_ACTION_TYPES
    assert set(OPERATE_TYPE_LABELS) == KNOWN_OPERATE_TYPES
    assert set(STATUS_LABELS) == {"PENDING", "PROCESSING", "PROCESSED"}
    assert set(PROBLEM_TYPE_LABELS) == {"REFUND", "SERVICE_NOT_WORK", "OTHERS"}
    assert {"USER_COMFIRM_COMPLAINT", "MERCHANT_REFUSE_RERUND", "USER_CLICK_RESPONSE"} <= KNOWN_OPERATE_TYPES


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
complaint_keys = st.sampled_from(
    sorted(
        set(complaint_doc()) - {"complaint_id", "complaint_time"} | {"payer_phone", "additional_info", "x"}
    )
)
history_keys = st.sampled_from(
    sorted(set(history_doc()) - {"log_id", "operate_time"} | {"normal_message", "y"})
)


@settings(max_examples=300, deadline=None)
@given(
    extra=st.dictionaries(complaint_keys, json_values, max_size=12),
    history=st.lists(st.dictionaries(history_keys, json_values, max_size=8), max_size=3),
    complaint_id=st.text(min_size=1, max_size=64) | st.integers(min_value=0),
)
def test_mapper_never_crashes_on_drifting_documents(
    extra: dict[str, Any], history: list[dict[str, Any]], complaint_id: object
) -> None:
    doc = {"complaint_id": complaint_id, "complaint_time": "2024-02-01T10:00:00+08:00", **extra}
    entries = [
        {"log_id": f"l{i}", "operate_time": "2024-02-01T11:00:00+08:00", **h} for i, h in enumerate(history)
    ]
    snapshot = to_snapshot(doc, history=entries, decrypt_phone=lambda c: "1" if c == "ok" else c[1000])
    assert snapshot.external_id == str(complaint_id)
    assert isinstance(snapshot.status, UnifiedStatus)
    assert snapshot.history is not None and len(snapshot.history) == len(entries)
    assert all(isinstance(url, str) for url in snapshot.media_urls)
    assert "payer_phone" not in snapshot.raw


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(complaint_keys.filter(lambda k: k != "payer_phone"), json_values, max_size=12))
def test_snapshot_values_survive_a_round_trip(extra: dict[str, Any]) -> None:
    """``raw`` keeps everything needed to rebuild the snapshot (payer_phone is dropped on purpose)."""
    doc = {"complaint_id": "c1", "complaint_time": "2024-02-01T10:00:00+08:00", **extra}
    first = to_snapshot(doc)
    again = to_snapshot(first.raw)
    fields = (
        "status",
        "amount_fen",
        "media_urls",
        "orders",
        "refund_requested",
        "complaint_times",
        "unknown_values",
    )
    assert [getattr(again, f) for f in fields] == [getattr(first, f) for f in fields]


def test_a_snapshot_never_prints_the_plaintext_phone() -> None:
    snapshot = ComplaintSnapshot(
        channel="wechatpay",
        external_id="200201820261122",
        merchant_id="1900000001",
        raw_status="PENDING",
        status=UnifiedStatus.OPEN,
        complained_at=datetime(2026, 11, 22, tzinfo=UTC),
        payer_phone="13812345678",
    )
    assert "13812345678" not in repr(snapshot) and "1234" not in str(snapshot)
