"""Entry point of the ``complaintdesk`` command.

Subcommands are imported only when they run (or when their own ``--help`` is asked): ``complaintdesk
--help`` lists them from :data:`LAZY` without importing the application (issue #15: under 0.5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer import _click as click  # the click that typer 0.29 vendors (its groups and contexts)
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from complaintdesk.runtime import AppContext
    from complaintdesk.settings import Settings


def _complaints() -> typer.Typer:
    from complaintdesk.cli import actions, complaints

    complaints.app.command("reply")(actions.reply)
    complaints.app.command("complete")(actions.complete)
    complaints.app.command("refund")(actions.refund)
    return complaints.app


#: name → (loader of the Typer sub-app or command function, short help shown by ``complaintdesk --help``)
LAZY: dict[str, tuple[Callable[[], Any], str]] = {
    "sync": (lambda: importlib.import_module("complaintdesk.cli.sync").sync,
             "Sweep the list API and refresh every open complaint; report what notifications missed."),
    "doctor": (lambda: importlib.import_module("complaintdesk.cli.doctor").doctor,
               "Check keys, certificates, clock, tokens and the callback URL of every account."),
    "demo": (lambda: importlib.import_module("complaintdesk.cli.demo").demo,
             "Run complaintdesk against the simulator with generated keys and live traffic."),
    "db": (lambda: importlib.import_module("complaintdesk.cli.db").app, "Database schema."),
    "merchants": (lambda: importlib.import_module("complaintdesk.cli.merchants").app,
                  "Merchant accounts and their credentials (given as file:/env: references)."),
    "complaints": (_complaints, "Complaints."),
    "inbox": (lambda: importlib.import_module("complaintdesk.cli.inbox").app,
              "The durable inbox of received notifications."),
    "tokens": (lambda: importlib.import_module("complaintdesk.cli.tokens").app,
               "API tokens (shown once at creation, stored as hashes)."),
    "users": (lambda: importlib.import_module("complaintdesk.cli.users").app,
              "Console users: sign-in, role (admin/agent/viewer) and merchant accounts."),
    "callback-url": (lambda: importlib.import_module("complaintdesk.cli.callback_url").app,
                     "The notification URL each upstream calls for a merchant account."),
    "alerts": (lambda: importlib.import_module("complaintdesk.cli.alerts").app,
               "Alerts to WeCom, DingTalk, Feishu, e-mail and webhooks; signed endpoints."),
    "export": (lambda: importlib.import_module("complaintdesk.cli.export").app,
               "Export complaints or the KPI report as CSV or XLSX."),
    "reports": (lambda: importlib.import_module("complaintdesk.cli.reports").app,
                "The dashboard's daily roll-up (refresh it by hand)."),
    "sandbox": (lambda: importlib.import_module("complaintdesk.cli.sandbox").app,
                "Run one upstream simulator standalone, for testing any integration against it."),
}  # fmt: skip


@functools.cache
def _load(name: str) -> click.Command:
    target = LAZY[name][0]()
    command: click.Command
    if isinstance(target, typer.Typer):  # a group even with one command (``reports refresh``)
        command = typer.main.get_group(target)
    else:
        single = typer.Typer()
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """A group whose listed subcommands are imported on first use; the top-level help imports none."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*LAZY, *(name for name in eager if name not in LAZY)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY and cmd_name not in self.commands:
            if self._listing:  # the top-level help needs the name and short help only
                return TyperCommand(cmd_name, help=LAZY[cmd_name][1], short_help=LAZY[cmd_name][1])
            return _load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="complaintdesk",
    help="One inbox for WeChat Pay, Mini Program and Huishouqian consumer complaints.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    cls=LazyGroup,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("complaintdesk")
        except PackageNotFoundError:  # run from a source tree that was never installed
            found = "unknown (not installed)"
        typer.echo(f"complaintdesk {found}")
        raise typer.Exit


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Show the installed version and exit."
        ),
    ] = False,
) -> None:
    """One inbox for WeChat Pay, Mini Program and Huishouqian consumer complaints."""


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
    from complaintdesk.cli.common import console, context

    with context() as ctx:  # validates settings and upgrades the schema once
        settings = ctx.settings
    if workers > 1 or not jobs:
        os.environ["COMPLAINTDESK_RUN_JOBS_IN_PROCESS"] = "false"
    start_metrics(settings, settings.metrics.port)  # the directory is inherited by the workers
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
    from complaintdesk.cli.common import console, context
    from complaintdesk.ops import metrics

    with context() as ctx:
        start_metrics(ctx.settings, ctx.settings.metrics.worker_port)
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
    metrics.process_exiting()


async def _run_procrastinate(ctx: AppContext, overrides: dict[str, Any]) -> None:
    """Run the worker until SIGTERM/SIGINT, which lets running jobs finish before it exits."""
    from complaintdesk.jobs.workers import run_worker
    from complaintdesk.ops import metrics

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
        metrics.process_exiting()


def start_metrics(settings: Settings, port: int | None) -> None:
    """Multiprocess metrics under the data dir; ``/metrics`` on a port of its own when one is set."""
    from complaintdesk.cli.common import console, errors_as_exit
    from complaintdesk.ops import metrics
    from complaintdesk.runtime import AppContext

    metrics.use_directory(settings.metrics_directory(), clean=True)
    if port is None:
        return
    from complaintdesk.ops.exporter import MetricsExporter, serve_on_port

    with errors_as_exit():
        serve_on_port(MetricsExporter(AppContext(settings)), settings.metrics.host, port)
    console.print(f"metrics on http://{settings.metrics.host}:{port}/metrics")


if __name__ == "__main__":
    app()
