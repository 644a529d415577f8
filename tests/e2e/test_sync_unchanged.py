"""A sync that finds nothing changed upstream writes nothing and decrypts no phone; a change still lands."""

from __future__ import annotations

import logging
import math
import random
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from tests.e2e.harness import Harness, build, manual_clock_limiter

from complaintdesk.channels.wechatpay import channel as wechatpay_channel
from complaintdesk.clock import ManualClock
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.sync.service import PAGE_SIZE
from complaintdesk.jobs.scheduled import sync_account
from complaintdesk.sandbox.wechatpay import seed
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio

COUNT = 120  # more than two list pages
_STATEMENT = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b", re.IGNORECASE)
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)\"?", re.IGNORECASE)


@contextmanager
def statements(wx: Harness) -> Iterator[Counter[tuple[str, str]]]:
    """Count (verb, first table) of every SQL statement the application's engine sends."""
    seen: Counter[tuple[str, str]] = Counter()

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        verb, table = _STATEMENT.match(sql), _TABLE.search(sql)
        if verb and table:
            seen[(verb.group(1).upper(), table.group(1))] += 1

    event.listen(wx.ctx.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(wx.ctx.engine, "before_cursor_execute", count)


@pytest.fixture
def decrypts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ciphertexts our WeChat Pay channel decrypted: the real RSA-OAEP function, counted."""
    calls: list[str] = []
    real = wechatpay_channel.decrypt_oaep

    def counted(key: Any, ciphertext: str) -> str:
        calls.append(ciphertext)
        return real(key, ciphertext)

    monkeypatch.setattr(wechatpay_channel, "decrypt_oaep", counted)
    return calls


async def _synced(settings: Settings, tmp_path: Path) -> tuple[Harness, list[str]]:
    clock = ManualClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    wx = await build(settings, tmp_path, clock=clock, limiter=manual_clock_limiter(clock))
    ids = seed(wx.state, wx.shop.mchid, count=COUNT, days=25, rng=random.Random(5), notify=False)
    try:
        first = await sync_account(wx.ctx, "shop", lookback_days=30)
        assert first.created == COUNT
    except BaseException:
        await wx.aclose()
        raise
    clock.advance(300)  # the next sync runs later (histories are still fresh enough)
    return wx, ids


def _rows(wx: Harness) -> dict[str, tuple[Any, ...]]:
    with wx.ctx.session() as s:
        return {
            c.external_id: (
                c.updated_at,
                c.last_refreshed_at,
                c.sla_next_check_at,
                c.raw_hash,
                c.payer_phone_enc,
            )
            for c in s.scalars(select(Complaint))
        }


async def test_a_second_sync_with_nothing_changed_writes_nothing_and_decrypts_no_phone(
    settings: Settings, tmp_path: Path, decrypts: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wx, ids = await _synced(settings, tmp_path)
    try:
        with_phone = [cid for cid in ids if wx.state.get(cid).payer_phone]
        assert with_phone and len(decrypts) == len(with_phone)  # the first sync stores every phone
        before = _rows(wx)
        decrypts.clear()

        with statements(wx) as seen:
            again = await sync_account(wx.ctx, "shop", lookback_days=30)

        assert (again.listed, again.created, again.updated, again.history_fetched) == (COUNT, 0, 0, 0)
        assert decrypts == []
        writes = {key: n for key, n in seen.items() if key[0] != "SELECT"}
        assert not [key for key in writes if key[1] in {"complaint", "timeline_entry", "media_link"}], writes
        # one lookup per page of listed complaints, not one per complaint (plus the open-complaint refresh
        # and the unannounced report, one query each)
        pages = again.windows + math.ceil(COUNT / PAGE_SIZE)
        assert seen[("SELECT", "complaint")] <= pages + 2, seen
        assert _rows(wx) == before  # not even last_refreshed_at: the SLA engine is not woken for nothing
        phones = {wx.state.get(cid).payer_phone for cid in with_phone}
        assert not [p for p in phones if p and p in caplog.text]
    finally:
        await wx.aclose()


async def test_a_changed_complaint_is_still_updated_with_its_timeline_and_new_phone(
    settings: Settings, tmp_path: Path, decrypts: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wx, ids = await _synced(settings, tmp_path)
    try:
        changed = next(cid for cid in reversed(ids) if not wx.state.get(cid).incoming_user_response)
        untouched = next(cid for cid in ids if cid != changed)
        wx.state.get(changed).payer_phone = "13912345678"
        wx.state.user_message(changed, "还没处理吗？", notify=False)
        before = _rows(wx)
        decrypts.clear()

        with statements(wx) as seen:
            again = await sync_account(wx.ctx, "shop", lookback_days=30)

        assert (again.created, again.updated, again.history_fetched) == (0, 1, 1)
        assert len(decrypts) == 1  # the changed complaint's phone, nobody else's
        assert seen[("UPDATE", "complaint")] >= 1
        after = _rows(wx)
        assert after[untouched] == before[untouched]
        assert {cid for cid in ids if after[cid] != before[cid]} == {changed}
        with wx.ctx.session() as s:
            row = s.scalars(select(Complaint).where(Complaint.external_id == changed)).one()
            assert row.user_message_waiting
            assert row.payer_phone_masked == "139****5678"
            enc = row.payer_phone_enc or ""
            assert "13912345678" not in enc and wx.ctx.cipher.decrypt(enc) == "13912345678"
        assert {e.dedupe_key for e in wx.timeline(changed)} == {
            f"h:{h['log_id']}" for h in wx.state.history(changed)
        }
        assert [e.text for e in wx.timeline(changed)][-1] == "还没处理吗？"
        assert "13912345678" not in caplog.text
    finally:
        await wx.aclose()
