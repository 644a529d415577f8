"""An account changed by one process (the console's) is used by every other without a restart.

The "processes" are two ``AppContext``s with their own cached runtimes in one test process: what OS
processes share is the database, and only the database, here too.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest
from tests.e2e.harness import build

from complaintdesk.core.accounts import service as account_service
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


async def test_a_reset_apiv3_key_and_a_disable_reach_a_process_that_had_the_account_loaded(
    settings: Settings, tmp_path: Path
) -> None:
    settings.account_recheck_seconds = 3600.0  # first: a process that does not look again for an hour
    wx = await build(settings, tmp_path)
    console = AppContext(settings)  # the process where the operator edits the account
    try:
        wx.state.create_complaint(wx.shop.mchid)
        await wx.deliver()
        assert len(wx.inbox_keys()) == 1  # the webhook process has built (and cached) the account

        # The APIv3 key is reset in WeChat Pay's merchant portal and pasted into the console.
        new_key = secrets.token_hex(16)
        merchant = wx.state.merchants.require(wx.shop.mchid)
        merchant.credentials = replace(merchant.credentials, apiv3_key=new_key)
        key_file = tmp_path / "apiv3_key_new.txt"
        key_file.write_text(new_key, encoding="ascii")
        key_file.chmod(0o600)
        with console.session() as session:
            account = account_service.get_by_name_or_raise(session=session, name="shop")
            changed = account_service.change(
                session=session, account=account, apiv3_key_ref=f"file:{key_file}"
            )
        assert changed == ["apiv3_key_ref"]

        wx.state.create_complaint(wx.shop.mchid)
        await wx.deliver()
        assert len(wx.inbox_keys()) == 1  # still on the old key: refused, WeChat Pay keeps it for a retry

        wx.ctx.settings.account_recheck_seconds = 0.0  # the next use compares revisions
        await wx.deliver()
        assert len(wx.inbox_keys()) == 2  # the retry opens with the new key, no restart

        with console.session() as session:
            account = account_service.get_by_name_or_raise(session=session, name="shop")
            account_service.set_enabled(session=session, account=account, enabled=False)
        wx.state.create_complaint(wx.shop.mchid)
        await wx.deliver()
        assert len(wx.inbox_keys()) == 2  # disabled elsewhere: refused here too
        answers = [n.answers[-1] for n in wx.state.notifications if not n.delivered]
        assert answers == [404]
    finally:
        await console.aclose()
        await wx.aclose()
