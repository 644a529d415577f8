"""Dashboard charts: SVG drawn on the server by pygal, embedded as ``data:`` images.

An image document runs no script and is not bound by the page's Content-Security-Policy, so pygal's
own ``<style>`` works while the console keeps ``style-src 'self'``; no chart JavaScript is loaded.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from complaintdesk.core.reports.kpis import Report
from complaintdesk.web.console import labels
from complaintdesk.web.console.i18n import gettext as _

_FONT = "'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'PingFang SC', 'Microsoft YaHei', sans-serif"


@functools.cache
def _common() -> dict[str, Any]:
    """pygal options shared by every chart (pygal loads with the first dashboard, not in every process)."""
    from pygal.style import Style

    style = Style(
        background="transparent",
        plot_background="transparent",
        font_family=_FONT,
        colors=("#2f6fde", "#1f9d55", "#d97706", "#c0392b", "#7c3aed", "#0e7490", "#a16207", "#64748b"),
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=14,
        value_font_size=12,
        title_font_size=16,
    )
    return {
        "js": [],
        "disable_xml_declaration": True,
        "style": style,
        "width": 720,
        "height": 320,
        "explicit_size": False,
        "legend_at_bottom": True,
        "truncate_legend": 28,
        "truncate_label": 24,
        "margin": 8,
    }


TOP = 10
#: Longer periods chart complaints per week.
WEEKLY_AFTER_DAYS = 62


@dataclass(frozen=True)
class Chart:
    """A rendered chart: the ``data:`` URI of its SVG, and the alt text."""

    key: str
    alt: str
    uri: str


def _uri(chart: Any) -> str:
    chart.no_data_text = _("Nothing in this period.")
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _day_labels(chart: Any, days: list[str]) -> None:
    chart.x_labels = [d[5:] for d in days]  # MM-DD
    chart.x_labels_major_every = max(1, len(days) // 8)
    chart.show_minor_x_labels = len(days) <= 14
    chart.x_label_rotation = 0 if len(days) <= 14 else 30


def _horizontal(key: str, alt: str, rows: list[tuple[str, int]]) -> Chart:
    import pygal

    chart: Any = pygal.HorizontalBar(show_legend=False, print_values=True, **_common())
    top = rows[:TOP][::-1]  # largest at the top
    chart.x_labels = [name for name, _n in top]
    chart.add(alt, [n for _name, n in top])
    return Chart(key, alt, _uri(chart))


def _weekly(volume: dict[date, dict[str, int]]) -> dict[date, dict[str, int]]:
    """Per-day counts summed per week (keyed by the week's first day in the period)."""
    weeks: dict[date, dict[str, int]] = {}
    first = min(volume, default=None)
    for day, per in volume.items():
        start = max(day - timedelta(days=day.weekday()), first or day)
        week = weeks.setdefault(start, {})
        for channel, n in per.items():
            week[channel] = week.get(channel, 0) + n
    return weeks


def charts(report: Report) -> list[Chart]:
    """Every chart of the dashboard, in the current language."""
    import pygal

    days = [d.isoformat() for d in report.volume]
    # a bar per day up to two months; past that a bar per week (a year of daily bars is unreadable,
    # and slow to draw); the table keeps every day
    weekly = len(days) > WEEKLY_AFTER_DAYS
    bars = _weekly(report.volume) if weekly else report.volume
    volume = pygal.StackedBar(**_common())
    _day_labels(volume, [d.isoformat() for d in bars])
    for channel in report.channels:
        volume.add(labels.channel_label(channel), [per.get(channel) or None for per in bars.values()])
    backlog = pygal.Line(show_legend=False, show_dots=len(days) <= 62, fill=True, **_common())
    _day_labels(backlog, days)
    backlog.add(_("Open at end of day"), [n for _d, n in report.backlog])
    sla = pygal.Pie(inner_radius=0.5, **_common())
    sla.add(_("On time"), report.sla.on_time)
    sla.add(_("Warned"), report.sla.warned)
    sla.add(_("Breached"), report.sla.breached)
    refunds = pygal.Bar(show_legend=False, print_values=True, **_common())
    refunds.x_labels = [_("Requested"), _("Approved"), _("Rejected")]
    refunds.add(_("Complaints"), [report.refunds.requested, report.refunds.approved, report.refunds.rejected])
    repeat = pygal.Bar(show_legend=False, print_values=True, **_common())
    repeat.x_labels = [label for label, _n in report.repeat.by_times]
    repeat.add(_("Complaints"), [n for _label, n in report.repeat.by_times])
    problems = [(problem_name(report, t), n) for t, n in report.problem_types]
    return [
        Chart("volume", _("Complaints per week") if weekly else _("Complaints per day"), _uri(volume)),
        Chart("backlog", _("Open backlog"), _uri(backlog)),
        Chart("sla", _("SLA"), _uri(sla)),
        Chart("refunds", _("Refunds"), _uri(refunds)),
        _horizontal("problems", _("Complaints by problem type"), problems),
        _horizontal("merchants", _("Complaints by merchant"), [(m, n) for _i, m, n in report.merchants]),
        Chart("repeat", _("Repeat complainants"), _uri(repeat)),
        _horizontal("operators", _("Top operators by actions"), report.operators),
    ]


def problem_name(report: Report, problem_type: str) -> str:
    """A problem type in the current language (the channel's label when the report has one channel)."""
    if not problem_type:
        return "—"
    for channel in report.channels or ["wechatpay"]:
        named = labels.problem_label(channel, problem_type)
        if named != problem_type:
            return named
    return problem_type
