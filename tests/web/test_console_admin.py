"""Admin pages and the operator's own tools: users, tokens, audit CSV, saved views, tags, assignment."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from tests.e2e.harness import Harness
from tests.web.conftest import PASSWORD, Console, add_user

from complaintdesk.core.tokens.models import ApiToken
from complaintdesk.core.users.models import User

pytestmark = pytest.mark.anyio


async def test_admin_adds_a_user_resets_a_password_and_the_audit_log_exports(
    wx: Harness, console: Console
) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    await console.get("/admin/users")
    added = await console.post(
        "/admin/users",
        {"username": "newbie", "password": "first password!", "role": "viewer", "all_accounts": "on"},
    )
    assert added.status_code == 303
    with wx.ctx.session() as s:
        newbie = s.scalar(select(User).where(User.username == "newbie"))
        assert newbie is not None and newbie.role == "viewer" and newbie.must_change_password
        newbie_id = newbie.id
    await console.get("/admin/users")
    reset = await console.post(f"/admin/users/{newbie_id}", {"op": "reset"})
    secret = re.search(r'data-testid="secret">newbie: ([^<\s]+)<', reset.text)
    assert secret
    first = Console(wx)
    try:
        answer = await first.login("newbie", secret.group(1))
        assert answer.status_code == 303 and answer.headers["location"] == "/password?first=1"
    finally:
        await first.aclose()
    await console.get("/admin/users")
    refused = await console.post(
        "/admin/users", {"username": "x", "password": "short", "role": "agent", "all_accounts": "on"}
    )
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    csv = await console.get("/admin/audit.csv?action=password_reset")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("at,actor") and len(lines) == 2 and ",boss," in lines[1]
    assert secret.group(1) not in csv.text and PASSWORD not in csv.text


async def test_tokens_are_shown_once_and_can_be_revoked(wx: Harness, console: Console) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    await console.get("/admin/tokens")
    created = await console.post("/admin/tokens", {"name": "erp", "all_accounts": "on"})
    value = re.search(r'data-testid="secret">(cdk_[^<]+)<', created.text)
    assert value
    api = await wx.desk.get("/api/v1/complaints", headers={"Authorization": f"Bearer {value.group(1)}"})
    assert api.status_code == 200
    assert value.group(1) not in (await console.get("/admin/tokens")).text
    await console.post("/admin/tokens/erp/revoke")
    api = await wx.desk.get("/api/v1/complaints", headers={"Authorization": f"Bearer {value.group(1)}"})
    assert api.status_code == 401
    with wx.ctx.session() as s:
        assert s.scalar(select(ApiToken.revoked).where(ApiToken.name == "erp")) is True


async def test_agents_cannot_open_admin_pages(wx: Harness, console: Console) -> None:
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    for path in ("/admin/users", "/admin/tokens", "/admin/audit", "/admin/templates"):
        assert (await console.get(path)).status_code == 403, path


async def test_saved_views_tags_and_assignment_from_the_pages(wx: Harness, console: Console) -> None:
    external = wx.state.create_complaint(wx.shop.mchid, problem_type="OTHERS", detail="包裹破损")
    await wx.deliver()
    await wx.process()
    complaint_id = wx.complaints()[external].id
    me = add_user(wx, "agent1", "agent")
    await console.login("agent1")
    await console.get(f"/complaints/{complaint_id}")
    await console.post(f"/complaints/{complaint_id}/tags", {"add": "破损"})
    await console.post(f"/complaints/{complaint_id}/assign", {"assignee_id": str(me)})
    page = (await console.get(f"/complaints/{complaint_id}")).text
    assert '<span class="tag"><span translate="no">破损' in page
    tag_id = re.search(r'<option value="(\d+)"[^>]*>破损</option>', (await console.get("/")).text)
    assert tag_id
    saved = await console.post("/views", {"name": "破损件", "query": f"tag={tag_id.group(1)}&status="})
    assert saved.status_code == 303 and saved.headers["location"].startswith("/?view=v")
    view = (await console.get(saved.headers["location"])).text
    assert f"/complaints/{complaint_id}" in view and "破损件" in view
    counts = (await console.get("/inbox/counts")).json()["counts"]
    view_key = saved.headers["location"].split("view=")[1]
    assert counts[view_key] == 1 and counts["mine"] == 1
    await console.post(f"/complaints/{complaint_id}/tags", {"remove": "破损"})
    assert (await console.get("/inbox/counts")).json()["counts"][view_key] == 0
