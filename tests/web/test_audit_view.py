"""The audit view: filters, bounded pages, labels in both languages, and a streamed, audited CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from tests.e2e.harness import Harness
from tests.web.conftest import Console, add_user

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.audit.service import AuditFilter
from complaintdesk.web.params import MAX_PAGE

pytestmark = pytest.mark.anyio
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _seed(wx: Harness) -> None:
    """Events of two operators on two complaints, one a day old, and one that held a raw phone number.

    Bob's old action request names him ``user:bob``, as action requests did before the log named
    console users by their username alone."""
    now = wx.ctx.clock.now()
    with wx.ctx.session() as s:
        old = "user:bob"
        for actor, target, action, at, details in (
            ("alice", "11", "note_added", now, {"entry": "x"}),
            ("alice", "12", "complaint_assigned", now, {"from": None, "to": 3}),
            (old, "11", "action_requested", now - timedelta(days=2), {"kind": "reply", "can_write": True}),
            ("bob", "", "template_changed", now, {"name_before": "旧", "name": "新"}),
        ):
            audit_service.record(
                session=s, action=action, actor=actor, ip="10.0.0.1", at=at, details=details,
                target_type="complaint" if target else "template", target_id=target or "7",
            )  # fmt: skip
        s.add(  # written before details were scrubbed: the export masks it all the same
            AuditEvent(
                at=now, actor="legacy", action="note_added", target_type="complaint", target_id="13",
                details={"text": "用户电话 13812345678"},
            )
        )  # fmt: skip


def _actions(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-action="')[1:]]


async def test_filters_by_complaint_operator_kind_and_dates(wx: Harness, console: Console) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    _seed(wx)
    by_complaint = await console.get("/admin/audit?complaint=11")
    assert by_complaint.status_code == 200
    assert sorted(_actions(by_complaint.text)) == ["action_requested", "note_added"]
    assert 'href="/complaints/11"' in by_complaint.text
    assert _actions((await console.get("/admin/audit?actor=bob")).text) == [
        "template_changed",
        "action_requested",
    ]
    assert _actions((await console.get("/admin/audit?actor=user:bob")).text) == [
        "template_changed",
        "action_requested",
    ]
    assert _actions((await console.get("/admin/audit?actor=alice")).text) == [
        "complaint_assigned",
        "note_added",
    ]
    assert _actions((await console.get("/admin/audit?action=complaint_assigned")).text) == [
        "complaint_assigned"
    ]
    day = (wx.ctx.clock.now() - timedelta(days=2)).astimezone(SHANGHAI).strftime("%Y-%m-%d")
    old = await console.get(f"/admin/audit?from={day}&to={day}&actor=bob")
    assert _actions(old.text) == ["action_requested"]
    assert _actions((await console.get(f"/admin/audit?to={day}")).text) == ["action_requested"]


async def test_bad_filters_and_huge_pages_answer_4xx_in_the_ui_language(
    wx: Harness, console: Console
) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    _seed(wx)
    for query, message in (
        ("complaint=abc", "仅数字"),
        ("complaint=99999999999999999999", "仅数字"),
        ("from=2026-13-01", "YYYY-MM-DD"),
        ("from=2026-05-02&to=2026-05-01", "结束日期早于开始日期"),
        ("action=drop_table", "未知的事件类型"),
    ):
        answer = await console.get(f"/admin/audit?{query}")
        assert answer.status_code == 400, query
        assert message in answer.text and 'data-action="' not in answer.text, query
        assert (await console.get(f"/admin/audit.csv?{query}")).status_code == 400, query
    for page in (10**17, 2**63, MAX_PAGE + 1, -1):
        assert (await console.get(f"/admin/audit?page={page}")).status_code == 400, page
    last = await console.get(f"/admin/audit?page={MAX_PAGE}")
    assert last.status_code == 200 and 'data-action="' not in last.text


async def test_events_are_labelled_in_zh_cn_and_en(wx: Harness, console: Console) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    _seed(wx)
    zh = (await console.get("/admin/audit?actor=bob")).text
    assert (
        "模板变更" in zh
        and "<dt>原名称</dt><dd translate='no'>旧</dd>" in zh
        and "<dd translate='no'>回复</dd>" in zh
        and "<dd translate='no'>是</dd>" in zh
    )
    await console.post("/language", {"language": "en", "next": "/admin/audit"})
    en = (await console.get("/admin/audit?actor=bob")).text
    assert "Template changed" in en and "<dt>Name before</dt>" in en and "<dd translate='no'>Reply</dd>" in en
    assert "<dt>May request actions</dt><dd translate='no'>Yes</dd>" in en
    assert "原名称" not in en


async def test_the_csv_export_is_filtered_streamed_masked_and_audited(wx: Harness, console: Console) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    _seed(wx)
    with wx.ctx.session() as s:
        for n in range(1500):  # more than one chunk of rows
            audit_service.record(session=s, action="login", actor=f"u{n}", target_type="user", target_id=n)
    with wx.ctx.session() as s:  # the export is written in chunks as rows are read, never whole
        chunks = list(audit_service.iter_csv(session=s, filters=AuditFilter(actions=["login"]), batch=100))
    assert len(chunks) > 2 and all(len(c) < 64_000 for c in chunks)
    answer = await console.get("/admin/audit.csv?action=login")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "content-length" not in answer.headers  # a streamed answer
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert (
        rows[0][:4] == ["at", "actor", "actor_ip", "action"] and len(rows) == 1 + 1500 + 1
    )  # and boss signing in
    assert {r[3] for r in rows[1:]} == {"login"} and rows[1][-1] == "登录"
    whole = (await console.get("/admin/audit.csv?complaint=13")).text
    assert "13812345678" not in whole and "138****5678" in whole
    with wx.ctx.session() as s:
        exports = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "export")))
        assert [e.actor for e in exports] == ["boss", "boss"]
        assert exports[0].details == {"rows": 1501, "filters": {"action": "login"}}
        assert s.scalar(select(func.count()).select_from(AuditEvent)) > 1500
