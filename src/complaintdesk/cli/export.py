"""``complaintdesk export``: complaints (the inbox's filters) or the KPI report, as CSV or XLSX, streamed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from complaintdesk.cli.common import console, context, err_console
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.reports import export, kpis
from complaintdesk.core.reports import filters as report_filters
from complaintdesk.core.reports.filters import ReportInputError
from complaintdesk.core.reports.tables import tables
from complaintdesk.core.views import query as inbox
from complaintdesk.errors import ComplaintDeskError

app = typer.Typer(help="Export complaints or the KPI report as CSV or XLSX.", no_args_is_help=True)
T = TypeVar("T")
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="csv or xlsx")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="file to write (default: a name in .)")
]


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        shown = ", ".join(a or "''" for a in allowed)
        raise ReportInputError(f"--{name} must be one of {shown}", field=name)


def _write(path: Path, chunks: Iterable[bytes]) -> int:
    size = 0
    with path.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            size += len(chunk)
    return size


def _counted(rows: Iterable[T], progress: Progress, task: object) -> Iterator[T]:
    for n, row in enumerate(rows, start=1):
        yield row
        if n % 1000 == 0:
            progress.update(task, completed=n)  # type: ignore[arg-type]


def _account_id(session: Session, name: str) -> int:
    found = session.scalar(select(MerchantAccount.id).where(MerchantAccount.name == name))
    if found is None:
        raise ReportInputError(f"no merchant account named {name!r}", field="account")
    return int(found)


@app.command("complaints")
def complaints(
    fmt: FormatOpt = "csv",
    output: OutputOpt = None,
    status: Annotated[
        str, typer.Option(help="active (default), '' for all, or one unified status")
    ] = "active",
    channel: Annotated[str, typer.Option(help="wechatpay, miniprogram or huishouqian")] = "",
    account: Annotated[str, typer.Option(help="merchant account name (covers its sub-merchants)")] = "",
    sla: Annotated[str, typer.Option(help="ok, warning or breached")] = "",
    needs: Annotated[str, typer.Option(help="message, refund, immediate, platform or any")] = "",
    date_from: Annotated[str, typer.Option("--from", help="complained on or after (YYYY-MM-DD)")] = "",
    date_to: Annotated[str, typer.Option("--to", help="complained on or before (YYYY-MM-DD)")] = "",
    q: Annotated[str, typer.Option(help="search: complaint id, order number or text")] = "",
    sort: Annotated[str, typer.Option(help="deadline or newest")] = "deadline",
    reveal_phones: Annotated[bool, typer.Option(help="full phone numbers (the export is audited)")] = False,
    actor: Annotated[str, typer.Option(help="who runs the export (written to the audit log)")] = "cli",
) -> None:
    """Complaints matching the inbox filters, in the inbox's order; phones masked unless revealed."""
    try:
        export.check_format(fmt)
        _check("status", status, ("active", "", *inbox.STATUSES))
        _check("channel", channel, ("", *report_filters.CHANNELS))
        _check("sla", sla, ("", *inbox.SLA_STATES))
        _check("needs", needs, ("", "any", *inbox.NEEDS))
        _check("sort", sort, inbox.SORTS)
        for day in (date_from, date_to):
            if day:
                report_filters.parse({"from": day, "to": day}, now=datetime.now(UTC))
    except ReportInputError as exc:
        err_console.print(f"[red]{exc.public_message}[/red]")
        raise typer.Exit(2) from exc
    with context() as ctx:
        with ctx.session() as session:
            params = {"status": status, "channel": channel, "sla": sla, "needs": needs, "from": date_from,
                      "to": date_to, "q": q, "sort": sort}  # fmt: skip
            if account:
                params["account"] = str(_account_id(session, account))
            filters = inbox.InboxFilters.from_params(params)
            audit_service.record(
                session=session,
                action=audit_service.AuditAction.EXPORT,
                actor=actor,
                target_type="complaints",
                details={
                    "format": fmt,
                    "filters": filters.as_params(),
                    "phones": "full" if reveal_phones else "masked",
                    "via": "cli",
                },
                at=ctx.clock.now(),
            )
        path = output or Path(f"complaints-{ctx.clock.now():%Y%m%d-%H%M%S}.{fmt}")
        with ctx.sessions() as session, _progress() as progress:
            statement = export.inbox_statement(session, filters, true(), None)
            total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
            task = progress.add_task("complaints", total=total)
            context_ = export.RowContext.load(session, ctx.cipher if reveal_phones else None)
            rows = _counted(export.complaint_rows(session, statement, context_), progress, task)
            size = _write(path, export.chunks(fmt, export.COLUMNS, rows))
            progress.update(task, completed=total)
    console.print(f"wrote {total} complaints to {path} ({size:,} bytes)")


@app.command("report")
def report(
    fmt: FormatOpt = "csv",
    output: OutputOpt = None,
    period: Annotated[str, typer.Option(help="7d, 30d, 90d or 365d (default 30d)")] = "",
    date_from: Annotated[str, typer.Option("--from", help="first day (YYYY-MM-DD)")] = "",
    date_to: Annotated[str, typer.Option("--to", help="last day (YYYY-MM-DD)")] = "",
    account: Annotated[list[str] | None, typer.Option(help="merchant account name (repeat)")] = None,
    channel: Annotated[list[str] | None, typer.Option(help="channel (repeat)")] = None,
) -> None:
    """Every KPI of a period, one table (CSV block or XLSX sheet) each."""
    with context() as ctx:
        try:
            export.check_format(fmt)
            with ctx.session() as session:
                pairs = [("period", period), ("from", date_from), ("to", date_to)]
                pairs += [("account", str(_account_id(session, a))) for a in account or []]
                pairs += [("channel", c) for c in channel or []]
                filters = report_filters.parse([(k, v) for k, v in pairs if v], now=ctx.clock.now())
                computed = kpis.compute(session, filters, true())
        except ComplaintDeskError as exc:
            err_console.print(f"[red]{exc.public_message}[/red]")
            raise typer.Exit(2) from exc
        path = output or Path(f"report-{filters.date_from}-{filters.date_to}.{fmt}")
        size = _write(path, export.table_chunks(fmt, tables(computed)))
    console.print(f"wrote the report of {filters.date_from} – {filters.date_to} to {path} ({size:,} bytes)")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )
