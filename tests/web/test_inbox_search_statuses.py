"""A search never silently hides finished complaints: the inbox says what the status filter hides."""

from __future__ import annotations

import pytest
from tests.e2e.harness import Harness
from tests.web.conftest import Console, add_user

from complaintdesk.core.complaints.models import Complaint

pytestmark = pytest.mark.anyio


async def test_a_search_names_what_the_status_filter_hides_and_links_to_all_statuses(
    wx: Harness, console: Console
) -> None:
    wx.state.create_complaint(wx.shop.mchid, detail="鞋子尺码不对，要求换货 XJ-77")
    await wx.deliver()
    await wx.process()
    with wx.ctx.session() as s:  # the complaint is finished
        s.query(Complaint).update({Complaint.status: "resolved"})
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    hidden = await console.get("/", params={"q": "XJ-77", "status": "active"})
    assert hidden.status_code == 200
    assert 'data-testid="hidden-by-status"' in hidden.text
    assert (
        "1 more complaints match this search in other statuses" in hidden.text
        or "另有 1 条投诉" in hidden.text
    )
    everywhere = await console.get("/", params={"q": "XJ-77", "status": ""})
    assert "XJ-77" in everywhere.text and 'data-testid="hidden-by-status"' not in everywhere.text
    plain = await console.get("/", params={"status": "active"})  # no search: nothing to say
    assert 'data-testid="hidden-by-status"' not in plain.text
