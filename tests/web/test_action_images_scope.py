"""Issue #12: an action may carry only images of its own merchant account (API and console)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from tests.e2e.harness import Harness
from tests.e2e.test_api import png, token
from tests.web.conftest import Console, add_user

from complaintdesk.core.media.models import MediaLink
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.jobs.archive import archive_media

pytestmark = pytest.mark.anyio

SUB_MERCHANT = "1900000101"  # of the provider account "sp"


async def _complaint(wx: Harness, mchid: str, **fields: object) -> int:
    external = wx.state.create_complaint(mchid, **fields)  # type: ignore[arg-type]
    await wx.deliver()
    await wx.process()
    return wx.complaints()[external].id


async def _reply(wx: Harness, headers: dict[str, str], complaint_id: int, sha256: str) -> tuple[int, dict]:
    answer = await wx.desk.post(
        f"/api/v1/complaints/{complaint_id}/actions",
        headers=headers,
        json={"kind": "reply", "params": {"content": "凭证见图", "images": [sha256]}},
    )
    return answer.status_code, answer.json()


def _without(message: str, sha256: str) -> str:
    return message.replace(sha256[:12], "<ref>")


async def test_a_token_cannot_reply_with_another_merchants_upload(wx: Harness) -> None:
    ours = await _complaint(wx, wx.shop.mchid)
    shop, provider = token(wx, "shop-erp", ["shop"]), token(wx, "sp-erp", ["sp"])
    theirs = png(3, 3)
    uploaded = await wx.desk.post(
        "/api/v1/media", headers=provider, files={"file": ("b.png", theirs, "image/png")}
    )
    foreign = uploaded.json()["sha256"]

    status, body = await _reply(wx, shop, ours, foreign)
    assert status == 422 and body["field"] == "images"
    unknown = hashlib.sha256(png(5, 5)).hexdigest()  # archived nowhere
    status_unknown, body_unknown = await _reply(wx, shop, ours, unknown)
    assert status_unknown == 422
    assert _without(body["message"], foreign) == _without(body_unknown["message"], unknown)  # no oracle
    assert wx.count(OutboundAction) == 0  # nothing half-written
    assert (await wx.desk.get(f"/api/v1/media/{foreign}", headers=shop)).status_code == 404

    mine = await wx.desk.post("/api/v1/media", headers=shop, files={"file": ("a.png", theirs, "image/png")})
    assert mine.json()["sha256"] == foreign  # the same bytes, now uploaded by the shop itself
    status, body = await _reply(wx, shop, ours, foreign)
    assert status == 202, body


async def test_a_merchants_own_evidence_may_be_reused_only_by_that_merchant(wx: Harness) -> None:
    with_image = await _complaint(wx, wx.shop.mchid, images=1)
    another = await _complaint(wx, wx.shop.mchid)
    sub = await _complaint(wx, SUB_MERCHANT)
    assert await archive_media(wx.ctx) == 1
    with wx.ctx.session() as s:
        evidence = s.scalar(select(MediaLink.sha256).where(MediaLink.complaint_id == with_image))
    assert evidence
    everyone = token(wx, "ops", all_accounts=True)
    status, body = await _reply(wx, token(wx, "sp-erp", ["sp"]), sub, evidence)
    assert status == 422 and body["field"] == "images"
    status, body = await _reply(
        wx, everyone, sub, evidence
    )  # even an all-accounts token: not that merchant's
    assert status == 422 and body["field"] == "images"
    status, body = await _reply(wx, token(wx, "shop-erp", ["shop"]), another, evidence)
    assert status == 202, body


async def test_the_console_refuses_another_merchants_image(wx: Harness, console: Console) -> None:
    ours = await _complaint(wx, wx.shop.mchid)
    sub = await _complaint(wx, SUB_MERCHANT)
    add_user(wx, "sp-agent", "agent", accounts=["sp"])
    add_user(wx, "shop-agent", "agent", accounts=["shop"])
    other = Console(wx)
    try:
        await other.login("sp-agent")
        await other.get(f"/complaints/{sub}")
        uploaded = await other.http.post(
            "/upload",
            data={"complaint_id": str(sub)},
            files={"file": ("b.png", png(4, 4), "image/png")},
            headers={"X-CSRF-Token": other.csrf},
        )
        assert uploaded.status_code == 201
        foreign = uploaded.json()["sha256"]
    finally:
        await other.aclose()
    await console.login("shop-agent")
    await console.get(f"/complaints/{ours}")
    answer = await console.post(
        f"/complaints/{ours}/actions/reply", {"content": "凭证见图", "images": foreign}
    )
    assert answer.status_code == 422
    assert foreign[:12] in answer.text  # the refusal names the image, next to the composer
    assert wx.count(OutboundAction) == 0
    assert (await console.get(f"/media/{foreign}")).status_code == 404
    mine = await console.http.post(
        "/upload",
        data={"complaint_id": str(ours)},
        files={"file": ("a.png", png(4, 4), "image/png")},
        headers={"X-CSRF-Token": console.csrf},
    )
    assert mine.json()["sha256"] == foreign
    answer = await console.post(
        f"/complaints/{ours}/actions/reply", {"content": "凭证见图", "images": foreign}
    )
    assert answer.status_code == 303
