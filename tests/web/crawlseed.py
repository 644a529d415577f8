"""A demo-like database for the page crawler: all three channels in varied states, every timeline kind.

Mini Program and Huishouqian complaints come from their simulators (real signatures, real notifications);
so do WeChat Pay ones (its simulator wired into the same desk), plus one stored WeChat Pay complaint in a
status and problem type nobody knows. On top: every history/notification code of each channel's tables
(plus an unknown one), SLA warnings and breaches, an action in every outbox state (failed ones with core
and upstream errors), notes, an assignment, tags and one audit event of every kind.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from tests.e2e.harness import DESK, WECHAT, keys
from tests.e2e.harness_channels import ChannelsHarness
from tests.e2e.test_api import png, token
from tests.web.conftest import PASSWORD

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox import service as outbox_service
from complaintdesk.core.sla import service as sla_service
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.users import service as user_service
from complaintdesk.core.workflow import assignment, notes
from complaintdesk.sandbox.wechatpay import Notifier, SimulatorState, write_merchant_files
from complaintdesk.sandbox.wechatpay import create_app as create_simulator
from complaintdesk.web.console import code_tables

ADMIN = "admin"
#: Failed actions' stored errors: what the sender writes for core and upstream refusals.
FAILURES: tuple[tuple[str, str], ...] = (
    ("ActionRefused", "mp_action is required: one of respond, supply_proof, supply_refund, appeal"),
    ("130009", "reply: A reply takes at most four images (130009: 回复上传图片不能超过四张)"),
    ("309", "complaint/reply: the complaint is not in a state that allows this any more (状态不对)"),
    ("PARAM_ERROR", "gave up after 5 attempts: 参数错误"),
    ("NEW_UPSTREAM_CODE", "something nobody has seen before"),
)


async def seed(ch: ChannelsHarness, tmp_path: Path) -> dict[str, Any]:
    """Fill the harness's database; returns the admin's user name and the complaint ids."""
    ctx = ch.ctx
    now = ctx.clock.now()
    with ctx.session() as s:
        admin = user_service.create(
            session=s, username=ADMIN, password=PASSWORD, role="admin", now=now, account_ids=[],
            all_accounts=True,
        )  # fmt: skip
        user_service.create(
            session=s, username="agent1", password=PASSWORD, role="agent", now=now, account_ids=[],
            all_accounts=True,
        )  # fmt: skip
        admin_id = admin.id
    _mini_program(ch)
    _huishouqian(ch)
    await ch.mp_notifier.deliver_pending()
    await ch.hs_notifier.deliver_pending()
    await _wechatpay(ch, tmp_path)
    await ch.process()
    await _actions(ch)
    with ctx.session() as s:
        ids = list(s.scalars(select(Complaint.id).order_by(Complaint.id)))
        _every_kind(s, ids, now)
        principal = user_service.principal_for(session=s, user=user_service.get(session=s, user_id=admin_id))
        assignment.assign(
            session=s, principal=principal, complaint_ids=ids[:2], assignee_id=admin_id, now=now
        )
        notes.add_note(session=s, principal=principal, complaint_id=ids[0], text="已电话联系用户", now=now)
        for action in AuditAction:
            audit_service.record(
                session=s, action=action.value, actor=ADMIN, ip="127.0.0.1", target_type="complaint",
                target_id=ids[0], details={"kind": "reply", "role": "agent", "status": "sent"}, at=now,
            )  # fmt: skip
        # SLA: evaluate now (warnings), then two days later (breaches) — both kinds are on the timeline.
        sla_service.evaluate_all(session=s, now=now)
        sla_service.evaluate_all(session=s, now=now + timedelta(days=4))
        s.commit()
    return {"ids": ids}


def _mini_program(ch: ChannelsHarness) -> None:
    mp, appid = ch.mp_state, ch.mp_creds.appid
    pending = mp.create_complaint(appid, images=1)
    mp.user_message(pending, "什么时候发货？")
    evidence = mp.create_complaint(appid, type=642)
    mp.user_asks_platform(evidence)
    mp.platform_requests_evidence(evidence)
    both = mp.create_complaint(appid, type=679)
    mp.user_asks_platform(both)
    mp.platform_requests_evidence(both, both=True)
    ruled = mp.create_complaint(appid, type=611)
    mp.user_asks_platform(ruled)
    mp.platform_rules(ruled, liable=True)
    withdrawn = mp.create_complaint(appid, type=613)
    mp.user_withdraws(withdrawn)


def _huishouqian(ch: ChannelsHarness) -> None:
    hs = ch.hs_state
    from tests.e2e.harness_channels import MERCHANT_NO

    first = hs.create_complaint(MERCHANT_NO, images=1)
    hs.user_message(first, "请尽快处理")
    hs.platform_message(first, "请商户尽快联系用户")
    second = hs.create_complaint(MERCHANT_NO)
    hs.continue_complaint(second, "还没有退款")
    hs.seller_refund(second)
    third = hs.create_complaint(MERCHANT_NO)
    hs.merchant_reply(third, "已为您退款")
    hs.complete(third)


async def _wechatpay(ch: ChannelsHarness, tmp_path: Path) -> None:
    """WeChat Pay complaints from its simulator (wired into this desk), and one in a status nobody knows."""
    platform, shop, _provider = keys()
    state = SimulatorState(platform=platform, seed=11)
    state.register_merchant(shop, notify_url=f"{DESK}/webhooks/wechatpay/shop")
    simulator = create_simulator(state)
    others = ch.ctx.transport_factory
    assert others is not None
    ch.ctx.transport_factory = lambda account: (
        httpx.ASGITransport(app=simulator) if account.channel == "wechatpay" else others(account)
    )
    files = write_merchant_files(tmp_path / "shop", shop, platform)
    with ch.ctx.session() as s:
        account = account_service.create(
            session=s, name="shop", channel="wechatpay", mchid=shop.mchid, kind="merchant",
            merchant_serial=shop.serial_no, private_key_ref=f"file:{files['private_key']}",
            merchant_cert_ref=f"file:{files['certificate']}", apiv3_key_ref=f"file:{files['apiv3_key']}",
            platform_cert_refs=[f"file:{files['platform_certificate']}"],
            public_key_id=platform.public_key_id,
            public_key_ref=f"file:{files['public_key']}", api_base_url=WECHAT,
        )  # fmt: skip
        account_id, mchid = account.id, account.mchid
        s.commit()
    refund = state.create_complaint(shop.mchid, images=1, need_immediate_service=True)
    state.user_message(refund, "还没收到退款")
    state.platform_message(refund, "请商户尽快处理")
    service = state.create_complaint(shop.mchid, problem_type="SERVICE_NOT_WORK")
    state.apply_platform_service(service, "商户不处理")
    state.create_complaint(shop.mchid, problem_type="OTHERS")
    notifier = Notifier(state, client=ch.desk, retry_delays=(0.0,))
    try:
        await notifier.deliver_pending()
    finally:
        await notifier.aclose()
    now = ch.ctx.clock.now()
    with ch.ctx.session() as s:
        s.add(
            Complaint(
                channel="wechatpay",
                account_id=account_id,
                merchant_account_id=account_id,
                merchant_id=mchid,
                external_id="200100000020261100000009",
                status="unknown",
                raw_status="NEW_STATE",
                problem_type="NEW_PROBLEM",
                complained_at=now - timedelta(hours=30),
                detail="买的会员没有生效",
                orders=[],
                media_urls=[],
                unknown_values=["complaint_state:NEW_STATE"],
                raw={},
                created_at=now,
                updated_at=now,
                deadline_at=now + timedelta(hours=2),
            )
        )
        s.commit()


def _every_kind(s: Any, ids: list[int], now: Any) -> None:
    """On the first complaint of each channel: one history and notification entry of every known code."""
    firsts: dict[str, int] = {}
    for complaint in s.scalars(select(Complaint).where(Complaint.id.in_(ids)).order_by(Complaint.id)):
        firsts.setdefault(complaint.channel, complaint.id)
    for channel, complaint_id in firsts.items():
        at = now - timedelta(hours=1)
        for source, table in (("history", "history"), ("notification", "notification")):
            codes = [
                *code_tables.codes(channel, table),
                "SOMETHING_NEW" if channel != "miniprogram" else "999",
            ]
            for code in codes:
                at += timedelta(seconds=1)
                timeline_service.add_event(
                    session=s, complaint_id=complaint_id, dedupe_key=f"crawl:{source}:{code}", kind=str(code),
                    occurred_at=at, source=source, actor="system", raw={},
                )  # fmt: skip


async def _actions(ch: ChannelsHarness) -> None:
    """One action in every outbox state on each of the first two complaints of each simulator channel."""
    headers = token(ch, "ops", all_accounts=True)  # type: ignore[arg-type]
    image = (
        await ch.desk.post("/api/v1/media", headers=headers, files={"file": ("a.png", png(), "image/png")})
    ).json()
    assert "sha256" in image, image
    ctx = ch.ctx
    with ctx.session() as s:
        targets = list(
            s.scalars(select(Complaint.id).where(Complaint.channel == "huishouqian").order_by(Complaint.id))
        )[:2]
    states = ["pending", "sending", "uncertain", "sent", *["failed"] * len(FAILURES)]
    failures = iter(FAILURES)
    for index, state in enumerate(states):
        complaint_id = targets[index % len(targets)]
        body = {"kind": "reply", "params": {"content": f"您好，第 {index + 1} 次回复"}}
        answer = await ch.desk.post(f"/api/v1/complaints/{complaint_id}/actions", headers=headers, json=body)
        assert answer.status_code == 202, answer.text
        code, message = next(failures) if state == "failed" else ("", "")
        with ctx.session() as s:
            outbox_service.settle(
                session=s, action_id=answer.json()["id"], status=state, now=ctx.clock.now(),
                error_code=code, error_message=message,
            )  # fmt: skip
            s.commit()
