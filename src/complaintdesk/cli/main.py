"""Entry point of the ``complaintdesk`` command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Annotated, Any

import typer

from complaintdesk.cli import (
    actions,
    alerts,
    callback_url,
    complaints,
    db,
    demo,
    doctor,
    export,
    inbox,
    merchants,
    reports,
    sync,
    tokens,
    users,
)
from complaintdesk.cli.common import console, context
from complaintdesk.runtime import AppContext

app = typer.Typer(
    name="complaintdesk",
    help="One inbox for WeChat Pay, Mini Program and Huishouqian consumer complaints.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db.app, name="db")
app.add_typer(merchants.app, name="merchants")
app.add_typer(complaints.app, name="complaints")
app.add_typer(inbox.app, name="inbox")
app.add_typer(tokens.app, name="tokens")
app.add_typer(users.app, name="users")
app.add_typer(callback_url.app, name="callback-url")
app.add_typer(alerts.app, name="alerts")
app.add_typer(export.app, name="export")
app.add_typer(reports.app, name="reports")
complaints.app.command("reply")(actions.reply)
complaints.app.command("complete")(actions.complete)
complaints.app.command("refund")(actions.refund)
app.command("sync")(sync.sync)
app.command("doctor")(doctor.doctor)
app.command("demo")(demo.demo)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default from settings)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from settings)")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="web processes; >1 leaves jobs to `complaintdesk worker`")
    ] = 1,
    jobs: Annotated[bool, typer.Option(help="run the job runner inside the web process")] = True,
) -> None:
    """Serve webhooks and the API (and, with one process, the background jobs)."""
    with context() as ctx:  # validates settings and upgrades the schema once
        settings = ctx.settings
    if workers > 1 or not jobs:
        os.environ["COMPLAINTDESK_RUN_JOBS_IN_PROCESS"] = "false"
    console.print(f"complaintdesk listening on http://{host or settings.host}:{port or settings.port}")
    from complaintdesk.web import server

    server.run(
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
    )


@app.command("worker")
def worker(
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="jobs run at once (PostgreSQL; default from settings)")
    ] = None,
    queue: Annotated[
        list[str] | None, typer.Option(help="only these queues: inbox, outbox, media, periodic (repeatable)")
    ] = None,
) -> None:
    """Run the background jobs without serving HTTP.

    On PostgreSQL: a procrastinate worker (run as many as you like, on as many machines). On SQLite:
    the embedded runner (one process per database does the work; others stand by).
    """
    with context() as ctx:
        if ctx.engine.dialect.name == "postgresql":
            overrides: dict[str, Any] = {"queues": queue or None}
            if concurrency:
                overrides["concurrency"] = concurrency
            console.print("worker running (procrastinate); Ctrl-C to stop")
            asyncio.run(_run_procrastinate(ctx, overrides))
            return

        from complaintdesk.jobs.runner import JobRunner

        async def main() -> None:
            runner = JobRunner(ctx)
            runner.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            console.print("worker running (embedded); Ctrl-C to stop")
            await stop.wait()
            await runner.stop()
            await ctx.close_runtimes()

        asyncio.run(main())


async def _run_procrastinate(ctx: AppContext, overrides: dict[str, Any]) -> None:
    """Run the worker until SIGTERM/SIGINT, which lets running jobs finish before it exits."""
    from complaintdesk.jobs.workers import run_worker

    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(ctx, stop, install_signal_handlers=False, **overrides))

    def shutdown() -> None:
        stop.set()
        task.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await ctx.close_runtimes()


if __name__ == "__main__":
    app()
