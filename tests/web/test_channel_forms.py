"""The channel forms' own checks without a browser: errors by the field in the UI's language, nothing sent.

The Mini Program's refusal needs its reason and reaches the platform as a refusal; Huishouqian's "mark as
complete" carries the message its API sends; our actions name their operator; a Huishouqian order shows
no empty WeChat Pay column. Both databases (the ``settings`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import DESK
from tests.e2e.harness_channels import MERCHANT_NO, ChannelsHarness, build_channels
from tests.web.conftest import PASSWORD, csrf_of

from complaintdesk.channels.base import ActionKind
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.users import service as user_service
from complaintdesk.jobs.dispatch import dispatch_actions
from complaintdesk.settings import Settings
from complaintdesk.web.console.action_forms import params_for

pytestmark = pytest.mark.anyio


@pytest.fixture
async def ch(settings: Settings, tmp_path: Path) -> AsyncIterator[ChannelsHarness]:
    harness = await build_channels(settings, tmp_path)
    yield harness
    await harness.aclose()


@pytest.fixture
async def client(ch: ChannelsHarness) -> AsyncIterator[httpx.AsyncClient]:
    with ch.ctx.session() as s:
        user_service.create(
            session=s, username="agent1", password=PASSWORD, role="agent", now=ch.ctx.clock.now(),
            account_ids=[], all_accounts=True, display_name="小李",
        )  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ch.app), base_url=DESK) as client:
        login = await client.get("/login")
        answer = await client.post(
            "/login", data={"username": "agent1", "password": PASSWORD, "csrf_token": csrf_of(login.text)}
        )
        assert answer.status_code == 303
        yield client


def _actions(ch: ChannelsHarness) -> int:
    with ch.ctx.session() as s:
        return s.query(OutboundAction).count()


async def _send_all(ch: ChannelsHarness) -> None:
    for _ in range(20):
        if not await dispatch_actions(ch.ctx):
            break


async def _mp_complaint(ch: ChannelsHarness) -> tuple[str, int]:
    external = ch.mp_state.create_complaint(ch.mp_creds.appid)
    await ch.mp_notifier.deliver_pending()
    await ch.process()
    return external, ch.complaints("miniprogram")[external].id


async def _hs_complaint(ch: ChannelsHarness) -> tuple[str, int]:
    external = ch.hs_state.create_complaint(MERCHANT_NO, detail="扣费有误", amount_fen=300)
    await ch.hs_notifier.deliver_pending()
    await ch.process()
    return external, ch.complaints("huishouqian")[external].id


async def test_a_refusal_needs_its_reason_and_reaches_the_platform_as_a_refusal(
    ch: ChannelsHarness, client: httpx.AsyncClient
) -> None:
    external, cid = await _mp_complaint(ch)
    page = await client.get(f"/complaints/{cid}")
    assert "拒绝和解需要写明理由" in page.text  # the browser's check says it in the page's language
    form = {"csrf_token": csrf_of(page.text), "mp_action": "respond"}
    undecided = await client.post(f"/complaints/{cid}/actions/reply", data=form | {"content": "我们会处理"})
    assert undecided.status_code == 422
    assert 'data-testid="error-agree" id="error-agree">请选择同意和解或拒绝。</span>' in undecided.text
    bare = await client.post(f"/complaints/{cid}/actions/reply", data=form | {"agree": "0", "content": " "})
    assert bare.status_code == 422
    assert 'id="error-content">拒绝和解需要写明理由：请在此填写。</span>' in bare.text
    assert _actions(ch) == 0 and ch.mp_state.merchant_actions(external) == []

    sent = await client.post(
        f"/complaints/{cid}/actions/reply", data=form | {"agree": "0", "content": "商品完好，不同意退款"}
    )
    assert sent.status_code == 303
    await _send_all(ch)
    [refusal] = ch.mp_state.merchant_actions(external, api_only=True)
    assert (refusal["action"], refusal["bussi_handle"]) == ("respond", 2)
    page = await client.get(f"/complaints/{cid}")
    assert '<span class="operator" data-testid="operator" translate="no">小李</span>' in page.text
    assert '<span data-testid="action-kind">拒绝和解</span>' in page.text  # not just "reply"


async def test_huishouqian_completion_carries_its_message(
    ch: ChannelsHarness, client: httpx.AsyncClient
) -> None:
    external, cid = await _hs_complaint(ch)
    page = await client.get(f"/complaints/{cid}")
    assert 'data-testid="complete-content"' in page.text
    assert 'data-testid="orders"' in page.text and "微信支付订单号" not in page.text
    form = {"csrf_token": csrf_of(page.text)}
    missing = await client.post(f"/complaints/{cid}/actions/complete", data=form | {"content": ""})
    assert missing.status_code == 422
    assert 'id="error-complete-content">请填写随“处理完成”发给用户的说明。</span>' in missing.text
    long = await client.post(f"/complaints/{cid}/actions/reply", data=form | {"content": "退" * 201})
    assert long.status_code == 422
    assert 'id="error-content">已输入 201 个字，最多 200 个字。</span>' in long.text
    assert _actions(ch) == 0

    done = await client.post(
        f"/complaints/{cid}/actions/complete", data=form | {"content": "已退款，处理完毕"}
    )
    assert done.status_code == 303
    await _send_all(ch)
    assert ch.hs_state.complaint(external)["complaintState"] == "PROCESSED"
    [entry] = ch.hs_state.merchant_actions(external, api_only=True)
    assert (entry["operateType"], entry["operateDetails"]) == (
        "MERCHANT_CONFIRM_COMPLETE",
        "已退款，处理完毕",
    )


async def test_wechat_pay_completion_has_no_message_field() -> None:
    assert params_for(ActionKind.COMPLETE, _Form({})) == {}  # WeChat Pay's form has no content field
    assert params_for(ActionKind.COMPLETE, _Form({"content": " 好 "})) == {"content": "好"}
    assert params_for(ActionKind.REPLY, _Form({"mp_action": "respond", "agree": "0"}))["agree"] is False


class _Form(dict[str, str]):
    def getlist(self, name: str) -> list[str]:
        return [self[name]] if name in self else []
