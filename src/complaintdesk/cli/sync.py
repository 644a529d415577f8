"""``complaintdesk sync``: reconcile with the upstreams now, with a progress bar."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from complaintdesk.cli.common import console, context, run
from complaintdesk.core.sync.service import SyncReport
from complaintdesk.jobs.scheduled import sync_account
from complaintdesk.runtime import AppContext


def _sync_one(ctx: AppContext, name: str, days: int | None) -> SyncReport:
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(f"{name}: starting", total=None)

        def progress(stage: str, n: int) -> None:
            bar.update(task, description=f"{name}: {stage} {n}")

        async def go() -> SyncReport:
            try:
                return await sync_account(ctx, name, lookback_days=days, progress=progress)
            finally:
                await ctx.close_runtimes()

        return run(go)


def sync(
    account: Annotated[str | None, typer.Option(help="only this account (default: all)")] = None,
    days: Annotated[int | None, typer.Option(help="look back this many days (default from settings)")] = None,
) -> None:
    """Sweep the list API and refresh every open complaint; report what notifications missed."""
    with context() as ctx:
        names = [account] if account else ctx.account_names()
        if not names:
            console.print("no merchant accounts configured: add one with `complaintdesk merchants add`")
            raise typer.Exit(1)
        for name in names:
            r = _sync_one(ctx, name, days)
            console.print(
                f"[bold]{name}[/bold]: {r.windows} windows, {r.listed} listed, {r.created} new, "
                f"{r.updated} updated, {r.refreshed} open refreshed, {r.history_fetched} histories"
            )
            if r.unannounced:
                console.print(
                    f"[yellow]{len(r.unannounced)} complaints were found by sync but never announced by a "
                    "notification[/yellow]: check the callback URL and the webhook logs"
                )
            for error in r.errors[:10]:
                console.print(f"[red]error[/red] {error}")
