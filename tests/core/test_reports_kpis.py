"""``core/reports``: every KPI on the hand-built data set of ``report_data`` (both databases)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import true
from sqlalchemy.orm import Session
from tests.core import report_data
from tests.core.report_data import FIRST, LAST, NOW, Dataset

from complaintdesk.core.reports import filters as report_filters
from complaintdesk.core.reports import kpis
from complaintdesk.core.reports.filters import ReportFilters, ReportInputError, scope_clause
from complaintdesk.core.reports.tables import as_json, tables

HOUR = 3600.0


@pytest.fixture
def data(db: Session) -> Dataset:
    return report_data.build(db)


PERIOD = ReportFilters(FIRST, LAST)


def test_volume_per_day_and_channel_buckets_shanghai_days(db: Session, data: Dataset) -> None:
    volume = kpis.volume_by_day(db, PERIOD, true())
    assert list(volume) == [FIRST + timedelta(days=n) for n in range(10)]
    assert volume[date(2026, 6, 1)] == {"wechatpay": 1}
    assert volume[date(2026, 6, 2)] == {"wechatpay": 1, "miniprogram": 1}  # 00:30 Shanghai is 06-01 UTC
    assert volume[date(2026, 6, 5)] == {"wechatpay": 1}
    assert volume[date(2026, 6, 10)] == {"miniprogram": 1}
    assert sum(sum(v.values()) for v in volume.values()) == 5


def test_backlog_counts_what_was_open_at_the_end_of_each_day(db: Session, data: Dataset) -> None:
    backlog = dict(kpis.backlog_by_day(db, PERIOD, true()))
    expected = {1: 1, 2: 3, 3: 1, 4: 1, 5: 2, 6: 2, 7: 2, 8: 2, 9: 2, 10: 3}
    assert backlog == {date(2026, 6, d): n for d, n in expected.items()}


def test_first_response_and_time_to_finish_median_and_p90(db: Session, data: Dataset) -> None:
    first = kpis.first_response(db, PERIOD, true())
    assert (first.count, first.median_seconds, first.p90_seconds) == (4, 2 * HOUR, 8 * HOUR)
    finish = kpis.time_to_finish(db, PERIOD, true())
    assert finish.count == 3
    assert finish.median_seconds == pytest.approx(10 * HOUR, abs=1)
    assert finish.p90_seconds == pytest.approx(30 * HOUR, abs=1)


def test_sla_rates_count_the_worst_moment_ever(db: Session, data: Dataset) -> None:
    sla = kpis.sla_rates(db, PERIOD, true())
    assert (sla.total, sla.on_time, sla.warned, sla.breached) == (5, 1, 2, 2)
    assert sla.rate(sla.breached) == pytest.approx(0.4)


def test_refunds_requested_approved_rejected_and_amounts(db: Session, data: Dataset) -> None:
    r = kpis.refunds(db, PERIOD, true())
    assert (r.requested, r.approved, r.rejected) == (2, 1, 1)
    assert (r.requested_fen, r.approved_fen, r.rejected_fen) == (1500, 1000, 500)


def test_problem_types_and_merchants(db: Session, data: Dataset) -> None:
    assert kpis.by_problem_type(db, PERIOD, true()) == [("OTHERS", 2), ("REFUND", 2), ("SERVICE", 1)]
    assert kpis.by_merchant(db, PERIOD, true()) == [
        (data.a, "Shop A", 2),
        (data.b, "Mini B", 2),
        (data.a_sub, "Shop A sub", 1),
    ]


def test_repeat_complainants(db: Session, data: Dataset) -> None:
    repeat = kpis.repeat_complainants(db, PERIOD, true())
    assert repeat.by_times == [("1", 2), ("2", 1), ("3", 1), ("4-5", 1), ("6+", 0)]
    assert repeat.returning == 1  # no. 2: payer u1 had complained about Shop A before (no. 1)


def test_top_operators_count_actions_requested_in_the_period(db: Session, data: Dataset) -> None:
    assert kpis.top_operators(db, PERIOD, true()) == [("bob", 2), ("alice", 1)]


def test_account_filter_covers_sub_merchants_and_channel_filter(db: Session, data: Dataset) -> None:
    by_a = kpis.compute(db, ReportFilters(FIRST, LAST, account_ids=(data.a,)), true())
    assert by_a.total == 3
    assert by_a.sla.breached == 2 and by_a.operators == [("alice", 1)]
    mini = kpis.compute(db, ReportFilters(FIRST, LAST, channels=("miniprogram",)), true())
    assert mini.total == 2 and mini.channels == ["miniprogram"]
    assert (mini.refunds.rejected, mini.refunds.approved) == (1, 0)


def test_scope_limits_every_kpi(db: Session, data: Dataset) -> None:
    scope = scope_clause(all_accounts=False, account_ids=frozenset({data.b}))
    report = kpis.compute(db, PERIOD, scope)
    assert report.total == 2
    assert [m[0] for m in report.merchants] == [data.b]
    assert report.operators == [("bob", 2)]
    assert report.backlog[-1] == (LAST, 2)  # no. 3, and no. 7 (finished the day after the period)
    # asking for an account outside the scope finds nothing rather than widening it
    outside = kpis.compute(db, ReportFilters(FIRST, LAST, account_ids=(data.a,)), scope)
    assert outside.total == 0 and outside.operators == []


def test_an_empty_period_has_no_percentiles(db: Session, data: Dataset) -> None:
    empty = kpis.compute(db, ReportFilters(date(2025, 1, 1), date(2025, 1, 3)), true())
    assert empty.total == 0 and empty.first_response.median_seconds is None
    assert empty.sla.rate(0) is None
    document = as_json(empty)
    assert document["first_response"] == {"count": 0, "median_seconds": None, "p90_seconds": None}
    assert [t.key for t in tables(empty)][:2] == ["volume", "backlog"]


def test_tables_and_json_carry_the_same_numbers(db: Session, data: Dataset) -> None:
    report = kpis.compute(db, PERIOD, true())
    by_key = {t.key: t for t in tables(report)}
    assert by_key["times"].rows[0] == ("First response", 4, 2.0, 8.0)
    assert by_key["refunds"].rows[1] == ("Approved", 1, 10.0)
    document = as_json(report)
    assert document["total"] == 5
    assert document["sla"] == {"total": 5, "on_time": 1, "warned": 2, "breached": 2}
    assert document["volume"][1] == {
        "day": "2026-06-02",
        "by_channel": {"miniprogram": 1, "wechatpay": 1},
        "total": 2,
    }


def test_parse_presets_custom_ranges_and_refusals() -> None:
    thirty = report_filters.parse({}, now=NOW)
    assert (thirty.date_from, thirty.date_to, thirty.preset) == (date(2026, 5, 17), date(2026, 6, 15), "30d")
    custom = report_filters.parse(
        [("from", "2026-06-01"), ("to", "2026-06-10"), ("account", "3"), ("channel", "wechatpay")], now=NOW
    )
    assert (custom.date_from, custom.date_to, custom.account_ids, custom.channels) == (
        FIRST,
        LAST,
        (3,),
        ("wechatpay",),
    )
    for bad, name in (
        ({"period": "forever"}, "period"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-06-10", "to": "2026-06-01"}, "from"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
        ({"account": "99999999999999999999"}, "account"),
        ({"channel": "alipay"}, "channel"),
    ):
        with pytest.raises(ReportInputError) as refused:
            report_filters.parse(bad, now=NOW)
        assert refused.value.field == name
