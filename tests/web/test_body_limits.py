"""Issue #12: request bodies of the API and the console are capped (declared and chunked alike)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from tests.e2e.harness import Harness
from tests.e2e.test_api import png, token
from tests.web.conftest import Console, add_user

from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.timeline.models import TimelineEntry

pytestmark = pytest.mark.anyio

CHUNK = 16 * 1024
CHUNKS = 1280  # 20 MB in all


class Stream:
    """A request body handed over in chunks, counting how many the server pulled."""

    def __init__(self, head: bytes, filler: bytes = b" ") -> None:
        self.head, self.filler, self.pulled = head, filler, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.pulled += 1
        yield self.head
        for _ in range(CHUNKS):
            self.pulled += 1
            yield self.filler * CHUNK


async def _complaint(wx: Harness) -> int:
    external = wx.state.create_complaint(wx.shop.mchid)
    await wx.deliver()
    await wx.process()
    return wx.complaints()[external].id


def _notes(wx: Harness) -> list[str]:
    with wx.ctx.session() as s:
        return list(s.scalars(select(TimelineEntry.text).where(TimelineEntry.source == "note")))


async def test_the_api_refuses_a_declared_oversized_body_without_reading_it(wx: Harness) -> None:
    cid = await _complaint(wx)
    headers = token(wx, "ops", all_accounts=True)
    body = Stream(b'{"kind": "reply", "params": {"content": "')
    answer = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers={**headers, "Content-Type": "application/json", "Content-Length": str(CHUNK * CHUNKS)},
        content=body,
    )
    assert answer.status_code == 413 and answer.json()["error"] == "BodyTooLarge"
    assert body.pulled <= 1  # refused on the header alone
    assert wx.count(OutboundAction) == 0


async def test_the_api_stops_reading_a_chunked_body_at_the_cap(wx: Harness) -> None:
    cid = await _complaint(wx)
    headers = token(wx, "ops", all_accounts=True)
    body = Stream(b'{"kind": "reply", "params": {"content": "')
    answer = await wx.desk.post(
        f"/api/v1/complaints/{cid}/actions",
        headers={**headers, "Content-Type": "application/json"},
        content=body,
    )
    assert answer.status_code == 413 and "KB" in answer.json()["message"]
    assert body.pulled < 40  # ~256 KB of the 20 MB, then no more
    assert wx.count(OutboundAction) == 0
    small = json.dumps({"kind": "reply", "params": {"content": "好" * 30_000}})  # ~90 KB: under the cap
    answer = await wx.desk.post(f"/api/v1/complaints/{cid}/actions", headers=headers, content=small)
    assert answer.status_code == 422  # read and judged by the route (too long for the channel)


async def test_an_upload_may_be_larger_than_a_form_but_not_unbounded(wx: Harness) -> None:
    headers = token(wx, "ops", all_accounts=True)
    image = png(padding=1024 * 1024)  # 1 MB: over the form cap, within the upload limit
    ok = await wx.desk.post("/api/v1/media", headers=headers, files={"file": ("a.png", image, "image/png")})
    assert ok.status_code == 201
    body = Stream(b"--x\r\nContent-Disposition: form-data; name=file; filename=a.png\r\n\r\n", b"\0")
    answer = await wx.desk.post(
        "/api/v1/media", headers={**headers, "Content-Type": "multipart/form-data; boundary=x"}, content=body
    )
    assert answer.status_code == 413
    assert body.pulled < 400  # ~5 MB of the 20 MB


async def test_a_console_form_over_the_cap_is_refused_declared_or_chunked(
    wx: Harness, console: Console
) -> None:
    cid = await _complaint(wx)
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    await console.get(f"/complaints/{cid}")
    head = f"csrf_token={console.csrf}&note=".encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    declared = Stream(head, b"a")
    answer = await console.http.post(
        f"/complaints/{cid}/notes",
        headers={**form, "Content-Length": str(CHUNK * CHUNKS)},
        content=declared,
    )
    assert answer.status_code == 413 and "413" in answer.text
    assert declared.pulled <= 1
    chunked = Stream(head, b"a")
    answer = await console.http.post(f"/complaints/{cid}/notes", headers=form, content=chunked)
    assert answer.status_code == 413
    assert chunked.pulled < 40
    assert _notes(wx) == []
    assert (await console.post(f"/complaints/{cid}/notes", {"note": "fits"})).status_code == 303
    assert _notes(wx) == ["fits"]
