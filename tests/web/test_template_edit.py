"""Reply templates are editable: the create checks, errors next to the field in the UI language, audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from tests.e2e.harness import Harness
from tests.web.conftest import Console, add_user

from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.templates.models import ReplyTemplate

pytestmark = pytest.mark.anyio


async def _template(console: Console, wx: Harness, name: str, body: str = "您好") -> int:
    await console.get("/admin/templates")
    assert (await console.post("/admin/templates", {"name": name, "body": body})).status_code == 303
    with wx.ctx.session() as s:
        found = s.scalar(select(ReplyTemplate.id).where(ReplyTemplate.name == name))
    assert found is not None
    return found


def _stored(wx: Harness, template_id: int) -> tuple[str, str, str | None]:
    with wx.ctx.session() as s:
        t = s.get(ReplyTemplate, template_id)
        assert t is not None
        return t.name, t.body, t.channel


def _error(html: str, field: str) -> str:
    found = re.search(rf'data-testid="template-error-{field}">([^<]+)<', html)
    assert found, f"no error next to {field}"
    return found.group(1)


async def test_an_admin_edits_a_template_and_the_change_is_audited(wx: Harness, console: Console) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    template_id = await _template(console, wx, "致歉")
    listing = (await console.get("/admin/templates")).text
    assert f'href="/admin/templates/{template_id}"' in listing
    form = await console.get(f"/admin/templates/{template_id}")
    assert form.status_code == 200 and 'value="致歉"' in form.text and "您好</textarea>" in form.text
    saved = await console.post(
        f"/admin/templates/{template_id}",
        {"name": "致歉（正式）", "body": "您好，订单{{ order_no }}已处理", "channel": "wechatpay"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/templates"
    assert _stored(wx, template_id) == ("致歉（正式）", "您好，订单{{ order_no }}已处理", "wechatpay")
    cleared = await console.post(f"/admin/templates/{template_id}", {"name": "致歉（正式）", "body": "您好"})
    assert cleared.status_code == 303 and _stored(wx, template_id)[2] is None  # for every channel again
    with wx.ctx.session() as s:
        changes = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "template_changed")))
    assert [(e.actor, e.target_id) for e in changes] == [("boss", str(template_id))] * 2
    assert changes[0].details == {
        "name_before": "致歉",
        "name": "致歉（正式）",
        "changed": ["channel", "name", "text"],
    }
    assert changes[1].details["changed"] == ["channel", "text"]


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_a_refused_edit_shows_the_error_next_to_its_field_and_changes_nothing(
    wx: Harness, console: Console, language: str
) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    if language == "en":
        await console.post("/language", {"language": "en", "next": "/admin/templates"})
    template_id = await _template(console, wx, "致歉")
    await _template(console, wx, "催办")
    zh = language == "zh-CN"
    for fields, field, message in (
        ({"name": "", "body": "您好"}, "name", "最多 128 个字符" if zh else "at most 128 characters"),
        ({"name": "x" * 129, "body": "您好"}, "name", "最多 128 个字符" if zh else "at most 128 characters"),
        ({"name": "催办", "body": "您好"}, "name", "已有同名模板" if zh else "exists already"),
        (
            {"name": "致歉", "body": "好" * 201, "channel": "wechatpay"},
            "body",
            "200" if zh else "at most 200",
        ),
        ({"name": "致歉", "body": "好" * 2001}, "body", "2000"),
        ({"name": "致歉", "body": "{{ phone }}"}, "body", "只能使用这些变量" if zh else "may only use"),
        ({"name": "致歉", "body": "{% if %}"}, "body", "第 1 行" if zh else "line 1"),
        ({"name": "致歉", "body": "  "}, "body", "请填写模板正文" if zh else "Write the template"),
        (
            {"name": "致歉", "body": "您好", "channel": "fax"},
            "channel",
            "请从列表中选择渠道" if zh else "Choose a channel",
        ),
    ):
        await console.get(f"/admin/templates/{template_id}")
        answer = await console.post(f"/admin/templates/{template_id}", fields)
        assert answer.status_code == 422, fields
        assert message in _error(answer.text, field), (fields, _error(answer.text, field))
        assert _stored(wx, template_id) == ("致歉", "您好", None), fields
    with wx.ctx.session() as s:
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "template_changed")) is None
    refused = await console.post(
        "/admin/templates", {"name": "长", "body": "好" * 201, "channel": "wechatpay"}
    )
    assert refused.status_code == 422 and ("200" in _error(refused.text, "body"))


async def test_only_template_managers_edit_and_unknown_templates_are_404(
    wx: Harness, console: Console
) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    template_id = await _template(console, wx, "致歉")
    assert (await console.get("/admin/templates/99999")).status_code == 404
    assert (await console.post("/admin/templates/99999", {"name": "x", "body": "y"})).status_code == 404
    assert (await console.get("/admin/templates/99999999999999999999")).status_code in (400, 404, 422)
    agent = Console(wx)
    try:
        add_user(wx, "agent1", "agent")
        await agent.login("agent1")
        assert (await agent.get(f"/admin/templates/{template_id}")).status_code == 403
        assert (
            await agent.post(f"/admin/templates/{template_id}", {"name": "x", "body": "y"})
        ).status_code == 403
    finally:
        await agent.aclose()
    assert _stored(wx, template_id) == ("致歉", "您好", None)
