"""One sender per action: a sender that lost its claim never sends, a dead sender's action is taken over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.e2e.harness import Harness, build
from tests.e2e.test_api import token

from complaintdesk.clock import ManualClock
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import links as media_links
from complaintdesk.core.media.models import MediaLink
from complaintdesk.core.outbox import claims as outbox_claims
from complaintdesk.core.outbox import service as outbox_service
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.jobs.archive import archive_link
from complaintdesk.jobs.dispatch import dispatch_complaint, request_for
from complaintdesk.ratelimit import SlidingWindowLimiter
from complaintdesk.sandbox.wechatpay import Faults
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


class HeldReplyBudget:
    """A limiter that holds the first reply call until released (a long wait on the shared budget)."""

    def __init__(self) -> None:
        self.inner = SlidingWindowLimiter()
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()
        self.held = False

    async def acquire(self, key: str, per_minute: int) -> None:
        if key.endswith(":reply") and not self.held:
            self.held = True
            self.waiting.set()
            await self.release.wait()
        await self.inner.acquire(key, per_minute)


async def _complaint(wx: Harness, **fields: object) -> tuple[str, int]:
    external = wx.state.create_complaint(wx.shop.mchid, **fields)  # type: ignore[arg-type]
    await wx.deliver()
    await wx.process()
    with wx.ctx.session() as s:
        return external, s.query(Complaint).filter_by(external_id=external).one().id


async def _reply(wx: Harness, cid: int, text: str) -> str:
    answer = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers=token(wx, f"ops-{text}", all_accounts=True),
        json={"kind": "reply", "params": {"content": text}},
    )
    assert answer.status_code == 202
    return str(answer.json()["id"])


def _replies(wx: Harness, external: str) -> list[str]:
    return [
        e.get("operate_details", "")
        for e in wx.state.merchant_actions(external, api_only=True)
        if e["operate_type"] == "MERCHANT_RESPONSE"
    ]


def _action(wx: Harness, action_id: str) -> OutboundAction:
    with wx.ctx.session() as s:
        return s.get(OutboundAction, action_id)  # type: ignore[return-value]


async def test_a_sender_held_in_the_budget_past_its_lease_does_not_send_after_another_took_over(
    settings: Settings, tmp_path: Path
) -> None:
    """The reported double send: a send that outlasted its claim while waiting on the reply budget."""
    settings.jobs.lease_seconds = 2.0
    limiter = HeldReplyBudget()
    wx = await build(settings, tmp_path, limiter=limiter)
    try:
        external, cid = await _complaint(wx)
        action_id = await _reply(wx, cid, "您好，已为您处理")
        first = asyncio.create_task(dispatch_complaint(wx.ctx, cid))  # claims, then waits on the budget
        await asyncio.wait_for(limiter.waiting.wait(), timeout=30)
        assert _action(wx, action_id).fence == 1
        second = 0
        for _ in range(200):  # bounded: the lease is 2 s
            second = await dispatch_complaint(wx.ctx, cid)  # a second sender, as another worker would
            if second:
                break
            await asyncio.sleep(0.05)
        assert second == 1
        taken = _action(wx, action_id)
        assert (taken.status, taken.fence) == (ActionStatus.SENT, 2)  # checked history, then sent
        limiter.release.set()  # the first sender's budget wait ends: its gate finds the claim gone
        assert await asyncio.wait_for(first, timeout=30) == 1
        assert _replies(wx, external) == ["您好，已为您处理"]  # reached the consumer once
        assert wx.state.stats.applied["reply"] == 1
        final = _action(wx, action_id)
        assert (final.status, final.fence) == (ActionStatus.SENT, 2)  # the loser recorded nothing
    finally:
        limiter.release.set()
        await wx.aclose()


async def test_a_claim_that_lost_its_fence_cannot_settle(wx: Harness) -> None:
    _, cid = await _complaint(wx)
    action_id = await _reply(wx, cid, "稍后联系您")
    now = wx.ctx.clock.now()
    lease = timedelta(seconds=60)
    with wx.ctx.session() as s:
        old = outbox_claims.claim_next(session=s, complaint_id=cid, now=now, lease=lease)
    assert old is not None
    with wx.ctx.session() as s:  # nobody can claim while the lease holds
        assert outbox_claims.claim_next(session=s, complaint_id=cid, now=now, lease=lease) is None
    later = now + timedelta(seconds=61)
    with wx.ctx.session() as s:
        new = outbox_claims.claim_next(session=s, complaint_id=cid, now=later, lease=lease)
    assert new is not None and new.fence == old.fence + 1 and new.previous == ActionStatus.UNCERTAIN
    with wx.ctx.session() as s:
        assert not outbox_claims.confirm(session=s, claim=old, now=later, lease=lease)
        assert (
            outbox_service.settle(
                session=s, action_id=action_id, fence=old.fence, status=ActionStatus.FAILED, now=later
            )
            is None
        )
    assert _action(wx, action_id).status == ActionStatus.SENDING  # untouched by the stale holder
    with wx.ctx.session() as s:
        assert outbox_claims.confirm(session=s, claim=new, now=later, lease=lease)


async def test_a_sender_killed_after_the_upstream_applied_is_taken_over_without_a_second_send(
    settings: Settings, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    wx = await build(settings, tmp_path, clock=clock, faults=Faults())
    try:
        external, cid = await _complaint(wx)
        action_id = await _reply(wx, cid, "已退款，请查收")
        wx.state.faults.drop_next_response("reply")  # applied upstream; the answer never comes back
        lease = timedelta(seconds=wx.ctx.settings.jobs.lease_seconds)
        with wx.ctx.session() as s:  # a worker claims it, sends, and is killed before it can settle
            dead = outbox_claims.claim_next(session=s, complaint_id=cid, now=clock.now(), lease=lease)
        assert dead is not None
        await _send_as(wx, dead)
        assert await dispatch_complaint(wx.ctx, cid) == 0  # its lease still holds: nobody steals it
        clock.advance(lease.total_seconds() + 1)
        assert await dispatch_complaint(wx.ctx, cid) == 1  # taken over: uncertain, history read first
        assert _action(wx, action_id).status == ActionStatus.SENT
        assert _replies(wx, external) == ["已退款，请查收"]
        assert wx.state.stats.applied["reply"] == 1
    finally:
        await wx.aclose()


async def _send_as(wx: Harness, claim: outbox_claims.Claim) -> None:
    """What the killed worker did before it died: the request went out (its answer was dropped)."""
    with wx.ctx.session() as s:
        action = s.get(OutboundAction, claim.action_id)
        complaint = s.get(Complaint, claim.complaint_id)
        assert action is not None and complaint is not None
        request = request_for(action, complaint)
    with pytest.raises(Exception):  # noqa: B017 - the dropped answer surfaces as a transport error
        await wx.ctx.runtime_for("shop").adapter.perform(request)  # type: ignore[attr-defined]


async def test_an_image_is_fetched_once_by_two_downloaders(wx: Harness) -> None:
    _, cid = await _complaint(wx, images=1)
    with wx.ctx.session() as s:
        link_id = s.query(MediaLink).filter_by(complaint_id=cid).one().id
    before = wx.state.stats.ok["images"]
    results = await asyncio.gather(archive_link(wx.ctx, link_id), archive_link(wx.ctx, link_id))
    assert sorted(results) == [False, True]  # one won the claim and stored it
    assert wx.state.stats.ok["images"] - before == 1
    with wx.ctx.session() as s:
        assert s.get(MediaLink, link_id).sha256 is not None  # type: ignore[union-attr]
        assert media_links.due_ids(session=s, now=wx.ctx.clock.now()) == []


async def test_a_download_whose_worker_died_is_taken_over_once_its_lease_ran_out(
    settings: Settings, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    wx = await build(settings, tmp_path, clock=clock)
    try:
        _, cid = await _complaint(wx, images=1)
        with wx.ctx.session() as s:
            link_id = s.query(MediaLink).filter_by(complaint_id=cid).one().id
        lease = timedelta(seconds=wx.ctx.settings.jobs.lease_seconds)
        with wx.ctx.session() as s:  # a worker claims the download and is killed before it fetches
            dead = media_links.claim(session=s, link_id=link_id, now=clock.now(), lease=lease)
        assert dead is not None
        assert await archive_link(wx.ctx, link_id) is False  # its lease holds: nobody else fetches
        before = wx.state.stats.ok["images"]
        clock.advance(lease.total_seconds() + 1)
        assert await archive_link(wx.ctx, link_id) is True  # taken over
        assert wx.state.stats.ok["images"] - before == 1
        with wx.ctx.session() as s:
            assert not media_links.holds(session=s, claim=dead)  # the dead claim can record nothing
            assert s.get(MediaLink, link_id).fence == dead.fence + 1  # type: ignore[union-attr]
    finally:
        await wx.aclose()
