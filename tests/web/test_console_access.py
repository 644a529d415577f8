"""Console access over HTTP: sign-in throttling, session expiry, CSRF, roles, scope, escaping, uploads."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from tests.e2e.harness import Harness
from tests.e2e.test_api import png
from tests.web.conftest import PASSWORD, Console, add_user

from complaintdesk.clock import ManualClock
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.web.console.session import ABSOLUTE_SECONDS, IDLE_SECONDS

pytestmark = pytest.mark.anyio


async def _complaint(wx: Harness, mchid: str | None = None, **fields: object) -> int:
    external = wx.state.create_complaint(mchid or wx.shop.mchid, **fields)  # type: ignore[arg-type]
    await wx.deliver()
    await wx.process()
    return wx.complaints()[external].id


def _audit(wx: Harness, action: str) -> list[AuditEvent]:
    with wx.ctx.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_wrong_password_is_refused_and_the_sixth_attempt_is_throttled(
    wx: Harness, console: Console
) -> None:
    add_user(wx, "agent1", "agent")
    for _ in range(5):
        answer = await console.login("agent1", "not the password")
        assert answer.status_code == 401
        assert "用户名或密码错误" in answer.text  # zh-CN is the default language
    answer = await console.login("agent1", PASSWORD)  # even the right password waits now
    assert answer.status_code == 429
    assert "登录失败次数过多" in answer.text and "15" in answer.text
    assert (await console.get("/", follow_redirects=False)).status_code == 303
    assert len(_audit(wx, "login_failed")) >= 5


async def test_session_cookie_is_httponly_samesite_and_dies_when_idle(
    wx: Harness, console: Console, clock: ManualClock
) -> None:
    add_user(wx, "agent1", "agent")
    answer = await console.login("agent1")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # http public URL
    assert (await console.get("/")).status_code == 200
    clock.advance(IDLE_SECONDS - 120)
    assert (await console.get("/")).status_code == 200  # activity slides the idle expiry
    clock.advance(IDLE_SECONDS + 1)
    answer = await console.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?expired=1"
    assert "重新登录" in (await console.get("/login?expired=1")).text


async def test_a_session_ends_after_its_absolute_lifetime_even_when_active(
    wx: Harness, console: Console, clock: ManualClock
) -> None:
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    for _ in range(ABSOLUTE_SECONDS // (IDLE_SECONDS - 60) + 1):
        clock.advance(IDLE_SECONDS - 60)
        answer = await console.get("/", follow_redirects=False)
    assert answer.status_code == 303 and "expired=1" in answer.headers["location"]


async def test_a_password_change_ends_other_sessions(wx: Harness) -> None:
    add_user(wx, "agent1", "agent")
    first, second = Console(wx), Console(wx)
    try:
        await first.login("agent1")
        await second.login("agent1")
        await first.get("/password")
        changed = await first.post(
            "/password",
            {
                "old_password": PASSWORD,
                "password": "a brand new secret",
                "password_again": "a brand new secret",
            },
        )
        assert changed.status_code == 200 and "密码已修改" in changed.text
        assert (await first.get("/", follow_redirects=False)).status_code == 200
        assert (await second.get("/", follow_redirects=False)).status_code == 303
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_forged_cookie_is_no_session(wx: Harness, console: Console) -> None:
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    value = console.http.cookies["cd_session"]
    console.http.cookies.set("cd_session", value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    assert (await console.get("/", follow_redirects=False)).status_code == 303


async def test_missing_or_wrong_csrf_token_is_403(wx: Harness, console: Console) -> None:
    complaint_id = await _complaint(wx)
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    path = f"/complaints/{complaint_id}/notes"
    assert (await console.http.post(path, data={"note": "no token"})).status_code == 403
    assert (await console.http.post(path, data={"note": "bad", "csrf_token": "x" * 32})).status_code == 403
    fetch = await console.http.post(
        f"/complaints/{complaint_id}/reveal-phone", headers={"X-CSRF-Token": "nope"}
    )
    assert fetch.status_code == 403
    assert (await console.post(path, {"note": "with the token"})).status_code == 303
    page = (await console.get(f"/complaints/{complaint_id}")).text
    assert "with the token" in page and "no token" not in page


async def test_login_form_itself_needs_the_csrf_token(wx: Harness, console: Console) -> None:
    add_user(wx, "agent1", "agent")
    answer = await console.http.post("/login", data={"username": "agent1", "password": PASSWORD})
    assert answer.status_code == 403


async def test_an_agent_of_another_merchant_gets_404_and_the_attempt_is_audited(
    wx: Harness, console: Console
) -> None:
    complaint_id = await _complaint(wx)  # the shop's complaint
    add_user(wx, "sp-agent", "agent", accounts=["sp"])
    await console.login("sp-agent")
    answer = await console.get(f"/complaints/{complaint_id}")
    assert answer.status_code == 404
    assert str(complaint_id) not in re.sub(r"<[^>]+>", "", answer.text).replace(
        f"/complaints/{complaint_id}", ""
    )
    denied = _audit(wx, "complaint_denied")
    assert [(e.actor, e.target_id) for e in denied] == [("sp-agent", str(complaint_id))]
    assert (await console.get(f"/complaints/{complaint_id + 999}")).status_code == 404
    inbox = (await console.get("/?view=all")).text
    assert f"/complaints/{complaint_id}" not in inbox


async def test_a_viewer_cannot_reply_or_reveal(wx: Harness, console: Console) -> None:
    complaint_id = await _complaint(wx)
    add_user(wx, "viewer1", "viewer")
    await console.login("viewer1")
    page = (await console.get(f"/complaints/{complaint_id}")).text
    assert "/actions/reply" not in page  # no composer for a viewer
    answer = await console.post(f"/complaints/{complaint_id}/actions/reply", {"content": "您好"})
    assert answer.status_code == 403
    reveal = await console.post(f"/complaints/{complaint_id}/reveal-phone")
    assert reveal.status_code == 403
    assert wx.count(OutboundAction) == 0


async def test_an_agent_reply_is_queued_and_an_invalid_one_is_explained(
    wx: Harness, console: Console
) -> None:
    complaint_id = await _complaint(wx)
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    await console.get(f"/complaints/{complaint_id}")
    too_long = await console.post(f"/complaints/{complaint_id}/actions/reply", {"content": "好" * 201})
    assert too_long.status_code == 422
    assert "201" in too_long.text and "200" in too_long.text  # both numbers, in the UI's language
    assert "好" * 201 in too_long.text  # the operator's text is kept for correction
    sent = await console.post(f"/complaints/{complaint_id}/actions/reply", {"content": "您好，已为您处理。"})
    assert sent.status_code == 303
    with wx.ctx.session() as s:
        actions = list(s.scalars(select(OutboundAction)))
    assert [(a.kind, a.params["content"], a.requested_by) for a in actions] == [
        ("reply", "您好，已为您处理。", "user:agent1")
    ]
    page = (await console.get(f"/complaints/{complaint_id}")).text
    assert 'class="state pending"' in page


async def test_phone_reveal_is_audited(wx: Harness, console: Console) -> None:
    complaint_id = await _complaint(wx, payer_phone="13800138000")
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    page = (await console.get(f"/complaints/{complaint_id}")).text
    assert "138****8000" in page and "13800138000" not in page
    answer = await console.http.post(
        f"/complaints/{complaint_id}/reveal-phone", headers={"X-CSRF-Token": console.csrf}
    )
    assert answer.json() == {"phone": "13800138000"}
    assert [e.actor for e in _audit(wx, "phone_revealed")] == ["agent1"]


async def test_html_in_complaint_text_and_notes_is_shown_as_text(wx: Harness, console: Console) -> None:
    complaint_id = await _complaint(wx, detail="<script>alert('detail')</script>")
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    await console.get(f"/complaints/{complaint_id}")
    await console.post(f"/complaints/{complaint_id}/notes", {"note": '<img src=x onerror="alert(1)">'})
    page = (await console.get(f"/complaints/{complaint_id}")).text
    assert "<script>alert(" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;detail&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    inbox = (await console.get("/?view=all")).text
    assert f"/complaints/{complaint_id}" in inbox and "<script>alert(" not in inbox


async def test_uploads_are_checked_by_size_and_content(wx: Harness, console: Console) -> None:
    complaint_id = await _complaint(wx)
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    headers = {"X-CSRF-Token": console.csrf}
    huge = png(padding=5 * 1024 * 1024)
    answer = await console.http.post(
        "/upload", files={"file": ("big.png", huge, "image/png")}, headers=headers
    )
    assert answer.status_code == 422 and "5 MB" in answer.json()["error"]
    fake = await console.http.post(
        "/upload", files={"file": ("x.png", b"GIF89a" + b"0" * 100, "image/png")}, headers=headers
    )
    assert fake.status_code == 422 and "GIF" in fake.json()["error"]
    three_mb = png(padding=3 * 1024 * 1024)
    for_wechat = await console.http.post(
        "/upload",
        files={"file": ("proof.png", three_mb, "image/png")},
        data={"complaint_id": str(complaint_id)},
        headers=headers,
    )
    assert for_wechat.status_code == 422 and "2 MB" in for_wechat.json()["error"]
    ok = await console.http.post("/upload", files={"file": ("p.png", png(), "image/png")}, headers=headers)
    assert ok.status_code == 201 and len(ok.json()["sha256"]) == 64


async def test_a_template_with_an_attribute_is_refused_clearly(wx: Harness, console: Console) -> None:
    complaint_id = await _complaint(wx)
    add_user(wx, "admin1", "admin")
    await console.login("admin1")
    await console.get("/admin/templates")
    refused = await console.post("/admin/templates", {"name": "坏模板", "body": "{{ complaint.__class__ }}"})
    assert refused.status_code == 422
    message = re.search(r'data-testid="template-error-body">(.+?)</(?:div|span)>', refused.text)
    assert message and "complaint" in message.group(1)
    preview = await console.http.post(
        f"/complaints/{complaint_id}/template-preview",
        data={"body": "订单 {{ order_no.upper }}"},
        headers={"X-CSRF-Token": console.csrf},
    )
    assert preview.status_code == 422 and preview.json()["error"]
    saved = await console.post("/admin/templates", {"name": "致歉", "body": "您好，订单{{ order_no }}已处理"})
    assert saved.status_code == 303
    with wx.ctx.session() as s:
        complaint = s.get(Complaint, complaint_id)
        assert complaint is not None
        order_no = complaint.orders[0]["out_trade_no"]
    page = (await console.get(f"/complaints/{complaint_id}")).text
    template_id = re.search(r'<option value="(\d+)"[^>]*>致歉</option>', page)
    assert template_id
    rendered = await console.http.post(
        f"/complaints/{complaint_id}/template-preview",
        data={"template_id": template_id.group(1)},
        headers={"X-CSRF-Token": console.csrf},
    )
    assert rendered.json()["text"] == f"您好，订单{order_no}已处理"


async def test_language_switch_is_remembered_for_the_user(wx: Harness, console: Console) -> None:
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    assert "收件箱" in (await console.get("/")).text
    await console.post("/language", {"language": "en", "next": "/"})
    page = (await console.get("/")).text
    assert "Inbox" in page and "收件箱" not in page
    other = Console(wx)
    try:
        await other.login("agent1")
        assert "Inbox" in (await other.get("/")).text  # stored on the user, not only in this browser
    finally:
        await other.aclose()


async def test_bulk_assignment_with_one_foreign_complaint_changes_nothing(
    wx: Harness, console: Console
) -> None:
    mine = await _complaint(wx)
    foreign = await _complaint(wx, mchid="1900000101")
    agent = add_user(wx, "shop-agent", "agent", accounts=["shop"])
    await console.login("shop-agent")
    answer = await console.post(
        "/inbox/bulk", {"op": "assign", "assignee_id": "me", "ids": [str(mine), str(foreign)], "back": "/"}
    )
    assert answer.status_code == 303
    with wx.ctx.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Complaint).where(Complaint.assignee_id.is_not(None)))
            == 0
        )
    await console.post("/inbox/bulk", {"op": "assign", "assignee_id": "me", "ids": [str(mine)], "back": "/"})
    with wx.ctx.session() as s:
        assert s.get(Complaint, mine).assignee_id == agent  # type: ignore[union-attr]
    assert f"/complaints/{mine}" in (await console.get("/?view=mine")).text


async def test_refresh_from_upstream_brings_a_message_nobody_announced(wx: Harness, console: Console) -> None:
    complaint_id = await _complaint(wx, detail="杯子碎了")
    external = next(k for k, c in wx.complaints().items() if c.id == complaint_id)
    wx.state.user_message(external, "请尽快回复我", notify=False)
    add_user(wx, "agent1", "agent")
    add_user(wx, "viewer1", "viewer")
    await console.login("viewer1")
    page = (await console.get(f"/complaints/{complaint_id}")).text
    assert "请尽快回复我" not in page and 'data-testid="refresh"' not in page
    assert (await console.post(f"/complaints/{complaint_id}/refresh")).status_code == 403
    agent = Console(wx)
    try:
        await agent.login("agent1")
        await agent.get(f"/complaints/{complaint_id}")
        answer = await agent.post(f"/complaints/{complaint_id}/refresh")
        assert answer.status_code == 303
        page = (await agent.get(f"/complaints/{complaint_id}")).text
        assert "请尽快回复我" in page and "新增 1 条" in page
    finally:
        await agent.aclose()
