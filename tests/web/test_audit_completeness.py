"""Every kind of change made through a real edge (console form, API) is audited with its operator."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from tests.e2e.harness import Harness
from tests.e2e.test_api import token
from tests.web.conftest import PASSWORD, Console, add_user

from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.templates.models import ReplyTemplate
from complaintdesk.core.users.models import User

pytestmark = pytest.mark.anyio


def _events(wx: Harness, after: int = 0) -> list[AuditEvent]:
    with wx.ctx.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)))


def _last_id(wx: Harness) -> int:
    found = _events(wx)
    return found[-1].id if found else 0


def _one(events: list[AuditEvent], action: str, actor: str, **details: Any) -> AuditEvent:
    matching = [
        e
        for e in events
        if e.action == action and e.actor == actor and all(e.details.get(k) == v for k, v in details.items())
    ]
    assert matching, f"no {action} by {actor} with {details} in {[(e.action, e.actor) for e in events]}"
    return matching[0]


async def _complaint(wx: Harness, **fields: Any) -> int:
    external = wx.state.create_complaint(wx.shop.mchid, **fields)
    await wx.deliver()
    await wx.process()
    return wx.complaints()[external].id


async def test_templates_tags_users_tokens_and_passwords_changed_in_the_console_are_audited(
    wx: Harness, console: Console
) -> None:
    cid = await _complaint(wx, problem_type="OTHERS")
    add_user(wx, "boss", "admin")
    await console.login("boss")
    start = _last_id(wx)

    await console.get("/admin/templates")
    assert (await console.post("/admin/templates", {"name": "致歉", "body": "您好"})).status_code == 303
    with wx.ctx.session() as s:
        template_id = s.scalar(select(ReplyTemplate.id).where(ReplyTemplate.name == "致歉"))
    await console.get(f"/admin/templates/{template_id}")
    edited = await console.post(f"/admin/templates/{template_id}", {"name": "致歉（新）", "body": "您好！"})
    assert edited.status_code == 303
    deleted = await console.post(f"/admin/templates/{template_id}/delete")
    assert deleted.status_code == 303

    await console.get(f"/complaints/{cid}")
    assert (await console.post(f"/complaints/{cid}/tags", {"add": "VIP"})).status_code == 303
    assert (await console.post(f"/complaints/{cid}/tags", {"remove": "VIP"})).status_code == 303
    await console.get("/")
    bulk = await console.post("/inbox/bulk", {"ids": [str(cid)], "op": "tag", "tag": "加急"})
    assert bulk.status_code == 303

    await console.get("/admin/users")
    added = await console.post(
        "/admin/users",
        {"username": "newbie", "password": "first password!", "role": "viewer", "all_accounts": "on"},
    )
    assert added.status_code == 303
    with wx.ctx.session() as s:
        newbie = s.scalar(select(User.id).where(User.username == "newbie"))
    for change in (
        {"op": "role", "role": "agent"},
        {"op": "deactivate"},
        {"op": "activate"},
        {"op": "reset"},
    ):
        await console.get("/admin/users")
        answer = await console.post(f"/admin/users/{newbie}", change)
        assert answer.status_code in (200, 303), change

    await console.get("/admin/tokens")
    assert (await console.post("/admin/tokens", {"name": "erp", "all_accounts": "on"})).status_code == 200
    assert (await console.post("/admin/tokens/erp/revoke")).status_code == 303

    await console.get("/password")
    changed = await console.post(
        "/password",
        {
            "old_password": PASSWORD,
            "password": "a brand new passphrase",
            "password_again": "a brand new passphrase",
        },
    )
    assert changed.status_code == 200 and "field-error" not in changed.text

    events = _events(wx, start)
    assert all(e.actor_ip for e in events if e.actor == "boss")  # the address travels with the operator
    _one(events, "template_created", "boss", name="致歉")
    changed_event = _one(events, "template_changed", "boss", name_before="致歉", name="致歉（新）")
    assert changed_event.details["changed"] == ["name", "text"]
    _one(events, "template_deleted", "boss", name="致歉（新）")
    _one(events, "tag_created", "boss", name="VIP")
    _one(events, "complaint_tagged", "boss", added=["VIP"], removed=[])
    _one(events, "complaint_tagged", "boss", added=[], removed=["VIP"])
    _one(events, "complaint_tagged", "boss", added=["加急"])
    tagged = [e for e in events if e.action == "complaint_tagged"]
    assert {e.target_id for e in tagged} == {str(cid)}
    _one(events, "user_created", "boss")
    _one(events, "role_changed", "boss", to="agent")
    _one(events, "user_deactivated", "boss")
    _one(events, "user_activated", "boss")
    _one(events, "password_reset", "boss")
    _one(events, "token_created", "boss", all_accounts=True)
    _one(events, "token_revoked", "boss")
    _one(events, "password_changed", "boss")


async def test_refund_decision_remarks_are_on_the_timeline_and_in_the_audit_view(
    wx: Harness, console: Console
) -> None:
    by_api = await _complaint(wx, problem_type="REFUND", apply_refund_amount_fen=1999)
    by_console = await _complaint(wx, problem_type="REFUND", apply_refund_amount_fen=2999)
    approved = await wx.desk.post(
        f"/api/v1/complaints/{by_api}/actions",
        headers=token(wx, "crm", all_accounts=True),
        json={"kind": "refund_approve", "params": {"launch_refund_day": 1, "remark": "老客户，优先处理"}},
    )
    assert approved.status_code == 202, approved.json()
    add_user(wx, "lead", "admin")
    await console.login("lead")
    page = await console.get(f"/complaints/{by_console}")
    seen = re.search(r'name="seen_version" value="(\d+)"', page.text)
    form = {"reject_reason": "商品已使用", "remark": "已与用户电话沟通"}
    rejected = await console.post(
        f"/complaints/{by_console}/actions/refund_reject",
        {**form, **({"seen_version": seen.group(1)} if seen else {})},
    )
    assert rejected.status_code == 303, rejected.text[-2000:]

    events = _events(wx)
    _one(events, "action_requested", "token:crm", kind="refund_approve", remark="老客户，优先处理")
    _one(events, "action_requested", "lead", kind="refund_reject", remark="已与用户电话沟通")
    timeline = (await console.get(f"/complaints/{by_console}")).text
    assert "已与用户电话沟通" in timeline and "商品已使用" in timeline
    assert "老客户，优先处理" in (await console.get(f"/complaints/{by_api}")).text
    view = await console.get(f"/admin/audit?complaint={by_console}")
    assert view.status_code == 200
    assert "已与用户电话沟通" in view.text and "备注" in view.text  # the remark, under its zh-CN label
    assert f'href="/complaints/{by_console}"' in view.text
    assert "老客户" not in view.text  # the other complaint's events are filtered out
