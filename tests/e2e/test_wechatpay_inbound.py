"""Notifications from the simulator through our webhook, inbox and processing, into complaints."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tests.e2e.harness import Harness

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.sandbox.wechatpay import seed
from complaintdesk.sandbox.wechatpay.model import Notification
from complaintdesk.sandbox.wechatpay.notifier import notification_body, notification_headers

pytestmark = pytest.mark.anyio
URL = "/webhooks/wechatpay/shop"


def _one_notification(wx: Harness) -> tuple[bytes, dict[str, str]]:
    complaint_id = wx.state.create_complaint(wx.shop.mchid, detail="没有收到商品", notify=False)
    n = Notification(
        id="EV-1",
        complaint_id=complaint_id,
        action_type="CREATE_COMPLAINT",
        mchid=wx.shop.mchid,
        create_time=wx.state.now(),
    )
    body = notification_body(wx.state, n)
    return body, notification_headers(wx.state, body)


async def test_seeded_complaints_arrive_with_full_history_and_masked_phone(wx: Harness) -> None:
    ids = seed(wx.state, wx.shop.mchid, count=12, days=5)
    await wx.deliver()
    assert await wx.process() > 0
    stored = wx.complaints()
    assert set(stored) == set(ids)
    for complaint_id, complaint in stored.items():
        upstream = wx.state.complaint(complaint_id)
        assert complaint.raw_status == upstream["complaint_state"]
        assert complaint.announced and complaint.discovered_by == "notification"
        history = wx.state.history(complaint_id)
        entries = wx.timeline(complaint_id)
        assert [e.dedupe_key for e in entries] == [f"h:{h['log_id']}" for h in history] or len(
            entries
        ) == len(history)
        assert {e.dedupe_key for e in entries} == {f"h:{h['log_id']}" for h in history}
        if "payer_phone" in upstream:
            assert complaint.payer_phone_masked and "****" in complaint.payer_phone_masked
            assert (
                wx.ctx.cipher.decrypt(complaint.payer_phone_enc or "")[-4:]
                == complaint.payer_phone_masked[-4:]
            )
        assert "payer_phone" not in complaint.raw


async def test_the_same_notification_delivered_concurrently_is_stored_once(wx: Harness) -> None:
    body, headers = _one_notification(wx)
    answers = await asyncio.gather(*(wx.desk.post(URL, content=body, headers=headers) for _ in range(40)))
    assert {a.status_code for a in answers} == {204}
    assert wx.count(InboxEvent) == 1
    await wx.process()
    assert wx.count(Complaint) == 1
    await wx.process()  # processing again changes nothing
    assert wx.count(Complaint) == 1


@pytest.mark.parametrize(
    ("mutate", "status", "fragment"),
    [
        (lambda b, h: (b.replace(b'"EV-1"', b'"EV-2"'), h), 401, "signature"),
        (lambda b, h: (b, {**h, "Wechatpay-Serial": "ABCDEF0123"}), 401, "serial"),
        (
            lambda b, h: (b, {**h, "Wechatpay-Timestamp": str(int(h["Wechatpay-Timestamp"]) - 400)}),
            401,
            "timestamp",
        ),
        (
            lambda b, h: (b, {**h, "Wechatpay-Timestamp": str(int(h["Wechatpay-Timestamp"]) + 400)}),
            401,
            "timestamp",
        ),
        (
            lambda b, h: (b, {**h, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + h["Wechatpay-Signature"]}),
            401,
            "probe",
        ),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "Wechatpay-Nonce"}), 400, "Wechatpay-Nonce"),
    ],
    ids=["forged-body", "wrong-serial", "stale", "future", "signtest", "missing-header"],
)
async def test_refused_notifications_are_answered_fail_and_stored_nowhere(
    wx: Harness, mutate, status, fragment
) -> None:  # type: ignore[no-untyped-def]
    body, headers = mutate(*_one_notification(wx))
    answer = await wx.desk.post(URL, content=body, headers=headers)
    assert answer.status_code == status
    assert answer.json()["code"] == "FAIL"
    assert fragment.lower() in answer.json()["message"].lower()
    assert wx.count(InboxEvent) == 0
    await wx.process()
    assert wx.count(Complaint) == 0


async def test_wrong_apiv3_key_tampered_ciphertext_and_bad_json_are_refused(wx: Harness) -> None:
    body, _ = _one_notification(wx)
    document = json.loads(body)
    nonce = "abcdefghijkl"
    sealed = AESGCM(b"W" * 32).encrypt(
        nonce.encode(), b'{"complaint_id":"1","action_type":"USER_RESPONSE"}', b"complaint"
    )
    other_key = json.dumps({**document, "resource": {**document["resource"], "nonce": nonce,
                            "ciphertext": base64.b64encode(sealed).decode()}}).encode()  # fmt: skip
    answer = await wx.desk.post(URL, content=other_key, headers=notification_headers(wx.state, other_key))
    assert answer.status_code == 400 and "APIv3" in answer.json()["message"]
    ciphertext = document["resource"]["ciphertext"]
    document["resource"]["ciphertext"] = ("A" if ciphertext[0] != "A" else "B") + ciphertext[1:]
    tampered = json.dumps(document).encode()
    answer = await wx.desk.post(URL, content=tampered, headers=notification_headers(wx.state, tampered))
    assert answer.status_code == 400 and "APIv3" in answer.json()["message"]
    broken = b'{"id": "EV-9", "resource": '
    answer = await wx.desk.post(URL, content=broken, headers=notification_headers(wx.state, broken))
    assert answer.status_code == 400 and answer.json()["code"] == "FAIL"
    assert wx.count(InboxEvent) == 0


async def test_unknown_account_and_oversized_body(wx: Harness) -> None:
    body, headers = _one_notification(wx)
    answer = await wx.desk.post("/webhooks/wechatpay/nobody", content=body, headers=headers)
    assert answer.status_code == 404 and answer.json()["code"] == "FAIL"
    huge = b"{" + b" " * (wx.settings.max_body_bytes + 1) + b"}"
    answer = await wx.desk.post(URL, content=huge, headers=notification_headers(wx.state, huge))
    assert answer.status_code == 413
    assert wx.count(InboxEvent) == 0


async def test_unknown_action_type_is_stored_flagged_and_processed(wx: Harness) -> None:
    complaint_id = wx.state.create_complaint(wx.shop.mchid, notify=False)
    n = Notification(
        id="EV-NEW",
        complaint_id=complaint_id,
        action_type="SOMETHING_NEW",
        mchid=wx.shop.mchid,
        create_time=wx.state.now(),
    )
    body = notification_body(wx.state, n)
    answer = await wx.desk.post(URL, content=body, headers=notification_headers(wx.state, body))
    assert answer.status_code == 204
    await wx.process()
    notes = wx.timeline(complaint_id, source="notification")
    assert [(e.kind, e.known) for e in notes] == [("SOMETHING_NEW", False)]
    assert wx.count(Complaint) == 1


async def test_service_provider_notifications_route_to_sub_merchants(wx: Harness) -> None:
    ids = [
        wx.state.create_complaint(mchid, detail="服务商子商户投诉")
        for mchid in ("1900000101", "1900000102", "1900000101")
    ]
    await wx.deliver()
    await wx.process()
    stored = wx.complaints()
    with wx.ctx.session() as s:
        owners = {cid: s.get(MerchantAccount, stored[cid].merchant_account_id) for cid in ids}
        assert {cid: (o.mchid, o.kind) for cid, o in owners.items() if o} == {
            ids[0]: ("1900000101", "sub_merchant"),
            ids[1]: ("1900000102", "sub_merchant"),
            ids[2]: ("1900000101", "sub_merchant"),
        }
        assert owners[ids[0]].id == owners[ids[2]].id  # type: ignore[union-attr]


async def test_a_failing_upstream_keeps_the_event_for_retry(wx: Harness) -> None:
    wx.state.create_complaint(wx.shop.mchid)
    await wx.deliver()
    wx.state.faults.fail_next("detail", status=500, times=10)
    await wx.process()
    assert wx.count(Complaint) == 0
    with wx.ctx.session() as s:
        event = s.query(InboxEvent).one()
        assert event.status == "pending" and "SYSTEM_ERROR" in event.last_error and event.next_attempt_at
