"""Two operators never both answer the same state of a conversation without seeing the other's reply."""

from __future__ import annotations

import asyncio

import pytest
from tests.e2e.harness import Harness
from tests.e2e.test_api import token
from tests.web.conftest import Console, add_user, csrf_of

from complaintdesk.core.outbox.models import OutboundAction

pytestmark = pytest.mark.anyio


async def _complaint(wx: Harness) -> int:
    external = wx.state.create_complaint(wx.shop.mchid)
    await wx.deliver()
    await wx.process()
    return wx.complaints()[external].id


def _actions(wx: Harness) -> list[str]:
    with wx.ctx.session() as s:
        return [a.params.get("content", "") for a in s.query(OutboundAction).order_by(OutboundAction.seq)]


async def test_the_api_refuses_an_action_on_an_old_version_and_writes_nothing(wx: Harness) -> None:
    cid = await _complaint(wx)
    headers = token(wx, "crm", all_accounts=True)
    version = (await wx.desk.get(f"/api/v1/complaints/{cid}", headers=headers)).json()["version"]
    first = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"content": "您好"}, "expected_version": version},
    )
    assert first.status_code == 202
    stale = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers={**headers, "If-Match": f'"{version}"'},
        json={"kind": "reply", "params": {"content": "您好（第二位客服）"}},
    )
    assert stale.status_code == 409
    body = stale.json()
    assert body["error"] == "ConversationMoved" and body["current_version"] > version
    assert _actions(wx) == ["您好"]  # nothing of the refused request was written
    confirmed = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers={**headers, "If-Match": f'"{body["current_version"]}"'},
        json={"kind": "reply", "params": {"content": "您好（第二位客服）"}},
    )
    assert confirmed.status_code == 202
    unguarded = await wx.desk.post(  # callers that send no version are not guarded (backwards compatible)
        f"/api/v1/complaints/{cid}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"content": "好的"}},
    )
    assert unguarded.status_code == 202
    malformed = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers={**headers, "If-Match": "yesterday"},
        json={"kind": "reply", "params": {"content": "x"}},
    )
    assert malformed.status_code == 422 and malformed.json()["field"] == "If-Match"


async def test_a_consumer_message_since_the_page_opened_stops_a_reply_until_confirmed(
    wx: Harness, console: Console
) -> None:
    cid = await _complaint(wx)
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    page = await console.get(f"/complaints/{cid}")
    seen = page.text.split('name="seen_version" value="')[1].split('"')[0]
    external = next(iter(wx.complaints()))
    wx.state.user_message(external, "怎么还没退款？")  # the user writes while the operator types
    await wx.deliver()
    await wx.process()
    refused = await console.post(
        f"/complaints/{cid}/actions/reply", {"content": "已为您退款", "seen_version": seen}
    )
    assert refused.status_code == 409
    assert 'data-testid="conversation-moved"' in refused.text
    assert "已为您退款" in refused.text  # the operator's text is kept
    assert _actions(wx) == []
    fresh = refused.text.split('name="seen_version" value="')[1].split('"')[0]
    assert int(fresh) > int(seen)
    confirmed = await console.post(
        f"/complaints/{cid}/actions/reply",
        {"content": "已为您退款", "seen_version": fresh, "csrf_token": csrf_of(refused.text)},
    )
    assert confirmed.status_code == 303
    assert _actions(wx) == ["已为您退款"]


async def test_two_operators_sending_at_once_on_the_same_version_one_is_refused(wx: Harness) -> None:
    cid = await _complaint(wx)
    headers = [token(wx, f"op{i}", all_accounts=True) for i in range(2)]
    version = (await wx.desk.get(f"/api/v1/complaints/{cid}", headers=headers[0])).json()["version"]

    async def send(i: int) -> int:
        answer = await wx.desk.post(
            f"/api/v1/complaints/{cid}/actions",
            headers=headers[i],
            json={"kind": "reply", "params": {"content": f"客服{i}"}, "expected_version": version},
        )
        return answer.status_code

    codes = sorted(await asyncio.gather(send(0), send(1)))
    assert codes[0] == 202 and codes[1] in (409, 500)  # 500: SQLite's busy writer, nothing written either
    assert len(_actions(wx)) == 1
