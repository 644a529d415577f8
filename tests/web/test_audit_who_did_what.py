"""Who did what: replies, assignments and notes are in the audit log with their operator, named in zh-CN."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.e2e.harness import Harness
from tests.e2e.test_api import token
from tests.web.conftest import Console, add_user, processed_complaint

from complaintdesk.core.audit.models import AuditEvent

pytestmark = pytest.mark.anyio


def _events(wx: Harness) -> list[tuple[str, str, str]]:
    with wx.ctx.session() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.target_type == "complaint").order_by(AuditEvent.id)
        )
        return [(e.action, e.actor, str(e.target_id)) for e in rows]


async def test_actions_assignments_and_notes_are_audited_with_their_operator(
    wx: Harness, console: Console
) -> None:
    cid = await processed_complaint(wx)
    answer = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers=token(wx, "crm", all_accounts=True),
        json={"kind": "reply", "params": {"content": "您好，已处理"}},
    )
    assert answer.status_code == 202
    agent = add_user(wx, "lead1", "admin")
    await console.login("lead1")
    await console.get(f"/complaints/{cid}")
    assert (await console.post(f"/complaints/{cid}/notes", {"note": "用户来电确认"})).status_code == 303
    assert (await console.post(f"/complaints/{cid}/assign", {"assignee_id": str(agent)})).status_code == 303
    events = _events(wx)
    assert ("action_requested", "token:crm", str(cid)) in events
    assert ("note_added", "lead1", str(cid)) in events
    assert ("complaint_assigned", "lead1", str(cid)) in events
    with wx.ctx.session() as s:  # the note's text (it may quote the user) is not copied into the log
        details = [e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "note_added"))]
    assert all("用户来电确认" not in str(d) for d in details)


async def test_a_console_action_names_its_operator_as_sign_in_does(wx: Harness, console: Console) -> None:
    cid = await processed_complaint(wx)
    add_user(wx, "lead2", "admin")
    await console.login("lead2")
    await console.get(f"/complaints/{cid}")
    replied = await console.post(f"/complaints/{cid}/actions/reply", {"content": "您好，已处理"})
    assert replied.status_code == 303
    with wx.ctx.session() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.actor.like("%lead2")))
        actors = {e.action: e.actor for e in rows}
    assert actors == {"login": "lead2", "action_requested": "lead2"}
