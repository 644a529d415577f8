"""``complaintdesk complaints``: read complaints and their timelines."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from complaintdesk.cli.common import console, context, yuan
from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.core.timeline import service as timeline_service

app = typer.Typer(help="Complaints.", no_args_is_help=True)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@app.command("list")
def list_cmd(
    status: Annotated[
        str | None, typer.Option(help="open | responded | in_platform | resolved | closed")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 30,
) -> None:
    """List the most recent complaints."""
    with context() as ctx, ctx.session() as session:
        table = Table(
            "id", "channel", "complaint id", "merchant", "status", "raw", "amount", "time (CST)", "flags"
        )
        for c in complaint_service.list_recent(session=session, limit=limit, status=status):
            flags = " ".join(
                f
                for f, on in (
                    ("msg", c.user_message_waiting),
                    ("refund", c.refund_requested),
                    ("urgent", c.immediate_service),
                    ("platform", c.platform_assistance),
                )
                if on
            )
            table.add_row(
                str(c.id),
                c.channel,
                c.external_id,
                c.merchant_id,
                c.status,
                c.raw_status,
                yuan(c.amount_fen),
                c.complained_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                flags,
            )
        console.print(table)
        console.print(f"{complaint_service.count(session=session)} complaints stored")


@app.command("show")
def show(ref: Annotated[str, typer.Argument(help="our id or the upstream complaint id")]) -> None:
    """Show one complaint with its timeline (the phone number stays masked)."""
    with context() as ctx, ctx.session() as session:
        c = complaint_service.find(session=session, ref=ref)
        console.print(f"[bold]{c.channel} complaint {c.external_id}[/bold] (#{c.id})")
        console.print(
            f"merchant {c.merchant_id} · status {c.status} (raw {c.raw_status}) · times {c.complaint_times}"
        )
        console.print(f"complained at {c.complained_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S} CST")
        console.print(f"problem: {c.problem_type} {c.problem_description}")
        phone = c.payer_phone_masked or "-"
        refund = yuan(c.refund_amount_fen)
        console.print(f"amount {yuan(c.amount_fen)} · refund asked {refund} · phone {phone}")
        for order in c.orders:
            console.print(
                f"order {order['transaction_id']} / {order['out_trade_no']} {yuan(order['amount_fen'])}"
            )
        console.print(f"detail: {c.detail}", markup=False)
        if c.unknown_values:
            console.print(f"[yellow]unrecognised upstream values:[/yellow] {', '.join(c.unknown_values)}")
        table = Table("time (CST)", "source", "actor", "kind", "text")
        for e in timeline_service.list_for(session=session, complaint_id=c.id):
            table.add_row(
                e.occurred_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S"),
                e.source,
                e.actor_label or e.actor,
                e.kind if e.known else f"{e.kind} (?)",
                e.text + (f" [{len(e.media_urls)} images]" if e.media_urls else ""),
            )
        console.print(table)
