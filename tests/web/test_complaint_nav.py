"""Next / previous complaint follow the inbox view the operator came from: its filters and its order."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select, update
from tests.e2e.harness import Harness
from tests.web.conftest import Console, add_user

from complaintdesk.core.complaints.models import Complaint

pytestmark = pytest.mark.anyio


async def _complaints(wx: Harness, n: int) -> list[int]:
    """``n`` complaints; deadlines spread out, two without one, one finished."""
    externals = [wx.state.create_complaint(wx.shop.mchid, problem_type="OTHERS") for _ in range(n)]
    await wx.deliver()
    await wx.process()
    ids = [wx.complaints()[e].id for e in externals]
    now = wx.ctx.clock.now()
    with wx.ctx.session() as s:
        for i, cid in enumerate(ids):  # deadlines in the reverse order of the ids, the same for 2 and 3
            due = None if i in (0, 5) else now + timedelta(hours=10 - min(i, 3))
            s.execute(update(Complaint).where(Complaint.id == cid).values(sla_due_at=due))
        if n > 4:
            s.execute(update(Complaint).where(Complaint.id == ids[4]).values(status="resolved"))
    return ids


def _inbox_order(html: str) -> tuple[list[int], str]:
    """The complaints of an inbox page in order, and the query its links carry."""
    links = re.findall(r'<tr data-href="/complaints/(\d+)\?([^"]*)"', html)
    assert links and len({q for _, q in links}) == 1
    return [int(i) for i, _ in links], unescape(links[0][1])


async def _walk(console: Console, start: int, query: str, direction: str, steps: int) -> list[int]:
    seen, current = [start], start
    for _ in range(steps):
        answer = await console.get(f"/complaints/{current}/{direction}?{query}")
        assert answer.status_code == 303
        location = answer.headers["location"]
        found = re.fullmatch(r"/complaints/(\d+)\?(.*)", location)
        assert found and found.group(2) == query, location  # the view travels along
        if int(found.group(1)) == current:
            break
        current = int(found.group(1))
        seen.append(current)
    return seen


@pytest.mark.parametrize("query", ["view=todo", "view=all", "status=&sort=newest", "channel=wechatpay"])
async def test_next_and_previous_walk_the_view_in_its_order(
    wx: Harness, console: Console, query: str
) -> None:
    ids = await _complaints(wx, 6)
    add_user(wx, "boss", "admin")
    await console.login("boss")
    order, query = _inbox_order((await console.get(f"/?{query}")).text)
    assert len(order) >= 5 and (ids[4] in order) == ("status=active" not in query and "todo" not in query)
    forward = await _walk(console, order[0], query, "next", len(order) + 2)
    assert forward == order
    backward = await _walk(console, order[-1], query, "previous", len(order) + 2)
    assert backward == order[::-1]
    end = await console.get(f"/complaints/{order[-1]}/next?{query}")
    assert end.headers["location"] == f"/complaints/{order[-1]}?{query}"
    assert "这已是本视图的最后一条投诉" in (await console.get(end.headers["location"])).text


async def test_a_complaint_that_left_the_view_still_has_its_neighbours(wx: Harness, console: Console) -> None:
    ids = await _complaints(wx, 6)
    add_user(wx, "boss", "admin")
    await console.login("boss")
    order, _query = _inbox_order((await console.get("/?view=todo")).text)
    middle = order[2]
    with wx.ctx.session() as s:  # answered and finished while the operator read it
        s.execute(update(Complaint).where(Complaint.id == middle).values(status="resolved"))
    assert (
        (await console.get(f"/complaints/{middle}/next?view=todo"))
        .headers["location"]
        .startswith(f"/complaints/{order[3]}?")
    )
    assert (
        (await console.get(f"/complaints/{middle}/previous?view=todo"))
        .headers["location"]
        .startswith(f"/complaints/{order[1]}?")
    )
    assert ids  # the seeded complaints


async def test_neighbours_stay_in_scope_and_bad_ids_are_refused(wx: Harness, console: Console) -> None:
    ids = await _complaints(wx, 3)
    other = wx.state.create_complaint("1900000101", problem_type="OTHERS")  # the provider's sub-merchant
    await wx.deliver()
    await wx.process()
    hidden = wx.complaints()[other].id
    add_user(wx, "shopagent", "agent", accounts=["shop"])
    await console.login("shopagent")
    with wx.ctx.session() as s:
        due = s.scalar(select(Complaint.sla_due_at).where(Complaint.id == ids[1]))
        s.execute(update(Complaint).where(Complaint.id == hidden).values(sla_due_at=due, status="open"))
    walked = await _walk(console, ids[0], "view=all", "next", 10)
    walked += await _walk(console, ids[0], "view=all", "previous", 10)
    assert hidden not in walked
    assert (await console.get(f"/complaints/{hidden}/next?view=all")).status_code == 404
    assert (await console.get("/complaints/99999999999999999999/next")).status_code in (400, 404, 422)
    odd = await console.get(f"/complaints/{ids[0]}/next?view=nonsense&sort=sideways&tag=abc")
    assert odd.status_code == 303  # unusable filter values are ignored, as the inbox ignores them
