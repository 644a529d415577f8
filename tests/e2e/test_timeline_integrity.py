"""Issue #12: each channel's timeline stays the same through refreshes and syncs, and each reply shows once.

Every channel runs against its own simulator: complaints with images and several history entries,
replies (with an image) through the outbox, then ten refreshes of every complaint and two syncs. The
Mini Program simulator re-signs its image links whenever its clock moves, as the real CDN does, and
the clock moves before every refresh, so the links do change under our feet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.e2e.harness import Harness, build
from tests.e2e.harness_channels import MERCHANT_NO, ChannelsHarness, build_channels
from tests.e2e.test_api import png, token

from complaintdesk.clock import ManualClock
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media.models import MediaLink
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.jobs.dispatch import dispatch_actions
from complaintdesk.jobs.scheduled import sync_account
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio
Row = tuple[str, str, str, str, str]


@pytest.fixture
async def wx(settings: Settings, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await build(settings, tmp_path)
    yield harness
    await harness.aclose()


@pytest.fixture
async def ch(settings: Settings, tmp_path: Path) -> AsyncIterator[ChannelsHarness]:
    harness = await build_channels(settings, tmp_path)
    yield harness
    await harness.aclose()


def _shown(ctx: AppContext, external_ids: list[str]) -> dict[str, list[Row]]:
    """Each complaint's timeline as shown: (key, source, kind, actor label, text) in order."""
    with ctx.session() as s:
        out: dict[str, list[Row]] = {}
        for external_id in external_ids:
            complaint = s.scalars(select(Complaint).where(Complaint.external_id == external_id)).one()
            out[external_id] = [
                (e.dedupe_key, e.source, e.kind, e.actor_label, e.text)
                for e in timeline_service.list_for(session=s, complaint_id=complaint.id)
            ]
        return out


def _media(ctx: AppContext) -> dict[str, list[str]]:
    with ctx.session() as s:
        return {e.dedupe_key: e.media_urls for e in s.scalars(select(TimelineEntry)) if e.media_urls}


def _links(ctx: AppContext) -> int:
    with ctx.session() as s:
        return len(s.scalars(select(MediaLink.id)).all())


async def _refresh(ctx: AppContext, name: str, external_id: str) -> None:
    """What the console's refresh does: fetch detail and history, apply them in one transaction."""
    snapshot = await ctx.runtime_for(name).adapter.fetch(external_id, with_history=True)

    def store(session: Session) -> None:
        from complaintdesk.core.complaints import service as complaint_service

        account = account_service.get_by_name_or_raise(session=session, name=name)
        complaint_service.apply_snapshot(
            session=session, account=account, snapshot=snapshot, cipher=ctx.cipher,
            now=ctx.clock.now(), discovered_by="sync",
        )  # fmt: skip

    await ctx.db(store)


async def _reply(
    ctx: AppContext,
    desk: httpx.AsyncClient,
    headers: dict[str, str],
    external_id: str,
    params: dict[str, Any],
) -> str:
    with ctx.session() as s:
        complaint_id = s.scalars(select(Complaint.id).where(Complaint.external_id == external_id)).one()
    body = {"kind": "reply", "params": params}
    answer = await desk.post(f"/api/v1/complaints/{complaint_id}/actions", headers=headers, json=body)
    assert answer.status_code == 202, answer.json()
    for _ in range(20):
        if not await dispatch_actions(ctx):
            break
    with ctx.session() as s:
        action = s.get(OutboundAction, answer.json()["id"])
        assert action is not None and action.status == ActionStatus.SENT, action and action.error_message
    return str(answer.json()["id"])


async def _check_stable(
    ctx: AppContext, name: str, ids: list[str], replies: dict[str, str], tick: Callable[[], None]
) -> dict[str, list[str]]:
    """Refresh all once, then ten times more and sync twice: the shown timelines must not move."""
    for external_id in ids:
        await _refresh(ctx, name, external_id)
    first = _shown(ctx, ids)
    media_first = _media(ctx)
    for _ in range(10):
        tick()
        for external_id in ids:
            await _refresh(ctx, name, external_id)
        assert _shown(ctx, ids) == first
    for _ in range(2):
        tick()
        await sync_account(ctx, name)
    assert _shown(ctx, ids) == first
    for external_id, text in replies.items():
        mine = [row for row in first[external_id] if row[4] == text]
        assert len(mine) == 1, first[external_id]  # the action and the upstream's echo are one entry
        key, source, _kind, label, _text = mine[0]
        assert source == "action" and label == "token:ops"
        with ctx.session() as s:
            own = s.scalars(select(TimelineEntry).where(TimelineEntry.dedupe_key == key)).one()
            echoes = s.scalars(select(TimelineEntry).where(TimelineEntry.echo_of == own.id)).all()
            assert [e.text for e in echoes] == [text] and own.raw["echo"] == echoes[0].dedupe_key
    for rows in first.values():
        assert all(row[4] or row[2] for row in rows)  # nothing empty is shown
        assert len({row[0] for row in rows}) == len(rows)
    return {key: urls for key, urls in _media(ctx).items() if media_first.get(key) != urls}


async def test_wechatpay_timeline_is_stable_and_replies_show_once(wx: Harness) -> None:
    headers = token(wx, "ops", all_accounts=True)
    image = (
        await wx.desk.post("/api/v1/media", headers=headers, files={"file": ("a.png", png(), "image/png")})
    ).json()
    ids = [wx.state.create_complaint("1900000001", images=2) for _ in range(3)]
    for index, external_id in enumerate(ids):
        wx.state.user_message(external_id, f"还没收到货 {index}", images=1)
        wx.state.platform_message(external_id, "请商户尽快处理")
    await wx.deliver()
    await wx.process()
    replies = {}
    for index, external_id in enumerate(ids[:2]):
        text = f"您好，已补发 {index}"
        await _reply(wx.ctx, wx.desk, headers, external_id, {"content": text, "images": [image["sha256"]]})
        replies[external_id] = text
    await wx.deliver()
    await wx.process()
    await _check_stable(wx.ctx, "shop", ids, replies, lambda: None)
    assert all(len(wx.timeline(external_id)) >= 3 for external_id in ids)  # several upstream entries


async def test_mini_program_timeline_is_stable_though_links_change(ch: ChannelsHarness) -> None:
    clock = ManualClock(datetime.now(UTC))
    ch.mp_state.clock = clock
    headers = token(ch, "ops", all_accounts=True)  # type: ignore[arg-type]
    image = (
        await ch.desk.post("/api/v1/media", headers=headers, files={"file": ("a.png", png(), "image/png")})
    ).json()
    appid = ch.mp_creds.appid
    ids = [ch.mp_state.create_complaint(appid, images=2) for _ in range(3)]
    for index, external_id in enumerate(ids):
        clock.advance(30)
        ch.mp_state.user_message(external_id, f"什么时候退款 {index}", images=1)
        ch.mp_state.user_message(external_id, "再问一次", images=0)
    await ch.mp_notifier.deliver_pending()
    await ch.process()
    replies = {}
    for index, external_id in enumerate(ids[:2]):
        text = f"同意和解，已安排退款 {index}"
        params = {"mp_action": "respond", "agree": 1, "content": text, "images": [image["sha256"]]}
        await _reply(ch.ctx, ch.desk, headers, external_id, params)
        replies[external_id] = text
    await ch.mp_notifier.deliver_pending()
    await ch.process()
    links_before = _links(ch.ctx)
    changed = await _check_stable(ch.ctx, "mp", ids, replies, lambda: clock.advance(5))
    assert changed  # the links were re-signed, refreshed on the same entries
    assert _links(ch.ctx) == links_before  # one archive link per image: re-signed URLs add none


async def test_huishouqian_timeline_is_stable_and_replies_show_once(ch: ChannelsHarness) -> None:
    headers = token(ch, "ops", all_accounts=True)  # type: ignore[arg-type]
    image = (
        await ch.desk.post("/api/v1/media", headers=headers, files={"file": ("a.png", png(), "image/png")})
    ).json()
    ids = [ch.hs_state.create_complaint(MERCHANT_NO, images=2) for _ in range(3)]
    for index, external_id in enumerate(ids):
        ch.hs_state.user_message(external_id, f"请尽快处理 {index}", images=1)
        ch.hs_state.platform_message(external_id, "请商户尽快处理")
    await ch.hs_notifier.deliver_pending()
    await ch.process()
    replies = {}
    for index, external_id in enumerate(ids[:2]):
        text = f"您好，已处理 {index}"
        await _reply(ch.ctx, ch.desk, headers, external_id, {"content": text, "images": [image["sha256"]]})
        replies[external_id] = text
    await ch.hs_notifier.deliver_pending()
    await ch.process()
    await _check_stable(ch.ctx, "hsq", ids, replies, lambda: None)
