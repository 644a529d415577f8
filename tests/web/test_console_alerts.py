"""The alert pages: destinations, rules, send test, the delivery log, endpoints, "my alerts"; bad input."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from tests.alert_receivers import http_receiver
from tests.core.consolekit import complaint as make_complaint
from tests.e2e.harness import Harness
from tests.web.conftest import Console, add_user

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.alerts import events as alert_events
from complaintdesk.core.alerts.models import AlertDelivery, AlertDestination, AlertRule
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.jobs.alerts import deliver_due

pytestmark = pytest.mark.anyio


def _count(wx: Harness, model: type) -> int:
    with wx.ctx.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _shop_id(wx: Harness) -> int:
    with wx.ctx.session() as s:
        return int(s.scalars(select(MerchantAccount.id).where(MerchantAccount.name == "shop")).one())


async def _admin(wx: Harness, console: Console) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    await console.get("/admin/alerts")


async def test_a_robot_is_added_tested_and_its_answer_logged_without_showing_its_token(
    wx: Harness, console: Console
) -> None:
    await _admin(wx, console)
    with http_receiver(secrets={"dingtalk": "SECding"}) as rx:
        added = await console.post(
            "/admin/alerts/destinations",
            {"name": "ops", "kind": "dingtalk", "url": rx.url("dingtalk"), "secret": "SECding",
             "events": ["sla_breach", "sla_warning"], "quiet_start": "22:00", "quiet_end": "08:00"},
        )  # fmt: skip
        assert added.status_code == 303
        page = await console.get(added.headers["location"])
        assert "钉钉机器人" in page.text and "tok123" not in page.text and "SECding" not in page.text
        tested = await console.post(added.headers["location"] + "/test")
        assert tested.status_code == 303
        page = await console.get(added.headers["location"])
        assert "测试消息已送达" in page.text
        assert len(rx.accepted) == 1 and "测试消息" in rx.texts("dingtalk")[0]
        assert '"errcode":0' in page.text.replace("&#34;", '"')  # the robot's own answer, logged
    with wx.ctx.session() as s:
        rule = s.scalars(select(AlertRule)).one()
        assert sorted(rule.events) == ["sla_breach", "sla_warning"]
        audits = [(a.actor, a.details.get("op")) for a in s.scalars(select(AuditEvent))]
        assert ("boss", "added") in audits and ("boss", "test") in audits
        assert all("SECding" not in str(a.details) for a in s.scalars(select(AuditEvent)))
    log = await console.get("/admin/alerts/log")
    assert log.status_code == 200 and "测试已送达" in log.text and "sent</td>" not in log.text


@pytest.mark.parametrize(
    ("fields", "field", "zh", "en"),
    [
        ({"kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "url",
         "缺少 key", "the key is missing"),
        ({"kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send"}, "url",
         "缺少 access_token", "the access_token is missing"),
        ({"kind": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/hook/"}, "url",
         "缺少 token", "the token is missing"),
        ({"kind": "webhook", "url": "http://example.com/hook"}, "url", "必须以 https://", "must start with https://"),
        ({"kind": "webhook", "url": "hooks.example.com/x"}, "url", "完整地址", "full address"),
        ({"kind": "webhook", "url": "https://h.example.com/x", "template": "{{ complaint.payer_phone }}"},
         "template", "不允许 Getattr", "Getattr is not allowed"),
        ({"kind": "webhook", "url": "https://h.example.com/x", "template": "{{ payer_phone_enc }}"},
         "template", "不允许的 payer_phone_enc", "payer_phone_enc, which is not allowed"),
        ({"kind": "email", "mail_to": "ops@example.com"}, "options", "SMTP 服务器", "SMTP server"),
        ({"kind": "email", "smtp_host": "127.0.0.1", "mail_to": "not-an-address"}, "options",
         "邮箱地址", "e-mail address"),
        ({"kind": "endpoint", "url": "https://erp.example.com/hooks"}, "account", "商户号",
         "merchant account"),
        ({"kind": "webhook", "url": "https://h.example.com/x", "quiet_start": "25:00",
          "quiet_end": "08:00"}, "quiet", "HH:MM", "HH:MM"),
        ({"kind": "webhook", "url": "https://h.example.com/x", "quiet_start": "22:00"}, "quiet",
         "开始和结束", "a start and an end"),
        ({"kind": "webhook", "url": "https://h.example.com/x", "min_interval": "soon"}, "interval",
         "秒数", "number of seconds"),
        ({"kind": "email", "smtp_host": "h", "smtp_port": "99999", "mail_to": "a@b.c"}, "port",
         "1 到 65535", "between 1 and 65535"),
        ({"kind": "fax", "url": "https://h.example.com/x"}, "kind", "类型", "kind of destination"),
    ],
)  # fmt: skip
async def test_bad_destinations_are_refused_next_to_the_field_in_the_uis_language(
    wx: Harness, console: Console, fields: dict[str, str], field: str, zh: str, en: str
) -> None:
    await _admin(wx, console)
    refused = await console.post("/admin/alerts/destinations", {"name": "x", **fields})
    assert refused.status_code == 422
    said = re.search(rf'data-testid="error-{field}">([^<]+)<', refused.text)
    assert said and zh in said.group(1).replace("&lt;", "<"), refused.text[-3000:]
    await console.post("/language", {"language": "en", "next": "/admin/alerts"})
    await console.get("/admin/alerts")
    refused = await console.post("/admin/alerts/destinations", {"name": "x", **fields})
    said = re.search(rf'data-testid="error-{field}">([^<]+)<', refused.text)
    assert refused.status_code == 422 and said and en in said.group(1)
    assert _count(wx, AlertDestination) == 0 and _count(wx, AlertRule) == 0


async def test_a_duplicate_name_and_a_bad_edit_change_nothing(wx: Harness, console: Console) -> None:
    await _admin(wx, console)
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY"
    first = await console.post("/admin/alerts/destinations", {"name": "ops", "kind": "wecom", "url": url})
    again = await console.post("/admin/alerts/destinations", {"name": "ops", "kind": "wecom", "url": url})
    assert first.status_code == 303 and again.status_code == 422 and "已有同名" in again.text
    path = first.headers["location"]
    page = await console.get(path)
    assert "SECRETKEY" not in page.text
    bad = await console.post(
        path, {"op": "save", "name": "ops", "url": "https://example.com/cgi-bin/webhook/send"}
    )
    assert bad.status_code == 422 and 'data-testid="error-url"' in bad.text
    saved = await console.post(
        path, {"op": "save", "name": "ops-2", "quiet_start": "23:00", "quiet_end": "07:00"}
    )
    assert saved.status_code == 303
    with wx.ctx.session() as s:
        dest = s.scalars(select(AlertDestination)).one()
        assert (dest.name, dest.quiet_start) == ("ops-2", "23:00")
        assert wx.ctx.cipher.decrypt(dest.url_enc) == url  # an empty address keeps the stored one
    await console.get(path)
    assert (await console.post(path, {"op": "disable"})).status_code == 303
    with wx.ctx.session() as s:
        assert s.scalars(select(AlertDestination.enabled)).one() is False
    await console.get(path)
    assert (await console.post(path, {"op": "delete"})).status_code == 303
    assert _count(wx, AlertDestination) == 0


async def test_an_endpoint_secret_is_shown_once_rotated_and_a_delivery_replayed(
    wx: Harness, console: Console
) -> None:
    await _admin(wx, console)
    shop = _shop_id(wx)
    with http_receiver() as rx:
        made = await console.post(
            "/admin/alerts/destinations",
            {"name": "erp", "kind": "endpoint", "url": rx.url("endpoint"), "account_id": str(shop),
             "events": ["new_complaint"]},
        )  # fmt: skip
        secret = re.search(r'data-testid="secret">(whsec_[^<]+)<', made.text)
        assert made.status_code == 200 and secret
        with wx.ctx.session() as s:
            dest_id = s.scalars(select(AlertDestination.id)).one()
        page = await console.get(f"/admin/alerts/destinations/{dest_id}")
        assert secret.group(1) not in page.text
        rotated = await console.post(f"/admin/alerts/destinations/{dest_id}", {"op": "rotate"})
        fresh = re.search(r'data-testid="secret">(whsec_[^<]+)<', rotated.text)
        assert fresh and fresh.group(1) != secret.group(1)
        rx.secrets["endpoint"] = secret.group(1)  # the old secret still verifies during the overlap
        with wx.ctx.session() as s:
            owner = s.get(MerchantAccount, shop)
            assert owner is not None
            c = make_complaint(s, owner)
            alert_events.record(
                session=s, kind=alert_events.EventKind.NEW_COMPLAINT, key=str(c.id), now=wx.ctx.clock.now(),
                complaint=c,
            )  # fmt: skip
        await deliver_due(wx.ctx)
        assert len(rx.accepted) == 1
        with wx.ctx.session() as s:
            delivery_id = s.scalars(select(AlertDelivery.id)).one()
        log = await console.get(f"/admin/alerts/log?destination={dest_id}")
        assert "已送达" in log.text and "新投诉" in log.text
        replayed = await console.post(f"/admin/alerts/log/{delivery_id}/replay")
        assert replayed.status_code == 303
        await deliver_due(wx.ctx)
        assert len(rx.accepted) == 2
        assert rx.accepted[0][2]["webhook-id"] == rx.accepted[1][2]["webhook-id"]
    with wx.ctx.session() as s:
        ops = [a.details.get("op") for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert {"added", "secret_rotated", "replay"} <= set(ops)
        assert all(secret.group(1) not in str(a.details) for a in s.scalars(select(AuditEvent)))


async def test_rules_for_a_user_show_on_their_page_and_bad_rules_are_refused(
    wx: Harness, console: Console
) -> None:
    agent_id = add_user(wx, "agent1", "agent")
    await _admin(wx, console)
    url = "https://oapi.dingtalk.com/robot/send?access_token=abc"
    await console.post("/admin/alerts/destinations", {"name": "mine", "kind": "dingtalk", "url": url})
    await console.get("/admin/alerts")
    with wx.ctx.session() as s:
        dest_id = s.scalars(select(AlertDestination.id)).one()
    made = await console.post(
        "/admin/alerts/rules",
        {"destination_id": str(dest_id), "user_id": str(agent_id), "events": ["assigned"]},
    )
    assert made.status_code == 303
    await console.get("/admin/alerts")
    for bad, says in (
        ({"destination_id": str(dest_id), "events": ["nonsense"]}, "请选择已知的事件"),
        ({"destination_id": str(dest_id), "user_id": "99999"}, "该用户不存在"),
        ({"destination_id": "", "events": ["assigned"]}, "请选择通知渠道"),
    ):
        refused = await console.post("/admin/alerts/rules", bad)
        assert refused.status_code == 422 and says in refused.text, bad
    assert _count(wx, AlertRule) == 1
    agent = Console(wx)
    try:
        await agent.login("agent1")
        assert (await agent.get("/admin/alerts")).status_code == 403
        mine = await agent.get("/alerts/mine")
        assert mine.status_code == 200 and "mine (钉钉机器人)" in mine.text and "分配给我" in mine.text
        assert "assigned" not in mine.text.split('data-testid="my-rules"')[1].split("</table>")[0]
    finally:
        await agent.aclose()
    with wx.ctx.session() as s:
        rule_id = s.scalars(select(AlertRule.id)).one()
    await console.get("/admin/alerts")
    assert (await console.post(f"/admin/alerts/rules/{rule_id}", {"op": "disable"})).status_code == 303
    await console.get("/admin/alerts")
    assert (await console.post(f"/admin/alerts/rules/{rule_id}", {"op": "delete"})).status_code == 303
    assert _count(wx, AlertRule) == 0


async def test_rotating_a_robot_an_unknown_rule_change_and_replaying_a_sending_delivery_are_refused(
    wx: Harness, console: Console
) -> None:
    await _admin(wx, console)
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"
    made = await console.post(
        "/admin/alerts/destinations", {"name": "ops", "kind": "wecom", "url": url, "all_events": "on"}
    )
    path = made.headers["location"]
    await console.get(path)
    rotated = await console.post(path, {"op": "rotate"})
    assert rotated.status_code == 422 and "只有推送端点有可轮换的签名密钥" in rotated.text
    with wx.ctx.session() as s:
        dest = s.scalars(select(AlertDestination)).one()
        assert dest.previous_secret_enc == "" and dest.secret_enc == ""
        rule_id = s.scalars(select(AlertRule.id)).one()
    await console.get("/admin/alerts")
    odd = await console.post(f"/admin/alerts/rules/{rule_id}", {"op": "explode"})
    assert odd.status_code == 422 and "未知的修改" in odd.text and _count(wx, AlertRule) == 1
    with wx.ctx.session() as s:
        owner = s.scalars(select(MerchantAccount).where(MerchantAccount.name == "shop")).one()
        c = make_complaint(s, owner)
        alert_events.record(
            session=s, kind=alert_events.EventKind.NEW_COMPLAINT, key=str(c.id), now=wx.ctx.clock.now(),
            complaint=c,
        )  # fmt: skip
        delivery = s.scalars(select(AlertDelivery)).one()
        delivery.status, delivery.attempts = "sending", 3
        delivery_id = delivery.id
    await console.get("/admin/alerts/log")
    refused = await console.post(f"/admin/alerts/log/{delivery_id}/replay")
    assert refused.status_code == 303
    assert "该消息正在发送中" in (await console.get("/admin/alerts/log")).text
    with wx.ctx.session() as s:
        row = s.get(AlertDelivery, delivery_id)
        assert row is not None and (row.status, row.attempts) == ("sending", 3)
