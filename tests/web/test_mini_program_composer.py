"""A Mini Program complaint handled from the console: the platform's actions as forms, errors by the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import DESK
from tests.e2e.harness_channels import ChannelsHarness, build_channels
from tests.web.conftest import PASSWORD, csrf_of

from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.core.users import service as user_service
from complaintdesk.jobs.dispatch import dispatch_actions
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def ch(settings: Settings, tmp_path: Path) -> AsyncIterator[ChannelsHarness]:
    harness = await build_channels(settings, tmp_path)
    yield harness
    await harness.aclose()


async def _signed_in(ch: ChannelsHarness) -> httpx.AsyncClient:
    with ch.ctx.session() as s:
        user_service.create(
            session=s, username="agent1", password=PASSWORD, role="agent", now=ch.ctx.clock.now(),
            account_ids=[], all_accounts=True,
        )  # fmt: skip
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=ch.app), base_url=DESK)
    login = await client.get("/login")
    answer = await client.post(
        "/login", data={"username": "agent1", "password": PASSWORD, "csrf_token": csrf_of(login.text)}
    )
    assert answer.status_code == 303
    return client


async def _stored(ch: ChannelsHarness, external: str) -> int:
    await ch.mp_notifier.deliver_pending()
    await ch.process()
    return ch.complaints("miniprogram")[external].id


async def _send(ch: ChannelsHarness) -> OutboundAction:
    for _ in range(20):
        if not await dispatch_actions(ch.ctx):
            break
    with ch.ctx.session() as s:
        return s.query(OutboundAction).order_by(OutboundAction.created_at.desc()).first()  # type: ignore[return-value]


async def test_respond_then_supply_proof_then_appeal_from_the_console(ch: ChannelsHarness) -> None:
    client = await _signed_in(ch)
    try:
        external = ch.mp_state.create_complaint(ch.mp_creds.appid)
        cid = await _stored(ch, external)
        page = await client.get(f"/complaints/{cid}")
        assert 'data-testid="mp-actions"' in page.text and 'data-testid="mp-respond"' in page.text
        assert "mp_action is required" not in page.text
        assert 'data-limit="1000"' in page.text  # the Mini Program's own limit, not WeChat Pay's 200
        missing = await client.post(
            f"/complaints/{cid}/actions/reply",
            data={"csrf_token": csrf_of(page.text), "mp_action": "respond", "content": "我们会处理"},
        )
        assert missing.status_code == 422  # agree/refuse not chosen: said next to that field
        assert 'data-testid="error-agree"' in missing.text
        sent = await client.post(
            f"/complaints/{cid}/actions/reply",
            data={
                "csrf_token": csrf_of(page.text),
                "mp_action": "respond",
                "agree": "1",
                "content": "同意退款",
            },
        )
        assert sent.status_code == 303
        action = await _send(ch)
        assert (action.status, action.params["mp_action"], action.params["agree"]) == (
            ActionStatus.SENT,
            "respond",
            True,
        )
        assert len(ch.mp_state.merchant_actions(external, api_only=True)) == 1

        other = ch.mp_state.create_complaint(ch.mp_creds.appid)
        ch.mp_state.user_asks_platform(other)
        ch.mp_state.platform_requests_evidence(other)
        oid = await _stored(ch, other)
        page = await client.get(f"/complaints/{oid}")
        assert 'data-testid="mp-supply_proof"' in page.text and 'data-testid="mp-respond"' not in page.text
        proof = await client.post(
            f"/complaints/{oid}/actions/reply",
            data={
                "csrf_token": csrf_of(page.text),
                "mp_action": "supply_proof",
                "content": "发货凭证：顺丰 SF123",
            },
        )
        assert proof.status_code == 303
        assert (await _send(ch)).status == ActionStatus.SENT
        ch.mp_state.platform_rules(other, liable=True)
        await _stored(ch, other)
        page = await client.get(f"/complaints/{oid}")
        assert 'data-testid="mp-appeal"' in page.text
        appeal = await client.post(
            f"/complaints/{oid}/actions/reply",
            data={"csrf_token": csrf_of(page.text), "mp_action": "appeal", "content": "用户已签收，申请复核"},
        )
        assert appeal.status_code == 303
        assert (await _send(ch)).status == ActionStatus.SENT
        kinds = [
            a.get("mp_action") or a.get("type") for a in ch.mp_state.merchant_actions(other, api_only=True)
        ]
        assert len(kinds) == 2  # proof, then the appeal: each reached the platform once
    finally:
        await client.aclose()
