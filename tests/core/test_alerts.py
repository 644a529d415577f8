"""Alerts end to end on SQLite and PostgreSQL, against real receivers on loopback."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from consolekit import T0, account, complaint
from sqlalchemy import select
from tests.alert_receivers import http_receiver, smtp_server

from complaintdesk.clock import ManualClock
from complaintdesk.core.alerts import service as alert_service
from complaintdesk.core.alerts.models import AlertAttempt, AlertDelivery, AlertEvent
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.sla import service as sla_service
from complaintdesk.errors import DestinationInvalid
from complaintdesk.jobs.alerts import deliver_due
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio
H = timedelta(hours=1)


@pytest.fixture
def ctx(db_url: str, tmp_path: Path) -> Iterator[AppContext]:
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        data_key=secrets.token_urlsafe(40),
        public_base_url="https://desk.example.com",
        alerts={"backoff_initial": 30.0, "read_timeout": 0.5, "connect_timeout": 0.5},  # type: ignore[arg-type]
    )
    context = AppContext(settings, clock=ManualClock(T0))
    yield context
    context.engine.dispose()


def _clock(ctx: AppContext) -> ManualClock:
    assert isinstance(ctx.clock, ManualClock)
    return ctx.clock


def _setup(ctx: AppContext, kind: str, url: str = "", secret: str = "", **kw: Any) -> tuple[int, int]:
    events = kw.pop("events", None)
    with ctx.session() as s:
        shop = account(s, "shop")
        c = complaint(s, shop, amount_fen=1990, phone="13800138000")
        dest = alert_service.add_destination(
            session=s,
            cipher=ctx.cipher,
            settings=ctx.settings.alerts,
            name=kind,
            kind=kind,
            url=url,
            secret=secret,
            account_id=shop.id if kind == "endpoint" else None,
            **kw,
        )
        alert_service.add_rule(session=s, destination_id=dest.id, events=events)
        return c.id, dest.id


def _evaluate(ctx: AppContext, at: timedelta) -> None:
    _clock(ctx).set(T0 + at)
    with ctx.session() as s:
        sla_service.evaluate_all(session=s, now=T0 + at, settings=ctx.settings.sla)


def _attempts(ctx: AppContext) -> list[AlertAttempt]:
    with ctx.session() as s:
        rows = list(s.scalars(select(AlertAttempt).order_by(AlertAttempt.id)))
        s.expunge_all()
        return rows


async def test_sla_warnings_and_breach_reach_dingtalk_once_each_signed(ctx: AppContext) -> None:
    with http_receiver(secrets={"dingtalk": "SECdingtalk"}) as rx:
        cid, _ = _setup(
            ctx, "dingtalk", rx.url("dingtalk"), "SECdingtalk", events=["sla_warning", "sla_breach"]
        )
        # first reply due T0+24h: warnings at 18 h (6 h lead) and 23 h (1 h), breach at 24 h
        for at in (1, 18.5, 18.6, 23.2, 23.3, 24.5, 24.6, 30):
            _evaluate(ctx, at * H)
            _clock(ctx).advance(3600)  # past every rate limit
            await deliver_due(ctx)
        texts = rx.texts("dingtalk")
        assert [t.splitlines()[0] for t in texts] == [
            "### 【投诉即将超时】",
            "### 【投诉即将超时】",
            "### 【投诉已超时】",
        ]
        assert "剩余约 6 小时" in texts[0] and "剩余约 1 小时" in texts[1]
        assert all(f"https://desk.example.com/complaints/{cid}" in t for t in texts)
        assert all("13800138000" not in t and "138****8000" not in t for t in texts)  # no personal data
        assert rx.refused == []
    with ctx.session() as s:
        assert {d.status for d in s.scalars(select(AlertDelivery))} == {"sent"}


async def test_a_burst_becomes_one_digest_and_quiet_hours_hold_it_until_they_end(ctx: AppContext) -> None:
    with http_receiver() as rx:
        # 08:00 Shanghai is T0; quiet from 07:00 to 09:00
        _setup(ctx, "wecom", rx.url("wecom"), quiet=("07:00", "09:00"), events=["new_complaint"])
        with ctx.session() as s:
            shop = account(s, "shop2")
            from complaintdesk.core.alerts import events

            for _ in range(30):
                c = complaint(s, shop)
                events.record(
                    session=s, kind=events.EventKind.NEW_COMPLAINT, key=str(c.id), now=T0, complaint=c
                )
        assert await deliver_due(ctx) == 0  # quiet hours
        _clock(ctx).advance(3600 + 1)  # 09:00:01
        assert await deliver_due(ctx) == 1
        assert len(rx.accepted) == 1
        digest = rx.texts("wecom")[0]
        assert "投诉提醒汇总" in digest and "新投诉: 30" in digest and "另有 10 条" in digest


async def test_a_destination_that_fails_twice_then_succeeds_gets_the_message_once(ctx: AppContext) -> None:
    with http_receiver(secrets={"feishu": "fs-secret"}, script=["500", "errcode"]) as rx:
        _setup(ctx, "feishu", rx.url("feishu"), "fs-secret", language="en", events=["sla_breach"])
        _evaluate(ctx, 25 * H)
        for _ in range(6):
            await deliver_due(ctx)
            _clock(ctx).advance(3600)
        assert len(rx.requests) == 3
        assert len(rx.accepted) == 1 and rx.texts("feishu")[0].startswith("【Complaint deadline missed】")
    attempts = _attempts(ctx)
    assert [(a.outcome, a.status_code) for a in attempts] == [("failed", 500), ("failed", 200), ("sent", 200)]
    assert "11232" in attempts[1].answer  # Feishu's own code is kept as the destination's answer


async def test_a_wrong_signing_secret_is_refused_by_the_robot_and_logged(ctx: AppContext) -> None:
    with http_receiver(secrets={"dingtalk": "right"}) as rx:
        _setup(ctx, "dingtalk", rx.url("dingtalk"), "wrong", events=["sla_breach"])
        _evaluate(ctx, 25 * H)
        await deliver_due(ctx)
        assert rx.accepted == [] and rx.refused and "310000" in rx.refused[0][1]
    attempt = _attempts(ctx)[-1]
    assert attempt.outcome == "failed" and "sign not match" in attempt.answer
    with ctx.session() as s:
        assert {d.status for d in s.scalars(select(AlertDelivery))} == {"pending"}  # retried later


async def test_a_slow_receiver_times_out_and_nothing_piles_up(ctx: AppContext) -> None:
    with http_receiver(script=["slow"], slow_seconds=1.5) as rx:
        _setup(ctx, "webhook", rx.url("webhook"), events=["new_complaint"])
        with ctx.session() as s:
            from complaintdesk.core.alerts import events

            shop = account(s, "other")
            for _ in range(5):
                c = complaint(s, shop)
                events.record(
                    session=s, kind=events.EventKind.NEW_COMPLAINT, key=str(c.id), now=T0, complaint=c
                )
        await deliver_due(ctx)
        assert "timeout" in (await _last_error(ctx))
        _clock(ctx).advance(3600)
        await deliver_due(ctx)
        # the five events went out as one message each time: the timed-out one (whose outcome we
        # cannot know, so it is retried) and its retry; never five messages
        assert len(rx.requests) == 2
        assert all("新投诉: 5" in body.decode() for _, _, body in rx.requests)
    with ctx.session() as s:
        assert {d.status for d in s.scalars(select(AlertDelivery))} == {"sent"}


async def _last_error(ctx: AppContext) -> str:
    with ctx.session() as s:
        return str(s.scalar(select(AlertDelivery.error).order_by(AlertDelivery.id.desc()).limit(1)))


async def test_email_through_a_real_smtp_server_and_an_unreachable_one(ctx: AppContext) -> None:
    with smtp_server() as (port, mails):
        _setup(
            ctx,
            "email",
            options={"host": "127.0.0.1", "port": port, "to": ["ops@example.com"]},
            events=["sla_breach"],
        )
        _evaluate(ctx, 25 * H)
        await deliver_due(ctx)
        assert len(mails) == 1 and "投诉已超时" in str(mails[0]["Subject"])
    _evaluate(ctx, 73 * H)  # the finish deadline breaches too; the server is gone now
    _clock(ctx).advance(3600)
    await deliver_due(ctx)
    assert "SMTP unreachable" in await _last_error(ctx)


async def test_standard_webhooks_endpoint_verifies_and_rotation_keeps_both_secrets_valid(
    ctx: AppContext,
) -> None:
    with http_receiver() as rx:
        cid, dest_id = _setup(ctx, "endpoint", rx.url("endpoint"), "", events=["sla_breach", "sla_warning"])
        with ctx.session() as s:
            dest = alert_service.get_destination(session=s, destination_id=dest_id)
            old = ctx.cipher.decrypt(dest.secret_enc)
            new = alert_service.rotate_secret(
                session=s, cipher=ctx.cipher, destination=dest, now=T0, overlap_hours=24
            )
        rx.secrets["endpoint"] = old  # a receiver not yet updated still verifies
        _evaluate(ctx, 19 * H)
        await deliver_due(ctx)
        rx.secrets["endpoint"] = new  # and one already updated too
        _evaluate(ctx, 25 * H)
        await deliver_due(ctx)
        assert [body["type"] for _, body, _ in rx.accepted] == [
            "complaint.sla_warning",
            "complaint.sla_breach",
        ]
        assert all(body["data"]["complaint_id"] == cid for _, body, _ in rx.accepted)
        ids = [h["webhook-id"] for _, _, h in rx.accepted]
        assert len(set(ids)) == 2
        rx.secrets["endpoint"] = "whsec_" + "A" * 44  # a wrong secret: the receiver refuses
        _evaluate(ctx, 73 * H)
        await deliver_due(ctx)
        assert rx.refused and rx.refused[-1][0] == "endpoint"


@pytest.mark.parametrize(
    ("kind", "url", "says"),
    [
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "key is missing"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send", "access_token is missing"),
        ("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/", "token is missing"),
        ("webhook", "http://example.com/hook", "must use https://"),
        ("webhook", "qyapi.weixin.qq.com/x", "full https:// URL"),
    ],
)
def test_a_misconfigured_url_is_refused_when_saved(ctx: AppContext, kind: str, url: str, says: str) -> None:
    with ctx.session() as s, pytest.raises(DestinationInvalid, match=says):
        alert_service.add_destination(
            session=s, cipher=ctx.cipher, settings=ctx.settings.alerts, name="x", kind=kind, url=url
        )


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{{ payer_phone_enc }}", "not allowed"),
        ("{{ complaint.payer_phone_masked }}", "Getattr is not allowed"),
        ("{{ ''.__class__ }}", "not allowed"),
        ("{% for x in y %}{% endfor %}", "not allowed"),
    ],
)
def test_a_template_naming_a_forbidden_attribute_is_refused(
    ctx: AppContext, template: str, says: str
) -> None:
    with ctx.session() as s, pytest.raises(DestinationInvalid, match=says):
        alert_service.add_destination(
            session=s,
            cipher=ctx.cipher,
            settings=ctx.settings.alerts,
            name="t",
            kind="webhook",
            url="https://hooks.example.com/x",
            options={"template": template},
        )


def test_secrets_are_stored_encrypted_and_events_recorded_once(ctx: AppContext) -> None:
    cid, dest_id = _setup(
        ctx, "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=SECRET_TOKEN", "SECxyz"
    )
    with ctx.session() as s:
        dest = alert_service.get_destination(session=s, destination_id=dest_id)
        assert "SECRET_TOKEN" not in dest.url_enc + dest.url_hint and "SECxyz" not in dest.secret_enc
        c = s.get(Complaint, cid)
        assert c is not None
        for _ in range(3):
            sla_service.evaluate(session=s, complaint=c, now=T0 + 25 * H)
        kinds = [e.kind for e in s.scalars(select(AlertEvent))]
        assert kinds.count("sla_breach") == 1


async def test_send_test_and_a_replay_with_the_same_webhook_id(ctx: AppContext) -> None:
    from complaintdesk.core.alerts import delivery as alert_delivery
    from complaintdesk.jobs.alerts import send_test

    with http_receiver() as rx:
        _, dest_id = _setup(ctx, "endpoint", rx.url("endpoint"), "", events=["sla_breach"])
        with ctx.session() as s:
            rx.secrets["endpoint"] = ctx.cipher.decrypt(
                alert_service.get_destination(session=s, destination_id=dest_id).secret_enc
            )
        assert (await send_test(ctx, dest_id)).ok
        _evaluate(ctx, 25 * H)
        await deliver_due(ctx)
        with ctx.session() as s:
            delivery_id = s.scalars(select(AlertDelivery.id)).one()
            alert_delivery.replay(session=s, delivery_id=delivery_id, now=ctx.clock.now())
        await deliver_due(ctx)
        types = [body["type"] for _, body, _ in rx.accepted]
        assert types == ["test", "complaint.sla_breach", "complaint.sla_breach"]
        assert rx.accepted[1][2]["webhook-id"] == rx.accepted[2][2]["webhook-id"]
    assert [a.outcome for a in _attempts(ctx)] == ["test", "sent", "sent"]


@pytest.mark.parametrize(("kind", "code"), [("wecom", "45009"), ("dingtalk", "45009")])
async def test_a_robot_answering_its_own_error_code_is_retried_and_its_answer_kept(
    ctx: AppContext, kind: str, code: str
) -> None:
    with http_receiver(script=["errcode"]) as rx:
        _setup(ctx, kind, rx.url(kind), events=["sla_breach"])
        _evaluate(ctx, 25 * H)
        await deliver_due(ctx)
        assert rx.accepted == [] and len(rx.requests) == 1  # HTTP 200, but the robot said no
        with ctx.session() as s:
            assert {d.status for d in s.scalars(select(AlertDelivery))} == {"pending"}
        _clock(ctx).advance(3600)
        await deliver_due(ctx)
        assert len(rx.accepted) == 1
    first, second = _attempts(ctx)
    assert (first.outcome, first.status_code) == ("failed", 200) and code in first.answer
    assert second.outcome == "sent"


async def test_an_endpoint_answering_5xx_gets_the_same_event_again_with_the_same_id(ctx: AppContext) -> None:
    with http_receiver(script=["500"]) as rx:
        _, dest_id = _setup(ctx, "endpoint", rx.url("endpoint"), "", events=["sla_breach"])
        with ctx.session() as s:
            rx.secrets["endpoint"] = ctx.cipher.decrypt(
                alert_service.get_destination(session=s, destination_id=dest_id).secret_enc
            )
        _evaluate(ctx, 25 * H)
        await deliver_due(ctx)
        _clock(ctx).advance(3600)
        await deliver_due(ctx)
        assert len(rx.requests) == 2 and len(rx.accepted) == 1
        assert rx.requests[0][1]["webhook-id"] == rx.requests[1][1]["webhook-id"]
    assert [(a.outcome, a.status_code) for a in _attempts(ctx)] == [("failed", 500), ("sent", 204)]
