"""``complaintdesk alerts``: destinations, rules, "send test", the delivery log and replay."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from complaintdesk.cli.common import console, context
from complaintdesk.core.alerts import delivery as alert_delivery
from complaintdesk.core.alerts import service as alert_service
from complaintdesk.core.alerts.models import AlertAttempt, AlertDelivery, AlertEvent
from complaintdesk.jobs.alerts import send_test
from complaintdesk.security import resolve_secret

app = typer.Typer(
    help="Alerts to WeCom, DingTalk, Feishu, e-mail and webhooks; signed endpoints.", no_args_is_help=True
)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="a short name, e.g. 'ops-dingtalk'")],
    kind: Annotated[str, typer.Option(help="wecom | dingtalk | feishu | email | webhook | endpoint")],
    url: Annotated[str, typer.Option(help="the robot's or endpoint's URL (stored encrypted)")] = "",
    secret_ref: Annotated[
        str, typer.Option(help="signing secret / SMTP password as env:NAME or file:/path")
    ] = "",
    account: Annotated[
        int | None, typer.Option(help="only this merchant account's events (endpoints: required)")
    ] = None,
    language: Annotated[str, typer.Option(help="zh-CN | en")] = "zh-CN",
    quiet: Annotated[str, typer.Option(help="quiet hours HH:MM-HH:MM, e.g. 22:00-08:00")] = "",
    smtp_host: Annotated[str, typer.Option(help="e-mail: SMTP host")] = "",
    smtp_port: Annotated[int, typer.Option(help="e-mail: SMTP port")] = 25,
    mail_from: Annotated[str, typer.Option(help="e-mail: From address")] = "complaintdesk@localhost",
    to: Annotated[list[str] | None, typer.Option(help="e-mail: recipient (repeatable)")] = None,
    event: Annotated[
        list[str] | None, typer.Option(help="add a rule for these events (repeatable; none: all)")
    ] = None,
) -> None:
    """Add a destination (refused with the reason when its URL cannot work) and a rule for it."""
    secret = resolve_secret(secret_ref).decode().strip() if secret_ref else ""
    start, _, end = quiet.partition("-")
    options = (
        {"host": smtp_host, "port": smtp_port, "from": mail_from, "to": list(to or [])}
        if kind == "email"
        else {}
    )
    with context() as ctx, ctx.session() as s:
        dest = alert_service.add_destination(
            session=s,
            cipher=ctx.cipher,
            settings=ctx.settings.alerts,
            name=name,
            kind=kind,
            url=url,
            secret=secret,
            options=options,
            account_id=account,
            language=language,
            quiet=(start, end),
        )
        alert_service.add_rule(
            session=s, destination_id=dest.id, events=list(event or []), account_id=account
        )
        dest_id, endpoint_secret = dest.id, (secret if kind == "endpoint" and not secret_ref else "")
    console.print(f"destination {dest_id} added ({kind})")
    if endpoint_secret:
        console.print(f"signing secret (shown once; give it to the receiver): {endpoint_secret}")


@app.command("rule")
def rule(
    destination: Annotated[str, typer.Argument(help="destination id or name")],
    event: Annotated[list[str] | None, typer.Option(help="event kind (repeatable; none: all)")] = None,
    account: Annotated[int | None, typer.Option(help="only this merchant account")] = None,
    user: Annotated[
        int | None, typer.Option(help="a user's own events and complaints assigned to them")
    ] = None,
) -> None:
    """Add a rule: which events go to a destination."""
    with context() as ctx, ctx.session() as s:
        dest = alert_service.find_destination(session=s, ref=destination)
        made = alert_service.add_rule(
            session=s, destination_id=dest.id, events=list(event or []), account_id=account, user_id=user
        )
        rule_id = made.id
    console.print(f"rule {rule_id} added")


@app.command("list")
def list_() -> None:
    """Destinations (URLs shown without their tokens) and rules."""
    table = Table("id", "name", "kind", "where", "account", "lang", "quiet", "pending", "rules")
    with context() as ctx, ctx.session() as s:
        rules = alert_service.list_rules(session=s)
        for d in alert_service.list_destinations(session=s):
            mine = [
                f"{','.join(r.events) or '*'}" + (f"@u{r.user_id}" if r.user_id else "")
                for r in rules
                if r.destination_id == d.id
            ]
            quiet = f"{d.quiet_start}-{d.quiet_end}" if d.quiet_start else ""
            pending = alert_delivery.pending_count(session=s, destination_id=d.id)
            table.add_row(
                str(d.id),
                d.name,
                d.kind,
                d.url_hint,
                str(d.account_id or "*"),
                d.language,
                quiet,
                str(pending),
                "; ".join(mine),
            )
    console.print(table)


@app.command("test")
def test(destination: Annotated[str, typer.Argument(help="destination id or name")]) -> None:
    """Send a test message now and print the destination's answer."""
    with context() as ctx:
        with ctx.session() as s:
            dest_id = alert_service.find_destination(session=s, ref=destination).id
        outcome = asyncio.run(send_test(ctx, dest_id))
    if not outcome.ok:
        console.print(f"[red]refused[/red]: {outcome.error} {outcome.answer}")
        raise typer.Exit(1)
    console.print(f"delivered ({outcome.status_code}): {outcome.answer}")


@app.command("deliveries")
def deliveries(limit: Annotated[int, typer.Option(help="rows")] = 30) -> None:
    """The delivery log: each delivery with its last attempt and the destination's answer."""
    table = Table("id", "event", "destination", "status", "attempts", "answer / error")
    with context() as ctx, ctx.session() as s:
        rows = s.execute(
            select(AlertDelivery, AlertEvent.kind, AlertAttempt.answer)
            .join(AlertEvent, AlertEvent.id == AlertDelivery.event_id)
            .outerjoin(AlertAttempt, AlertAttempt.id == AlertDelivery.last_attempt_id)
            .order_by(AlertDelivery.id.desc())
            .limit(limit)
        ).all()
        for d, kind, answer in rows:
            table.add_row(
                str(d.id),
                kind,
                str(d.destination_id),
                d.status,
                str(d.attempts),
                (d.error or answer or "")[:80],
            )
    console.print(table)


@app.command("replay")
def replay(delivery: Annotated[int, typer.Argument(help="delivery id")]) -> None:
    """Send a delivery again (endpoints get the same webhook-id)."""
    with context() as ctx, ctx.session() as s:
        alert_delivery.replay(session=s, delivery_id=delivery, now=ctx.clock.now())
    console.print(f"delivery {delivery} queued again")


@app.command("rotate-secret")
def rotate_secret(
    destination: Annotated[str, typer.Argument(help="endpoint id or name")],
    overlap_hours: Annotated[float, typer.Option(help="hours the old secret keeps signing too")] = 24.0,
) -> None:
    """Give an endpoint a new signing secret; both are sent during the overlap."""
    with context() as ctx, ctx.session() as s:
        dest = alert_service.find_destination(session=s, ref=destination)
        secret = alert_service.rotate_secret(
            session=s, cipher=ctx.cipher, destination=dest, now=ctx.clock.now(), overlap_hours=overlap_hours
        )
    console.print(f"new signing secret (shown once): {secret}")
