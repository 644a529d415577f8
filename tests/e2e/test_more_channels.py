"""Mini Program and Huishouqian end to end: simulator pushes → webhook → inbox → complaints → actions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.e2e.harness_channels import ChannelsHarness, build_channels
from tests.e2e.test_api import png, token

from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.jobs.dispatch import dispatch_actions
from complaintdesk.jobs.scheduled import sync_account
from complaintdesk.sandbox import huishouqian as hsq
from complaintdesk.sandbox import miniprogram as mp
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def ch(settings: Settings, tmp_path: Path) -> AsyncIterator[ChannelsHarness]:
    harness = await build_channels(settings, tmp_path)
    yield harness
    await harness.aclose()


async def _drain_actions(ch: ChannelsHarness) -> None:
    for _ in range(50):
        if not await dispatch_actions(ch.ctx):
            return
    raise AssertionError("actions still being dispatched")


async def test_mini_program_pushes_become_complaints_with_deadlines(ch: ChannelsHarness) -> None:
    ids = mp.seed(ch.mp_state, ch.mp_creds.appid, count=6, days=2)
    await ch.mp_notifier.deliver_pending()
    await ch.process()
    stored = ch.complaints("miniprogram")
    assert set(ids) <= set(stored)
    pending = [c for c in stored.values() if c.raw_status == "201"]
    for complaint in pending:
        assert complaint.deadline_at is not None and complaint.status == "open"
    assert all(c.announced for c in stored.values())


async def test_mini_program_url_check_and_tampered_push(ch: ChannelsHarness) -> None:
    assert await ch.mp_notifier.verify_url(ch.mp_creds.appid)
    with ch.ctx.session() as s:
        before = s.query(InboxEvent).count()
    answer = await ch.desk.post(
        "/webhooks/miniprogram/mp?signature=0&timestamp=1&nonce=2&encrypt_type=aes&msg_signature=3",
        content=b'{"ToUserName":"gh_x","Encrypt":"AAAA"}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code in (400, 401)
    with ch.ctx.session() as s:
        assert s.query(InboxEvent).count() == before


async def test_mini_program_respond_action_reaches_the_simulator(ch: ChannelsHarness) -> None:
    complaint_id = ch.mp_state.create_complaint(ch.mp_creds.appid)
    await ch.mp_notifier.deliver_pending()
    await ch.process()
    stored = ch.complaints("miniprogram")[complaint_id]
    headers = token(ch, "ops", all_accounts=True)  # type: ignore[arg-type]
    detail = (await ch.desk.get(f"/api/v1/complaints/{stored.id}", headers=headers)).json()
    assert "reply" in detail["allowed_actions"]
    body = {
        "kind": "reply",
        "params": {"mp_action": "respond", "agree": 1, "content": "同意和解，已安排退款"},
    }
    answer = await ch.desk.post(f"/api/v1/complaints/{stored.id}/actions", headers=headers, json=body)
    assert answer.status_code == 202, answer.json()
    await _drain_actions(ch)
    with ch.ctx.session() as s:
        assert s.get(OutboundAction, answer.json()["id"]).status == ActionStatus.SENT  # type: ignore[union-attr]
    assert len(ch.mp_state.merchant_actions(complaint_id, api_only=True)) == 1
    report = await sync_account(ch.ctx, "mp")  # no list API: open complaints are refreshed by id
    assert report.windows == 0 and report.listed == 0


async def test_huishouqian_notifications_sync_and_actions(ch: ChannelsHarness) -> None:
    ids = hsq.seed(ch.hs_state, "888000000001", count=5, days=3)
    await ch.hs_notifier.deliver_pending()
    await ch.process()
    assert set(ids) <= set(ch.complaints("huishouqian"))
    extra = ch.hs_state.create_complaint("888000000001", notify=False)
    report = await sync_account(ch.ctx, "hsq")
    assert extra in report.unannounced and extra in ch.complaints("huishouqian")
    target = ch.complaints("huishouqian")[extra]
    headers = token(ch, "ops", all_accounts=True)  # type: ignore[arg-type]
    reply = await ch.desk.post(
        f"/api/v1/complaints/{target.id}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"content": "您好，已处理"}},
    )
    assert reply.status_code == 202, reply.json()
    done = await ch.desk.post(
        f"/api/v1/complaints/{target.id}/actions",
        headers=headers,
        json={"kind": "complete", "params": {"content": "问题已解决，感谢反馈"}},
    )
    assert done.status_code == 202, done.json()
    await _drain_actions(ch)
    await _drain_actions(ch)
    with ch.ctx.session() as s:
        assert {a.status for a in s.query(OutboundAction)} == {ActionStatus.SENT}
    assert len(ch.hs_state.merchant_actions(extra)) >= 2


async def test_huishouqian_forged_notification_is_refused(ch: ChannelsHarness) -> None:
    form = {
        "method": "COMPLAINT_NOTIFY",
        "version": "1.0",
        "format": "JSON",
        "merchantNo": "888000000001",
        "signType": "RSA2",
        "signContent": '{"actionType":"CREATE_COMPLAINT","complaintId":"1"}',
        "sign": "00" * 256,
    }
    answer = await ch.desk.post("/webhooks/huishouqian/hsq", data=form)
    assert answer.status_code in (400, 401) and b"FAIL" in answer.content
    with ch.ctx.session() as s:
        assert s.query(InboxEvent).count() == 0


async def test_mini_program_proof_refund_proof_and_appeal_through_the_api(ch: ChannelsHarness) -> None:
    headers = token(ch, "ops", all_accounts=True)  # type: ignore[arg-type]
    image = (
        await ch.desk.post("/api/v1/media", headers=headers, files={"file": ("p.png", png(), "image/png")})
    ).json()
    cid = ch.mp_state.create_complaint(ch.mp_creds.appid)
    ch.mp_state.user_asks_platform(cid)
    ch.mp_state.platform_requests_evidence(cid)
    await ch.mp_notifier.deliver_pending()
    await ch.process()
    stored = ch.complaints("miniprogram")[cid]
    assert stored.raw_status == "106"

    async def act(params: dict[str, object]) -> None:
        answer = await ch.desk.post(
            f"/api/v1/complaints/{stored.id}/actions",
            headers=headers,
            json={"kind": "reply", "params": params},
        )
        assert answer.status_code == 202, answer.json()
        await _drain_actions(ch)
        with ch.ctx.session() as s:
            action = s.get(OutboundAction, answer.json()["id"])
            assert action is not None and action.status == ActionStatus.SENT, (
                action.error_code,
                action.error_message,
            )

    refused = await ch.desk.post(
        f"/api/v1/complaints/{stored.id}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"mp_action": "respond", "agree": 1, "content": "x"}},
    )
    assert refused.status_code == 422  # respond belongs to status 201 only
    await act({"mp_action": "supply_proof", "content": "发货凭证见图", "images": [image["sha256"]]})
    ch.mp_state.platform_rules(cid, liable=True)
    await ch.mp_notifier.deliver_pending()
    await ch.process()
    await act({"mp_action": "supply_refund", "content": "已全额退款，凭证见图", "images": [image["sha256"]]})
    await act({"mp_action": "appeal", "content": "用户已签收，申请复核"})
    assert len(ch.mp_state.merchant_actions(cid, api_only=True)) == 3
    detail = ch.mp_state.complaint(ch.mp_creds.appid, cid)
    upstream_status = str(detail.get("status") or detail.get("complaintOrder", {}).get("status"))
    assert (
        ch.complaints("miniprogram")[cid].raw_status == upstream_status != "106"
    )  # refreshed after each action
