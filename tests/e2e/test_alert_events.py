"""Alert events end to end: a burst of forged webhook signatures (once per window, across processes),
and the merchant's endpoint following a complaint's life (created, action sent, updated)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.alert_receivers import http_receiver
from tests.e2e.harness import Harness
from tests.e2e.test_api import token
from tests.e2e.test_wechatpay_inbound import URL, _one_notification
from tests.e2e.test_wechatpay_outbound import _complaint, _drain

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.alerts import service as alert_service
from complaintdesk.core.alerts.models import AlertDelivery, AlertEvent
from complaintdesk.core.alerts.refusals import count_refusals, window_of
from complaintdesk.jobs.alerts import deliver_due
from complaintdesk.runtime import AppContext

pytestmark = pytest.mark.anyio


def _shop(wx: Harness) -> int:
    with wx.ctx.session() as s:
        return int(s.scalars(select(MerchantAccount.id).where(MerchantAccount.name == "shop")).one())


def _add(wx: Harness, name: str, kind: str, url: str, account: int | None, events: list[str]) -> int:
    with wx.ctx.session() as s:
        dest = alert_service.add_destination(
            session=s, cipher=wx.ctx.cipher, settings=wx.ctx.settings.alerts, name=name, kind=kind,
            url=url, account_id=account,
        )  # fmt: skip
        alert_service.add_rule(session=s, destination_id=dest.id, events=events)
        return dest.id


def _events(wx: Harness, kind: str) -> list[AlertEvent]:
    with wx.ctx.session() as s:
        rows = list(s.scalars(select(AlertEvent).where(AlertEvent.kind == kind).order_by(AlertEvent.id)))
        s.expunge_all()
        return rows


async def test_a_burst_of_forged_signatures_alerts_once_per_window_across_processes(wx: Harness) -> None:
    shop = _shop(wx)
    chat = _add(wx, "ops", "webhook", "https://hooks.example.com/ops", None, ["signatures_refused"])
    threshold = wx.ctx.settings.alerts.signature_refusals
    body, headers = _one_notification(wx)
    forged = body.replace(b'"EV-1"', b'"EV-2"')
    probe = {**headers, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]}
    for _ in range(threshold * 3):  # deliberate WeChat Pay probes are expected refusals: not counted
        assert (await wx.desk.post(URL, content=body, headers=probe)).status_code == 401
    await wx.app.webhook_router.refusals.drain()  # type: ignore[attr-defined]
    assert _events(wx, "signatures_refused") == []
    for _ in range(threshold - 1):
        assert (await wx.desk.post(URL, content=forged, headers=headers)).status_code == 401
    await wx.app.webhook_router.refusals.drain()  # type: ignore[attr-defined]
    assert _events(wx, "signatures_refused") == []
    for _ in range(threshold * 2):
        assert (await wx.desk.post(URL, content=forged, headers=headers)).status_code == 401
    await wx.app.webhook_router.refusals.drain()  # type: ignore[attr-defined]
    [event] = _events(wx, "signatures_refused")
    assert event.account_id == shop and event.facts["count"] >= threshold
    # Two more "processes" (their own engines) keep counting in the same window: still one alert.
    now = wx.ctx.clock.now()
    others = [AppContext(wx.settings, clock=wx.ctx.clock) for _ in range(2)]
    try:
        recorded: list[bool] = []

        def count(ctx: AppContext) -> None:
            for _ in range(threshold):
                with ctx.session() as s:
                    recorded.append(
                        count_refusals(
                            session=s, account_id=shop, refused=1, now=now, settings=ctx.settings.alerts
                        )
                    )

        threads = [threading.Thread(target=count, args=(ctx,)) for ctx in others]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert recorded.count(True) == 0
        # The next window: the first process to reach the threshold records it, once.
        later = window_of(now, wx.ctx.settings.alerts.signature_window_seconds) + timedelta(
            seconds=wx.ctx.settings.alerts.signature_window_seconds
        )
        recorded.clear()
        for ctx in [*others, *others] * threshold:
            with ctx.session() as s:
                recorded.append(
                    count_refusals(
                        session=s, account_id=shop, refused=1, now=later, settings=ctx.settings.alerts
                    )
                )
        assert recorded.count(True) == 1
    finally:
        for ctx in others:
            ctx.engine.dispose()
    assert len(_events(wx, "signatures_refused")) == 2
    with wx.ctx.session() as s:
        assert len(s.scalars(select(AlertDelivery).where(AlertDelivery.destination_id == chat)).all()) == 2


async def test_the_merchants_endpoint_follows_a_complaint_and_chats_get_no_endpoint_only_events(
    wx: Harness,
) -> None:
    shop = _shop(wx)
    with http_receiver() as rx:
        endpoint = _add(wx, "erp", "endpoint", rx.url("endpoint"), shop, [])
        chat = _add(wx, "team", "webhook", rx.url("webhook"), None, [])
        with wx.ctx.session() as s:
            dest = alert_service.get_destination(session=s, destination_id=endpoint)
            rx.secrets["endpoint"] = wx.ctx.cipher.decrypt(dest.secret_enc)
        external, cid = await _complaint(wx, detail="商品有破损")
        answer = await wx.desk.post(
            f"/api/v1/complaints/{cid}/actions",
            headers=token(wx, "ops", all_accounts=True),
            json={"kind": "reply", "params": {"content": "您好，已为您处理。"}},
        )
        assert answer.status_code == 202
        await _drain(wx)
        wx.state.user_message(external, "还没收到")
        await wx.deliver()
        await wx.process()
        for _ in range(20):
            if not await deliver_due(wx.ctx):
                break
        types = [body["type"] for _, body, _ in rx.accepted if "type" in body]
        assert types[0] == "complaint.new_complaint"
        assert "complaint.action_sent" in types and "complaint.complaint_updated" in types
        sent = [body for _, body, _ in rx.accepted if body.get("type") == "complaint.action_sent"]
        assert sent[0]["data"]["action"] == "reply" and sent[0]["data"]["complaint_id"] == cid
        assert rx.refused == []  # every endpoint message verified with standardwebhooks
    with wx.ctx.session() as s:
        chat_kinds = set(
            s.scalars(
                select(AlertEvent.kind)
                .join(AlertDelivery, AlertDelivery.event_id == AlertEvent.id)
                .where(AlertDelivery.destination_id == chat)
            )
        )
    assert "new_complaint" in chat_kinds
    assert not chat_kinds & {"complaint_updated", "action_sent"}


def test_window_of_is_fixed_and_aligned() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, 0, 19, 59, tzinfo=UTC)
    assert window_of(at, 600) == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert window_of(at + timedelta(seconds=1), 600) == datetime(2026, 1, 1, 0, 20, tzinfo=UTC)


async def test_updates_leave_no_event_rows_when_no_endpoint_wants_them(wx: Harness) -> None:
    _add(wx, "team", "webhook", "https://hooks.example.com/team", None, [])
    external, _cid = await _complaint(wx, detail="商品有破损")
    wx.state.user_message(external, "还没收到")
    await wx.deliver()
    await wx.process()
    assert _events(wx, "consumer_message") and _events(wx, "new_complaint")
    assert _events(wx, "complaint_updated") == []
