"""``complaintdesk inbox``: see and re-process stored notifications."""

from __future__ import annotations

import typer

from complaintdesk.cli.common import console, context, run
from complaintdesk.core.inbox import service as inbox_service
from complaintdesk.jobs.process import process_inbox

app = typer.Typer(help="The durable inbox of received notifications.", no_args_is_help=True)


@app.command("status")
def status() -> None:
    """Count stored notifications by state."""
    with context() as ctx, ctx.session() as session:
        counts = inbox_service.counts(session=session)
        console.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "inbox is empty")


@app.command("retry")
def retry() -> None:
    """Re-queue failed notifications and process everything that is due now."""
    with context() as ctx:
        with ctx.session() as session:
            requeued = inbox_service.requeue_failed(session=session)

        async def drain() -> int:
            total = 0
            try:
                while handled := await process_inbox(ctx):
                    total += handled
            finally:
                await ctx.close_runtimes()
            return total

        console.print(f"re-queued {requeued}; processed {run(drain)}")
