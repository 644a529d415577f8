"""Reconciliation against the simulator: dropped notifications recovered, budgets respected."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.e2e.harness import Harness, build, manual_clock_limiter

from complaintdesk.clock import ManualClock
from complaintdesk.core.accounts.models import PlatformCertificate
from complaintdesk.core.sync.models import SyncRun
from complaintdesk.jobs.scheduled import refresh_certificates, sync_account
from complaintdesk.sandbox.wechatpay import Faults, SignMode, seed
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


def _assert_mirrors_simulator(wx: Harness, mchids: set[str]) -> None:
    stored = wx.complaints()
    expected = [cid for cid in wx.state.complaint_ids() if wx.state.get(cid).complainted_mchid in mchids]
    assert set(expected) <= set(stored)
    for cid in expected:
        upstream = wx.state.complaint(cid)
        assert stored[cid].raw_status == upstream["complaint_state"], cid
        assert stored[cid].user_message_waiting == upstream["incoming_user_response"], cid
        assert {e.dedupe_key for e in wx.timeline(cid)} == {
            f"h:{h['log_id']}" for h in wx.state.history(cid)
        }, cid


async def test_sync_recovers_every_complaint_after_dropping_a_fifth_of_notifications(
    settings: Settings, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    settings.sync.lookback_days = 30
    wx = await build(
        settings,
        tmp_path,
        faults=Faults(drop_notification_rate=0.2),
        clock=clock,
        limiter=manual_clock_limiter(clock),
        limits={"list": 200, "detail": 200, "history": 200},
    )
    try:
        ids = seed(wx.state, wx.shop.mchid, count=80, days=25, rng=random.Random(3))
        await wx.deliver(rounds=2)
        await wx.process()
        missing_before = set(ids) - set(wx.complaints())
        dropped = [n for n in wx.state.notifications if n.dropped]
        assert dropped and missing_before, "the scenario must actually lose notifications"
        announced = {n.complaint_id for n in wx.state.notifications if n.delivered and not n.probe}

        report = await sync_account(wx.ctx, "shop")

        _assert_mirrors_simulator(wx, {wx.shop.mchid})
        assert wx.state.stats.rate_limited == 0
        assert set(report.unannounced) == set(ids) - announced
        assert report.created == len(missing_before)
        with wx.ctx.session() as s:
            run = s.query(SyncRun).one()
            assert run.status == "ok" and set(run.unannounced) == set(report.unannounced)

        again = await sync_account(
            wx.ctx, "shop"
        )  # nothing changed upstream: nothing new, no history re-read
        assert (again.created, again.updated, again.history_fetched) == (0, 0, 0)
        assert again.unannounced == []  # reported once, not on every sync
    finally:
        await wx.aclose()


async def test_sync_paces_itself_under_tight_budgets_without_a_single_429(
    settings: Settings, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    limits = {"list": 6, "detail": 6, "history": 6}
    for name, value in limits.items():
        setattr(settings.wechatpay, f"{name}_per_minute", value)
    settings.wechatpay.list_page_size = 10
    wx = await build(settings, tmp_path, clock=clock, limiter=manual_clock_limiter(clock), limits=limits)
    try:
        ids = seed(wx.state, wx.shop.mchid, count=30, days=40, rng=random.Random(5), notify=False)
        start = clock.now()
        report = await sync_account(wx.ctx, "shop", lookback_days=45)
        elapsed = clock.now() - start
        assert set(wx.complaints()) == set(ids)
        assert wx.state.stats.rate_limited == 0
        # 30 histories at 6/min cannot take less than four minutes: the budget really paced the calls
        assert elapsed >= timedelta(minutes=4)
        assert report.history_fetched == 30
        calls = wx.state.stats.calls
        assert calls["history"] == 30
    finally:
        await wx.aclose()


async def test_open_complaints_older_than_the_sweep_are_refreshed_by_id(
    settings: Settings, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    wx = await build(settings, tmp_path, clock=clock, limiter=manual_clock_limiter(clock))
    try:
        old = wx.state.create_complaint(
            wx.shop.mchid, detail="两个月前的投诉", complaint_time=clock.now() - timedelta(days=60)
        )
        await wx.deliver()
        await wx.process()
        wx.state.user_message(old, "还没处理吗？", notify=False)
        report = await sync_account(wx.ctx, "shop", lookback_days=30)
        assert report.refreshed == 1
        _assert_mirrors_simulator(wx, {wx.shop.mchid})
        assert wx.complaints()[old].user_message_waiting
    finally:
        await wx.aclose()


async def test_service_provider_sync_sees_all_sub_merchants(settings: Settings, tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    wx = await build(settings, tmp_path, clock=clock, limiter=manual_clock_limiter(clock))
    try:
        seed(wx.state, "1900000101", count=5, days=10, notify=False)
        seed(wx.state, "1900000102", count=5, days=10, notify=False)
        report = await sync_account(wx.ctx, "sp")
        assert report.created == 10
        _assert_mirrors_simulator(wx, {"1900000101", "1900000102"})
    finally:
        await wx.aclose()


async def test_platform_certificates_are_downloaded_and_then_verify_notifications(
    settings: Settings, tmp_path: Path
) -> None:
    wx = await build(
        settings,
        tmp_path,
        sign_mode=SignMode.CERTIFICATE,
        configure_public_key=False,
        configure_certificate=False,
    )
    try:
        wx.state.create_complaint(wx.shop.mchid)
        await wx.deliver()
        assert not wx.inbox_keys(), "without a platform key nothing can be verified"
        # bootstrap: the list opens with our APIv3 key and its response verifies with a listed certificate
        # (the refused notification may already have started the same refresh in the background)
        await refresh_certificates(wx.ctx, "shop")
        assert await refresh_certificates(wx.ctx, "shop") == 0  # nothing new the second time
        with wx.ctx.session() as s:
            assert [c.serial_no for c in s.query(PlatformCertificate)] == [wx.platform.serial_no]
        await wx.deliver()  # WeChat Pay retries the refused notification; now it verifies
        assert len(wx.inbox_keys()) == 1
        wx.ctx.forget()  # a restart reloads the stored certificate from the database
        wx.state.create_complaint(wx.shop.mchid)
        await wx.deliver()
        assert len(wx.inbox_keys()) == 2
        await wx.process()
        assert len(wx.complaints()) == 2
    finally:
        await wx.aclose()


async def test_an_unknown_serial_triggers_a_certificate_refresh_and_the_retry_is_accepted(
    settings: Settings, tmp_path: Path
) -> None:
    wx = await build(
        settings,
        tmp_path,
        sign_mode=SignMode.CERTIFICATE,
        configure_public_key=False,
        configure_certificate=False,
    )
    try:
        wx.state.create_complaint(wx.shop.mchid)
        await wx.deliver()  # refused: 401, and a refresh starts in the background
        assert not wx.inbox_keys()
        for _ in range(100):
            if len(wx.ctx.runtime_for("shop").extra["credentials"].verifier):
                break
            await asyncio.sleep(0.01)
        await wx.deliver()  # WeChat Pay's retry
        assert len(wx.inbox_keys()) == 1
    finally:
        await wx.aclose()
