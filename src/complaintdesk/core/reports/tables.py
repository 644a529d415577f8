"""A report as tables (dashboard tables, CSV/XLSX export) and as JSON (the API): one shape for all three.

Titles and column names are English message ids; the console translates them, the CLI keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from complaintdesk.core.reports.kpis import Durations, Report

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    """One KPI as rows: ``key`` names it in URLs and sheets, ``title`` and ``columns`` are msgids, and
    so is each row's first cell when ``row_labels`` is set."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    row_labels: bool = False

    def translated(self, translate: Callable[[str], str]) -> Table:
        """The table with its title, columns and row labels in the current language."""
        rows = [
            (translate(r[0]) if isinstance(r[0], str) else r[0], *r[1:]) if self.row_labels else r
            for r in self.rows
        ]
        return Table(self.key, translate(self.title), tuple(translate(c) for c in self.columns), rows)


def hours(seconds: float | None) -> float | None:
    """Seconds as hours, one decimal."""
    return None if seconds is None else round(seconds / 3600, 1)


def percent(part: int, total: int) -> float | None:
    """A share in percent, one decimal (None of nothing)."""
    return round(100 * part / total, 1) if total else None


def yuan(fen: int) -> float:
    """Fen as yuan (a number, for spreadsheets)."""
    return round(fen / 100, 2)


def _durations(name: str, d: Durations) -> tuple[Cell, ...]:
    return (name, d.count, hours(d.median_seconds), hours(d.p90_seconds))


def tables(
    report: Report, label: Callable[[str], str] = str, problem: Callable[[str], str] = str
) -> list[Table]:
    """Every KPI as a table; ``label`` names channels, ``problem`` problem types (the console translates)."""
    channels = report.channels
    volume_rows: list[tuple[Cell, ...]] = [
        (day.isoformat(), *(per.get(c, 0) for c in channels), sum(per.values()))
        for day, per in report.volume.items()
    ]
    sla, refunds, repeat = report.sla, report.refunds, report.repeat
    return [
        Table("volume", "Complaints per day", ("Day", *(label(c) for c in channels), "Total"), volume_rows),
        Table(
            "backlog",
            "Open backlog",
            ("Day", "Open at end of day"),
            [(d.isoformat(), n) for d, n in report.backlog],
        ),
        Table(
            "times",
            "Response times (hours)",
            ("Measure", "Complaints", "Median", "90th percentile"),
            [
                _durations("First response", report.first_response),
                _durations("Time to finish", report.time_to_finish),
            ],
            row_labels=True,
        ),
        Table(
            "sla",
            "SLA",
            ("Outcome", "Complaints", "Share (%)"),
            [
                ("On time", sla.on_time, percent(sla.on_time, sla.total)),
                ("Warned", sla.warned, percent(sla.warned, sla.total)),
                ("Breached", sla.breached, percent(sla.breached, sla.total)),
            ],
            row_labels=True,
        ),
        Table(
            "refunds",
            "Refunds",
            ("Refunds", "Complaints", "Amount (yuan)"),
            [
                ("Requested", refunds.requested, yuan(refunds.requested_fen)),
                ("Approved", refunds.approved, yuan(refunds.approved_fen)),
                ("Rejected", refunds.rejected, yuan(refunds.rejected_fen)),
            ],
            row_labels=True,
        ),
        Table(
            "problems",
            "Complaints by problem type",
            ("Problem type", "Complaints"),
            [(problem(t) if t else "—", n) for t, n in report.problem_types],
        ),
        Table(
            "merchants",
            "Complaints by merchant",
            ("Merchant", "Complaints"),
            [(name, n) for _i, name, n in report.merchants],
        ),
        Table(
            "repeat",
            "Repeat complainants",
            ("Times complained", "Complaints"),
            [*report.repeat.by_times, ("Complaints of returning payers", repeat.returning)],
            row_labels=True,
        ),
        Table("operators", "Top operators by actions", ("Operator", "Actions"), list(report.operators)),
    ]


def as_json(report: Report) -> dict[str, Any]:
    """The report for the API: raw numbers (seconds, fen), days as ISO dates."""
    f = report.filters

    def durations(d: Durations) -> dict[str, Any]:
        return {"count": d.count, "median_seconds": d.median_seconds, "p90_seconds": d.p90_seconds}

    return {
        "period": {"from": f.date_from.isoformat(), "to": f.date_to.isoformat(), "preset": f.preset or None},
        "accounts": list(f.account_ids),
        "channels": list(f.channels),
        "total": report.total,
        "volume": [
            {"day": day.isoformat(), "by_channel": dict(sorted(per.items())), "total": sum(per.values())}
            for day, per in report.volume.items()
        ],
        "backlog": [{"day": d.isoformat(), "open": n} for d, n in report.backlog],
        "first_response": durations(report.first_response),
        "time_to_finish": durations(report.time_to_finish),
        "sla": {
            "total": report.sla.total,
            "on_time": report.sla.on_time,
            "warned": report.sla.warned,
            "breached": report.sla.breached,
        },
        "refunds": {
            "requested": report.refunds.requested,
            "approved": report.refunds.approved,
            "rejected": report.refunds.rejected,
            "requested_fen": report.refunds.requested_fen,
            "approved_fen": report.refunds.approved_fen,
            "rejected_fen": report.refunds.rejected_fen,
        },
        "problem_types": [{"problem_type": t, "count": n} for t, n in report.problem_types],
        "merchants": [{"account_id": i, "name": name, "count": n} for i, name, n in report.merchants],
        "repeat_complainants": {
            "by_complaint_times": [{"times": label, "count": n} for label, n in report.repeat.by_times],
            "returning_complaints": report.repeat.returning,
        },
        "operators": [{"operator": who, "actions": n} for who, n in report.operators],
    }
