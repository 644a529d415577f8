"""The dashboard and the console exports over HTTP: scope, both languages, refusals, streamed files."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import select, true, update
from tests.core import report_data
from tests.core.report_data import Dataset
from tests.e2e.harness import Harness
from tests.web.conftest import Console, add_user

from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.views import query as inbox
from complaintdesk.web.console import dashboard_charts

pytestmark = pytest.mark.anyio
PERIOD = "from=2026-06-01&to=2026-06-10"
PHONE = "13812345678"


@pytest.fixture
def data(wx: Harness) -> Dataset:
    with wx.ctx.session() as s:
        found = report_data.build(s)
        s.execute(
            update(Complaint)
            .where(Complaint.id == found.ids[3])
            .values(payer_phone_enc=wx.ctx.cipher.encrypt(PHONE), payer_phone_masked="138****5678")
        )
    return found


def _exports(wx: Harness) -> list[AuditEvent]:
    with wx.ctx.session() as s:
        return list(
            s.scalars(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id))
        )


async def test_dashboard_shows_kpis_charts_and_tables_in_both_languages(
    wx: Harness, console: Console, data: Dataset
) -> None:
    add_user(wx, "boss", "viewer")
    await console.login("boss")
    page = await console.get(f"/dashboard?{PERIOD}")
    assert page.status_code == 200
    assert "数据看板" in page.text and "每日投诉量" in page.text
    assert 'data-testid="total">5<' in page.text
    assert page.text.count('src="data:image/svg+xml;base64,') == 8
    assert (
        '<td translate="no">bob</td><td translate="no">2</td>' in page.text
    )  # top operators, as a table too
    await console.post("/language", {"language": "en", "next": f"/dashboard?{PERIOD}"})
    english = await console.get(f"/dashboard?{PERIOD}")
    assert "Complaints per day" in english.text and "数据看板" not in english.text
    assert '<a href="/dashboard">Dashboard</a>' in english.text  # the nav link


async def test_dashboard_stays_inside_the_users_scope(wx: Harness, console: Console, data: Dataset) -> None:
    add_user(wx, "mini", "agent", accounts=["rep-b"])
    await console.login("mini")
    page = await console.get(f"/dashboard?{PERIOD}")
    assert 'data-testid="total">2<' in page.text
    assert "Shop A" not in page.text and "alice" not in page.text
    # naming an account outside the scope finds nothing rather than widening it
    outside = await console.get(f"/dashboard?{PERIOD}&account={data.a}")
    assert 'data-testid="total">0<' in outside.text


@pytest.mark.parametrize(
    "query",
    ["period=forever", "from=2026-13-01", "from=2026-06-10&to=2026-06-01", "from=2020-01-01&to=2026-01-01",
     "account=99999999999999999999", "account=x", "channel=alipay"],
)  # fmt: skip
async def test_bad_report_parameters_are_a_clear_400(
    wx: Harness, console: Console, data: Dataset, query: str
) -> None:
    add_user(wx, "boss", "viewer")
    await console.login("boss")
    page = await console.get(f"/dashboard?{query}")
    assert page.status_code == 400
    assert 'data-testid="report-error"' in page.text and "请" in page.text  # zh-CN, says what to do
    exported = await console.get(f"/dashboard/export?format=csv&{query}")
    assert exported.status_code == 400
    assert (await console.get("/dashboard/export?format=pdf")).status_code == 400
    assert (await console.get("/inbox/export?format=pdf")).status_code == 400
    assert _exports(wx) == []  # nothing was exported, nothing audited


async def test_report_export_csv_and_xlsx_carry_the_dashboard_numbers(
    wx: Harness, console: Console, data: Dataset
) -> None:
    add_user(wx, "boss", "viewer")
    await console.login("boss")
    answer = await console.get(f"/dashboard/export?format=csv&{PERIOD}")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert ["首次回复", "4", "2.0", "8.0"] in lines
    assert ["bob", "2"] in lines
    book = await console.get(f"/dashboard/export?format=xlsx&{PERIOD}")
    sheets = openpyxl.load_workbook(io.BytesIO(book.content), read_only=True)
    sla = [list(r) for r in sheets["sla"].iter_rows(values_only=True)]
    assert sla[3] == ["已超时", 2, 40]
    assert [e.details["format"] for e in _exports(wx)] == ["csv", "xlsx"]


def _inbox_ids(wx: Harness, filters: inbox.InboxFilters) -> list[int]:
    ids: list[int] = []
    cursor = None
    with wx.ctx.session() as s:
        while True:
            page = inbox.list_page(session=s, filters=filters, scope=true(), cursor=cursor, limit=2)
            ids += [c.id for c in page.items]
            if not (cursor := page.next_cursor):
                return ids


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_inbox_export_has_the_rows_of_the_filtered_view(
    wx: Harness, console: Console, data: Dataset, fmt: str
) -> None:
    add_user(wx, "boss", "viewer")
    await console.login("boss")
    view = "status=&channel=wechatpay&sort=newest&from=2026-06-01&to=2026-06-30"
    assert "inbox-export" in (await console.get(f"/?{view}")).text
    answer = await console.get(f"/inbox/export?format={fmt}&{view}")
    assert answer.status_code == 200
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    else:
        book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
        rows = [[str(v) if v is not None else "" for v in r] for r in book.active.iter_rows(values_only=True)]
    assert rows[0][:4] == ["投诉单号", "渠道", "商户", "上游投诉单号"]
    expected = _inbox_ids(wx, inbox.InboxFilters.from_params(dict(p.split("=") for p in view.split("&"))))
    assert [int(r[0]) for r in rows[1:]] == expected and len(expected) == 4  # nos. 6, 4, 2, 1
    assert {r[1] for r in rows[1:]} == {"微信支付"}
    (event,) = _exports(wx)
    assert event.details["phones"] == "masked" and event.details["filters"]["channel"] == "wechatpay"


async def test_inbox_export_masks_phones_unless_the_role_may_reveal_them(
    wx: Harness, console: Console, data: Dataset
) -> None:
    view = "status=&channel=miniprogram"
    add_user(wx, "viewer1", "viewer")
    await console.login("viewer1")
    masked = await console.get(f"/inbox/export?format=csv&{view}")
    assert "138****5678" in masked.text and PHONE not in masked.text
    refused = await console.get(f"/inbox/export?format=csv&phones=full&{view}")
    assert refused.status_code == 403 and PHONE not in refused.text
    other = Console(wx)
    add_user(wx, "agent1", "agent")
    await other.login("agent1")
    full = await other.get(f"/inbox/export?format=csv&phones=full&{view}")
    await other.aclose()
    assert PHONE in full.content.decode("utf-8-sig")
    assert [(e.actor, e.details["phones"]) for e in _exports(wx)] == [
        ("viewer1", "masked"),
        ("agent1", "full"),
    ]
    assert all(PHONE not in str(e.details) for e in _exports(wx))


def test_long_periods_chart_a_bar_per_week() -> None:
    days = {date(2026, 6, 1) + timedelta(days=n): {"wechatpay": 1, "miniprogram": n % 2} for n in range(10)}
    weeks = dashboard_charts._weekly(days)  # 2026-06-01 is a Monday
    assert weeks == {
        date(2026, 6, 1): {"wechatpay": 7, "miniprogram": 3},
        date(2026, 6, 8): {"wechatpay": 3, "miniprogram": 2},
    }
    later = {date(2026, 6, 3) + timedelta(days=n): {"wechatpay": 1} for n in range(6)}
    assert list(dashboard_charts._weekly(later)) == [date(2026, 6, 3), date(2026, 6, 8)]  # partial week
