"""``GET /api/v1/reports/kpis`` and incremental pulls of ``/api/v1/complaints`` (``updated_since``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from tests.core import report_data
from tests.core.report_data import Dataset
from tests.e2e.harness import Harness
from tests.e2e.test_api import token

from complaintdesk.core.complaints.models import Complaint

pytestmark = pytest.mark.anyio
PERIOD = "from=2026-06-01&to=2026-06-10"
T0 = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.fixture
def data(wx: Harness) -> Dataset:
    with wx.ctx.session() as s:
        found = report_data.build(s)
        for n, complaint_id in found.ids.items():  # updated one minute apart, two of them at once
            at = T0 + timedelta(minutes=min(n, 6))
            s.execute(update(Complaint).where(Complaint.id == complaint_id).values(updated_at=at))
    return found


async def test_kpis_as_json_within_the_token_scope(wx: Harness, data: Dataset) -> None:
    everything = token(wx, "all", all_accounts=True)
    answer = await wx.desk.get(f"/api/v1/reports/kpis?{PERIOD}", headers=everything)
    assert answer.status_code == 200
    body = answer.json()
    assert body["total"] == 5
    assert body["first_response"] == {"count": 4, "median_seconds": 7200.0, "p90_seconds": 28800.0}
    assert body["sla"] == {"total": 5, "on_time": 1, "warned": 2, "breached": 2}
    assert body["refunds"]["approved_fen"] == 1000
    assert body["operators"] == [{"operator": "bob", "actions": 2}, {"operator": "alice", "actions": 1}]
    mini = token(wx, "mini", ["rep-b"])
    scoped = (await wx.desk.get(f"/api/v1/reports/kpis?{PERIOD}", headers=mini)).json()
    assert scoped["total"] == 2 and [m["name"] for m in scoped["merchants"]] == ["Mini B"]
    filtered = await wx.desk.get(f"/api/v1/reports/kpis?{PERIOD}&channel=wechatpay", headers=everything)
    assert filtered.json()["total"] == 3


@pytest.mark.parametrize(
    "query",
    ["period=1y", "from=2026-02-30", "from=2026-06-10&to=2026-06-01", "account=99999999999999999999",
     "account=0", "channel=alipay", "from=1990-01-01&to=2026-01-01"],
)  # fmt: skip
async def test_bad_report_parameters_are_422_never_500(wx: Harness, data: Dataset, query: str) -> None:
    answer = await wx.desk.get(f"/api/v1/reports/kpis?{query}", headers=token(wx, "t", all_accounts=True))
    assert answer.status_code == 422
    assert answer.json()["message"]


async def test_kpis_need_a_token(wx: Harness) -> None:
    assert (await wx.desk.get("/api/v1/reports/kpis")).status_code == 401


async def test_updated_since_pages_changes_oldest_first_with_a_stable_cursor(
    wx: Harness, data: Dataset
) -> None:
    headers = token(wx, "sync", all_accounts=True)
    since = (T0 + timedelta(minutes=2)).isoformat()
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"updated_since": since, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await wx.desk.get("/api/v1/complaints", params=params, headers=headers)).json()
        pages += 1
        assert body["total"] == 6
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    ids = data.ids
    # rows 2..5 at minutes 2..5; rows 6 and 7 share minute 6 and come in id order
    assert seen == [ids[n] for n in (2, 3, 4, 5, 6, 7)]
    assert pages == 3 and len(seen) == len(set(seen))


async def test_incremental_pull_refuses_bad_cursors_and_offsets(wx: Harness, data: Dataset) -> None:
    headers = token(wx, "sync", all_accounts=True)
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": "WyJ4IiwxXQ"},  # ["x",1]
        {"updated_since": "2026-07-01T00:00:00Z", "offset": 5},
        {"updated_since": "yesterday"},
    ):
        answer = await wx.desk.get("/api/v1/complaints", params=params, headers=headers)
        assert answer.status_code == 422, params
    plain = await wx.desk.get("/api/v1/complaints", headers=headers)
    assert plain.status_code == 200 and plain.json()["next_cursor"] is None
