"""The simulator's state machine and records, without HTTP."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.wechatpay.keys import (
    MerchantCredentials,
    PlatformKeys,
    generate_merchant,
    write_merchant_files,
)
from complaintdesk.sandbox.wechatpay.state import InvalidState, SimulatorState, UnknownComplaint

from .conftest import MCH_A, MCH_B, SP, SUB_1
from .wxsign import decrypt_oaep


def _actions(state: SimulatorState) -> list[tuple[str, str, str]]:
    return [(n.complaint_id, n.action_type, n.mchid) for n in state.notifications]


def test_new_complaint_starts_pending_with_create_entry_and_notification(state: SimulatorState) -> None:
    cid = state.create_complaint(MCH_A)
    assert re.fullmatch(r"\d{27}", cid)
    assert state.complaint(cid)["complaint_state"] == "PENDING"
    [entry] = state.history(cid)
    assert entry["operate_type"] == "USER_CREATE_COMPLAINT"
    assert _actions(state) == [(cid, "CREATE_COMPLAINT", MCH_A)]
    assert state.notifications[0].event_type == "COMPLAINT.CREATE"


def test_user_message_and_merchant_reply(state: SimulatorState) -> None:
    cid = state.create_complaint(MCH_A)
    state.user_message(cid, "还没收到退款", images=2)
    assert state.complaint(cid)["incoming_user_response"] is True
    assert _actions(state)[-1] == (cid, "USER_RESPONSE", MCH_A)
    assert state.notifications[-1].event_type == "COMPLAINT.STATE_CHANGE"
    message = state.history(cid)[-1]
    assert (
        message["operate_type"] == "USER_RESPONSE" and len(message["complaint_media_list"]["media_url"]) == 2
    )
    sent = len(state.notifications)
    state.merchant_reply(cid, "马上处理")
    doc = state.complaint(cid)
    assert doc["complaint_state"] == "PROCESSING" and doc["incoming_user_response"] is False
    assert state.history(cid)[-1]["operate_type"] == "MERCHANT_RESPONSE"
    assert state.history(cid)[-1]["operator"] == "商户"
    assert len(state.notifications) == sent  # WeChat does not notify the merchant's own actions


def test_complete_and_continue(state: SimulatorState) -> None:
    cid = state.create_complaint(MCH_A)
    state.merchant_reply(cid, "已退款")
    sent = len(state.notifications)
    state.complete(cid)
    assert state.complaint(cid)["complaint_state"] == "PROCESSED"
    assert len(state.notifications) == sent
    with pytest.raises(InvalidState):
        state.complete(cid)
    state.continue_complaint(cid, "还是没收到")
    doc = state.complaint(cid)
    assert doc["user_complaint_times"] == 2
    assert doc["complaint_state"] == "PENDING"  # continue_reopens=True by default
    assert state.history(cid)[-1]["operate_type"] == "USER_CONTINUE_COMPLAINT"
    assert _actions(state)[-1] == (cid, "CONTINUE_COMPLAINT", MCH_A)


def test_continue_without_reopen(
    platform: PlatformKeys, clock: ManualClock, merchant_a: MerchantCredentials
) -> None:
    state = SimulatorState(platform=platform, clock=clock, continue_reopens=False)
    state.register_merchant(merchant_a)
    cid = state.create_complaint(MCH_A)
    state.complete(cid)
    state.continue_complaint(cid, "again")
    assert state.complaint(cid)["complaint_state"] == "PROCESSED"


def test_platform_events(state: SimulatorState) -> None:
    cid = state.create_complaint(MCH_A)
    state.platform_message(cid, "请商户尽快处理")
    state.apply_platform_service(cid, "商家未回复", description="三天没有回复")
    assert state.complaint(cid)["in_platform_service"] is True
    applied = state.history(cid)[-1]
    assert applied["user_appy_platform_service_reason"] == "商家未回复"
    assert applied["user_appy_platform_service_reason_description"] == "三天没有回复"
    state.finish_platform_service(cid)
    assert state.complaint(cid)["in_platform_service"] is False
    assert [a for _, a, _ in _actions(state)] == [
        "CREATE_COMPLAINT",
        "RESPONSE_BY_PLATFORM",
        "USER_APPLY_PLATFORM_SERVICE",
        "PLATFORM_SERVICE_FINISHED",
    ]
    assert [h["operator"] for h in state.history(cid)] == ["投诉人", "微信支付客服", "投诉人", "微信支付客服"]


def test_sub_merchant_complaints_notify_the_provider(
    state: SimulatorState, provider: MerchantCredentials
) -> None:
    cid = state.create_complaint(SUB_1, payer_phone="13600000000")
    assert _actions(state) == [(cid, "CREATE_COMPLAINT", SP)]
    assert decrypt_oaep(provider.private_key_pem, state.complaint(cid)["payer_phone"]) == "13600000000"


def test_no_notification_without_url_or_when_asked(state: SimulatorState) -> None:
    state.set_notify_url(MCH_B, None)
    state.create_complaint(MCH_B)
    state.create_complaint(MCH_A, notify=False)
    assert state.notifications == []
    assert state.stats.unrouted_notifications == 1


def test_invalid_inputs(state: SimulatorState) -> None:
    with pytest.raises(ValueError):
        state.create_complaint("1234567890")
    with pytest.raises(ValueError):
        state.create_complaint(MCH_A, problem_type="OTHERS", apply_refund_amount_fen=100)
    with pytest.raises(ValueError):
        state.create_complaint(MCH_A, amount_fen=100, apply_refund_amount_fen=200)
    with pytest.raises(UnknownComplaint):
        state.user_message("nope", "hi")


def test_same_seed_same_ids(
    platform: PlatformKeys, clock: ManualClock, merchant_a: MerchantCredentials
) -> None:
    runs = []
    for _ in range(2):
        state = SimulatorState(platform=platform, clock=clock, seed=42)
        state.register_merchant(merchant_a)
        runs.append([state.create_complaint(MCH_A, images=1) for _ in range(3)])
    assert runs[0] == runs[1] and len(set(runs[0])) == 3


def test_generated_merchant_credentials(tmp_path: Path, platform: PlatformKeys) -> None:
    merchant = generate_merchant("1900009999")
    cert = x509.load_pem_x509_certificate(merchant.certificate_pem)
    assert format(cert.serial_number, "X") == merchant.serial_no and len(merchant.serial_no) == 40
    assert re.fullmatch(r"[A-Za-z0-9]{32}", merchant.apiv3_key)
    key = serialization.load_pem_private_key(merchant.private_key_pem, password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert merchant.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert re.fullmatch(r"PUB_KEY_ID_\d{32}", platform.public_key_id)
    files = write_merchant_files(tmp_path / "keys", merchant, platform)
    assert set(files) == {"private_key", "certificate", "apiv3_key", "platform_certificate", "public_key"}
    assert files["apiv3_key"].read_text() == merchant.apiv3_key
    assert files["public_key"].read_bytes() == platform.public_key_pem
    for name in ("private_key", "apiv3_key"):
        assert stat.S_IMODE(os.stat(files[name]).st_mode) == 0o600
