"""Platform-certificate rotation in the simulator, followed by the desk in two processes sharing the database.

The "processes" are two ``AppContext``s with their own runtimes and verifiers in one test process (what
separate OS processes share is the database, and only the database, here too).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import DESK, Harness, build

from complaintdesk.app import create_app
from complaintdesk.core.accounts.models import PlatformCertificate
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox.wechatpay import Notifier, SignMode
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


async def _until_trusted(ctx: AppContext, serial: str) -> None:
    """Wait for the background refresh an unknown serial starts (bounded; not a timing assertion)."""
    for _ in range(500):
        if serial in ctx.runtime_for("shop").extra["credentials"].verifier:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"certificate {serial} never became trusted")


def _stored(wx: Harness) -> set[str]:
    with wx.ctx.session() as session:
        return {c.serial_no for c in session.query(PlatformCertificate)}


async def test_rotation_is_followed_by_both_processes(settings: Settings, tmp_path: Path) -> None:
    wx = await build(settings, tmp_path, sign_mode=SignMode.CERTIFICATE, configure_public_key=False)
    second_ctx = AppContext(settings, transport_factory=lambda _account: httpx.ASGITransport(app=wx.sim_app))
    second_desk = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(ctx=second_ctx, run_jobs=False)), base_url=DESK
    )
    second = Notifier(wx.state, client=second_desk, retry_delays=(0.0, 0.0, 0.0))
    try:
        old = wx.platform.serial_no
        new = wx.state.certificates.rotate().serial_no  # both listed; the new one signs from now on
        wx.state.create_complaint(wx.shop.mchid)
        await wx.deliver()  # process 1 meets the new serial: refused, refresh in the background
        await _until_trusted(wx.ctx, new)
        await wx.deliver()  # WeChat Pay's retry verifies now
        assert len(wx.inbox_keys()) == 1
        assert _stored(wx) == {old, new}  # the download is shared through the database

        wx.state.certificates.retire(old)  # the overlap ends
        wx.state.create_complaint(wx.shop.mchid)
        await second.deliver_pending()  # process 2 knows only the configured (old) certificate
        await _until_trusted(second_ctx, new)  # taken from the database, not downloaded again
        await second.deliver_pending()
        assert len(wx.inbox_keys()) == 2
        assert wx.state.stats.calls["certificates"] == 1  # one download for the whole cluster
    finally:
        await second.aclose()
        await second_desk.aclose()
        await second_ctx.close_runtimes()
        await wx.aclose()
