"""Merchant actions through the API, the outbox and the simulator: each applied exactly once."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.e2e.harness import Harness, build, manual_clock_limiter
from tests.e2e.test_api import png, token

from complaintdesk.clock import ManualClock
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.jobs.archive import archive_media
from complaintdesk.jobs.dispatch import dispatch_actions
from complaintdesk.sandbox.wechatpay import Faults
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


async def _complaint(wx: Harness, mchid: str | None = None, **fields: object) -> tuple[str, int]:
    external = wx.state.create_complaint(mchid or wx.shop.mchid, **fields)  # type: ignore[arg-type]
    await wx.deliver()
    await wx.process()
    with wx.ctx.session() as s:
        from complaintdesk.core.complaints.models import Complaint

        return external, s.query(Complaint).filter_by(external_id=external).one().id


async def _drain(wx: Harness, clock: ManualClock | None = None, rounds: int = 200) -> None:
    for _ in range(rounds):
        with wx.ctx.session() as s:
            open_actions = (
                s.query(OutboundAction).filter(OutboundAction.status.in_(ActionStatus.OPEN)).count()
            )
        if not open_actions:
            return
        if not await dispatch_actions(wx.ctx) and clock is not None:
            clock.advance(5)
    raise AssertionError("actions still open after draining")


def _texts(wx: Harness, external: str, operate_type: str = "MERCHANT_RESPONSE") -> list[str]:
    return [
        e.get("operate_details", "")
        for e in wx.state.merchant_actions(external, api_only=True)
        if e["operate_type"] == operate_type
    ]


async def test_reply_with_an_image_then_complete(wx: Harness) -> None:
    external, cid = await _complaint(wx, detail="商品有破损", images=1)
    headers = token(wx, "ops", all_accounts=True)
    image = (
        await wx.desk.post(
            "/api/v1/media", headers=headers, files={"file": ("proof.png", png(), "image/png")}
        )
    ).json()
    answer = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers=headers,
        json={
            "kind": "reply",
            "params": {"content": "您好，已为您补发，请查收。", "images": [image["sha256"]]},
        },
    )
    assert answer.status_code == 202 and answer.json()["status"] == "pending"
    shown = (await wx.desk.get(f"/api/v1/complaints/{cid}", headers=headers)).json()
    ours = [e for e in shown["timeline"] if e["source"] == "action"]
    assert [(e["text"], e["status"]) for e in ours] == [
        ("您好，已为您补发，请查收。", "pending")
    ]  # visible at once

    await _drain(wx)
    state = (await wx.desk.get(f"/api/v1/actions/{answer.json()['id']}", headers=headers)).json()
    assert state["status"] == "sent"
    assert _texts(wx, external) == ["您好，已为您补发，请查收。"]
    reply_entry = wx.state.merchant_actions(external, api_only=True)[0]
    assert reply_entry.get("complaint_media_list"), "the uploaded image is attached upstream"
    detail = (await wx.desk.get(f"/api/v1/complaints/{cid}", headers=headers)).json()
    assert detail["raw_status"] == "PROCESSING" and detail["status"] == "responded"
    assert "complete" in detail["allowed_actions"]

    done = await wx.desk.post(f"/api/v1/complaints/{cid}/actions", headers=headers, json={"kind": "complete"})
    assert done.status_code == 202
    await _drain(wx)
    assert wx.state.complaint(external)["complaint_state"] == "PROCESSED"
    detail = (await wx.desk.get(f"/api/v1/complaints/{cid}", headers=headers)).json()
    assert detail["status"] == "resolved" and detail["allowed_actions"] == []


@pytest.mark.parametrize("decision", ["refund_approve", "refund_reject"])
async def test_refund_decisions(wx: Harness, decision: str) -> None:
    external, cid = await _complaint(wx, problem_type="REFUND", apply_refund_amount_fen=1999)
    headers = token(wx, "ops", all_accounts=True)
    params = (
        {"launch_refund_day": 0}
        if decision == "refund_approve"
        else {"reject_reason": "商品已使用，不符合退款条件"}
    )
    answer = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions", headers=headers, json={"kind": decision, "params": params}
    )
    assert answer.status_code == 202, answer.json()
    await _drain(wx)
    assert wx.state.complaint(external)["complaint_state"] == "PROCESSED"
    expected = "MERCHANT_APPROVE_REFUND" if decision == "refund_approve" else "MERCHANT_REFUSE_RERUND"
    assert [e["operate_type"] for e in wx.state.merchant_actions(external, api_only=True)] == [expected]
    again = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions", headers=headers, json={"kind": decision, "params": params}
    )
    assert again.status_code == 422  # finished: no second decision


@pytest.mark.parametrize(
    ("body", "field_or_text"),
    [
        ({"kind": "reply", "params": {"content": "好" * 201}}, "200"),
        ({"kind": "reply", "params": {"content": "谢谢😀"}}, "U+1F600"),
        ({"kind": "reply", "params": {"content": "见图", "images": ["a", "b", "c", "d", "e"]}}, "4"),
        (
            {"kind": "reply", "params": {"content": "见链接", "jump_url": "https://shop.example/c"}},
            "jump_url_text",
        ),
        (
            {"kind": "refund_reject", "params": {"reject_reason": "不符合", "launch_refund_day": 1}},
            "launch_refund_day",
        ),
        (
            {"kind": "immediate_reply", "params": {"blocks": [{"type": "TEXT", "text": {"text": "您好"}}]}},
            "immediate",
        ),
    ],
    ids=[
        "too-long",
        "emoji",
        "five-images",
        "jump-url-without-text",
        "reject-with-refund-day",
        "not-immediate",
    ],
)
async def test_bad_actions_are_refused_before_anything_is_sent(
    wx: Harness, body: dict[str, object], field_or_text: str
) -> None:
    _, cid = await _complaint(wx, problem_type="REFUND", apply_refund_amount_fen=100)
    headers = token(wx, "ops", all_accounts=True)
    before = dict(wx.state.stats.calls)
    answer = await wx.desk.post(f"/api/v1/complaints/{cid}/actions", headers=headers, json=body)
    assert answer.status_code == 422, answer.json()
    assert field_or_text.lower() in (answer.json()["message"] + answer.json().get("field", "")).lower()
    assert wx.count(OutboundAction) == 0
    writes = {
        k: v
        for k, v in wx.state.stats.calls.items()
        if k in {"reply", "immediate_reply", "complete", "refund_progress", "upload"}
    }
    assert writes == {k: v for k, v in before.items() if k in writes}


async def test_images_the_channel_refuses_and_wrong_states_and_scopes(wx: Harness) -> None:
    external, cid = await _complaint(wx)
    headers = token(wx, "ops", all_accounts=True)
    big = (
        await wx.desk.post(
            "/api/v1/media",
            headers=headers,
            files={"file": ("big.png", png(padding=int(2.1 * 2**20)), "image/png")},
        )
    ).json()
    answer = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"content": "见图", "images": [big["sha256"]]}},
    )
    assert answer.status_code == 422 and "2" in answer.json()["message"] and "MB" in answer.json()["message"]
    unknown = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"content": "见图", "images": ["f" * 64]}},
    )
    assert unknown.status_code == 422 and "archive" in unknown.json()["message"]
    wx.state.complete(external)  # finished upstream (e.g. by another system)
    from complaintdesk.jobs.scheduled import sync_account

    await sync_account(wx.ctx, "shop")
    late = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"content": "您好"}},
    )
    assert late.status_code == 422 and "PROCESSED" in late.json()["message"]
    assert (
        await wx.desk.post("/api/v1/complaints/999999/actions", headers=headers, json={"kind": "complete"})
    ).status_code == 404
    _, sub_cid = await _complaint(wx, mchid="1900000101")
    shop_only = token(wx, "shop-erp", ["shop"])
    foreign = await wx.desk.post(
        f"/api/v1/complaints/{sub_cid}/actions", headers=shop_only, json={"kind": "complete"}
    )
    assert foreign.status_code == 404
    viewer = token(wx, "viewer", ["shop"], write=False)
    assert (
        await wx.desk.post(f"/api/v1/complaints/{cid}/actions", headers=viewer, json={"kind": "complete"})
    ).status_code == 403
    assert wx.count(OutboundAction) == 0


async def test_service_provider_writes_carry_the_sub_merchant(wx: Harness) -> None:
    external, cid = await _complaint(wx, mchid="1900000102")
    headers = token(wx, "sp-erp", ["sp"])
    answer = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"content": "子商户已处理"}},
    )
    assert answer.status_code == 202
    await _drain(wx)  # the simulator answers NO_AUTH unless complainted_mchid is the sub-merchant
    assert _texts(wx, external) == ["子商户已处理"]


async def test_a_reply_whose_answer_was_lost_is_not_sent_again(wx: Harness) -> None:
    external, cid = await _complaint(wx)
    headers = token(wx, "ops", all_accounts=True)
    wx.state.faults.drop_next_response("reply")
    answer = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"content": "已处理"}},
    )
    await dispatch_actions(wx.ctx)
    with wx.ctx.session() as s:
        assert s.get(OutboundAction, answer.json()["id"]).status == ActionStatus.UNCERTAIN  # type: ignore[union-attr]
    with wx.ctx.session() as s:  # make the recheck due now
        s.get(OutboundAction, answer.json()["id"]).next_attempt_at = None  # type: ignore[union-attr]
    await _drain(wx)
    assert _texts(wx, external) == ["已处理"]
    assert wx.state.stats.applied["reply"] == 1


async def test_a_hundred_replies_under_faults_each_reach_the_user_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    wx = await build(settings, tmp_path, clock=clock, limiter=manual_clock_limiter(clock), faults=Faults())
    try:
        complaints = [await _complaint(wx) for _ in range(25)]
        headers = token(wx, "ops", all_accounts=True)
        wx.state.faults.error_rate = 0.15
        wx.state.faults.drop_response_after_apply_rate = 0.15
        rng = random.Random(9)
        sent: dict[str, list[str]] = {external: [] for external, _ in complaints}
        for i in range(100):
            external, cid = rng.choice(complaints)
            text = f"第{i}条回复"
            answer = await wx.desk.post(
                f"/api/v1/complaints/{cid}/actions",
                headers=headers,
                json={"kind": "reply", "params": {"content": text}},
            )
            assert answer.status_code == 202
            sent[external].append(text)
        await _drain(wx, clock, rounds=3000)
        with wx.ctx.session() as s:
            states = {a.status for a in s.query(OutboundAction)}
        assert states == {ActionStatus.SENT}
        for external, texts in sent.items():
            assert _texts(wx, external) == texts  # each once, in the order asked
        assert wx.state.stats.rate_limited == 0
        assert wx.state.stats.dropped_responses > 0 and wx.state.stats.injected_errors > 0
    finally:
        await wx.aclose()


async def test_evidence_is_archived_once_and_outlives_the_upstream_link(wx: Harness) -> None:
    external, cid = await _complaint(wx, images=3)
    await archive_media(wx.ctx)
    await archive_media(wx.ctx)
    headers = token(wx, "ops", all_accounts=True)
    detail = (await wx.desk.get(f"/api/v1/complaints/{cid}", headers=headers)).json()
    assert len(detail["images"]) == 3
    urls = wx.state.complaint(external)["complaint_media_list"][0]["media_url"]
    assert any(("%2F" in u or "%2B" in u or "%3D" in u) for u in urls), (
        "the simulator must exercise escaped ids"
    )
    with wx.ctx.session() as s:
        from complaintdesk.core.media.models import MediaFile, MediaLink

        links = s.query(MediaLink).filter_by(complaint_id=cid).all()
        assert len(links) == 3 and all(link.sha256 for link in links)
        assert s.query(MediaFile).count() == len({link.sha256 for link in links})
    assert wx.state.media.expire_downloads() >= 3  # the upstream links expire
    runtime = wx.ctx.runtime_for("shop")
    with pytest.raises(Exception):  # noqa: B017 - upstream now refuses the expired link
        await runtime.adapter.download_image(urls[0])  # type: ignore[attr-defined]
    for link in links:  # still served from our archive
        served = await wx.desk.get(f"/api/v1/media/{link.sha256}", headers=headers)
        assert served.status_code == 200 and served.headers["content-type"].startswith("image/")
    complaint_images = [i for e in detail["timeline"] for i in e["images"]]
    assert complaint_images, "the timeline points at archived copies"
