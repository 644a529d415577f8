"""``complaintdesk reports``: bring the dashboard's daily roll-up up to date (backfill, or catch up)."""

from __future__ import annotations

import time

import typer

from complaintdesk.cli.common import console, context
from complaintdesk.core.reports import rollup

app = typer.Typer(help="The reports' daily roll-up (docs/reports.md).", no_args_is_help=True)


@app.command("refresh")
def refresh() -> None:
    """Roll up every day changed since its roll-up and every ended day not rolled up yet (idempotent).

    The ``refresh_reports`` periodic job does the same every five minutes; run this once after an
    upgrade to fill the roll-up at once (until then the dashboard reads those days live, slower).
    """
    with context() as ctx:
        started = time.perf_counter()
        with ctx.session() as session:
            days = rollup.refresh(session, now=ctx.clock.now())
        seconds = time.perf_counter() - started
        if days:
            console.print(f"rolled up {len(days)} days ({days[0]} … {days[-1]}) in {seconds:.1f} s")
        else:
            console.print("the roll-up was up to date")
