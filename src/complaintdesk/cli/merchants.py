"""``complaintdesk merchants``: add and list merchant accounts."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from complaintdesk.cli.common import console, context
from complaintdesk.core.accounts import service as account_service

app = typer.Typer(
    help="Merchant accounts and their credentials (given as file:/env: references).", no_args_is_help=True
)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="short name used in the webhook URL, e.g. 'shop-a'")],
    mchid: Annotated[str, typer.Option(help="merchant id (商户号)")],
    serial: Annotated[str, typer.Option(help="merchant API certificate serial number")] = "",
    private_key: Annotated[str, typer.Option(help="apiclient_key.pem as file:/path or env:NAME")] = "",
    apiv3_key: Annotated[str, typer.Option(help="APIv3 key as file:/path or env:NAME")] = "",
    merchant_cert: Annotated[str, typer.Option(help="apiclient_cert.pem (lets doctor check the key)")] = "",
    platform_cert: Annotated[
        list[str] | None, typer.Option(help="platform certificate PEM (repeatable)")
    ] = None,
    public_key_id: Annotated[str, typer.Option(help="WeChat Pay public key id PUB_KEY_ID_…")] = "",
    public_key: Annotated[str, typer.Option(help="WeChat Pay public key PEM as file:/path or env:NAME")] = "",
    kind: Annotated[str, typer.Option(help="merchant | service_provider")] = "merchant",
    channel: Annotated[str, typer.Option(help="wechatpay")] = "wechatpay",
    api_base_url: Annotated[str, typer.Option(help="override the upstream URL (simulator)")] = "",
    display_name: Annotated[str, typer.Option(help="name shown to operators")] = "",
) -> None:
    """Add a merchant account; secrets stay where they are, only their references are stored."""
    with context() as ctx, ctx.session() as session:
        account = account_service.create(
            session=session,
            name=name,
            channel=channel,
            mchid=mchid,
            kind=kind,
            merchant_serial=serial,
            private_key_ref=private_key,
            apiv3_key_ref=apiv3_key,
            merchant_cert_ref=merchant_cert,
            platform_cert_refs=list(platform_cert or []),
            public_key_id=public_key_id,
            public_key_ref=public_key,
            api_base_url=api_base_url,
            display_name=display_name or name,
        )
        console.print(f"added [bold]{account.name}[/bold] ({account.channel} {account.mchid})")
        console.print(f"callback URL path: /webhooks/{account.channel}/{account.name}")


@app.command("list")
def list_cmd() -> None:
    """List merchant accounts (secret references are shown as their kind only)."""
    with context() as ctx, ctx.session() as session:
        table = Table("id", "name", "channel", "kind", "mchid", "parent", "keys")
        for a in account_service.list_all(session=session):
            keys = ", ".join(
                label
                for label, present in (
                    ("private key", a.private_key_ref),
                    ("APIv3 key", a.apiv3_key_ref),
                    ("platform certs", a.platform_cert_refs),
                    ("public key", a.public_key_id),
                )
                if present
            )
            table.add_row(str(a.id), a.name, a.channel, a.kind, a.mchid, str(a.parent_id or ""), keys)
        console.print(table)
