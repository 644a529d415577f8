"""The sample alert rules and Grafana dashboard in docs/monitoring name only metrics we export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from complaintdesk.migrate import upgrade
from complaintdesk.ops import metrics
from complaintdesk.ops.collector import DatabaseGauges
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "monitoring"
NAME = re.compile(r"\bcomplaintdesk_[a-z_]+")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name /metrics can carry: the counters and histograms, and the database gauges."""
    names = set()
    for metric in (
        metrics.NOTIFICATIONS,
        metrics.UPSTREAM_REQUESTS,
        metrics.UPSTREAM_RESPONSES,
        metrics.UPSTREAM_ERRORS,
        metrics.JOB_RUNS,
        metrics.ALERT_DELIVERIES,
    ):
        [family] = metric.describe()
        suffixes = ("_bucket", "_count", "_sum") if family.type == "histogram" else ("_total",)
        names |= {family.name + suffix for suffix in suffixes}
    directory = tmp_path_factory.mktemp("gauges")
    ctx = AppContext(Settings(database_url=f"sqlite:///{directory / 'x.db'}", data_key="k" * 40))
    upgrade(ctx.engine)
    names |= {family.name for family in DatabaseGauges(ctx).collect()}
    ctx.engine.dispose()
    return names


def test_the_alert_rules_are_complete_and_name_exported_metrics(exported: set[str]) -> None:
    text = (DOCS / "alerts.yml").read_text(encoding="utf-8")
    [group] = yaml.safe_load(text)["groups"]
    assert len(group["rules"]) >= 10
    for rule in group["rules"]:
        assert rule["alert"].startswith("Complaintdesk") and rule["expr"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]
    assert set(NAME.findall(text)) <= exported
    assert "complaintdesk_inbox_lag_seconds" in text and "complaintdesk_notifications_total" in text


def test_the_dashboard_names_exported_metrics_and_every_one_is_shown(exported: set[str]) -> None:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used <= exported
    shown = {re.sub(r"_(bucket|count|sum)$", "", name) for name in used}
    assert {re.sub(r"_(bucket|count|sum)$", "", name) for name in exported} <= shown
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
