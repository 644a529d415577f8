"""``complaintdesk tokens``: API bearer tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from complaintdesk.cli.common import console, context
from complaintdesk.core.audit.service import CLI_ACTOR
from complaintdesk.core.tokens import service as token_service

app = typer.Typer(help="API tokens (shown once at creation, stored as hashes).", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="who uses it, e.g. 'erp'")],
    account: Annotated[
        list[str] | None, typer.Option(help="merchant account it may see (repeatable)")
    ] = None,
    all_accounts: Annotated[bool, typer.Option(help="every merchant account")] = False,
    read_only: Annotated[bool, typer.Option(help="may read but not request actions")] = False,
) -> None:
    """Create a token and print it once."""
    with context() as ctx, ctx.session() as session:
        token, _ = token_service.create(
            session=session,
            name=name,
            account_names=list(account or []),
            all_accounts=all_accounts,
            can_write=not read_only,
            actor=CLI_ACTOR,
        )
    console.print(token, highlight=False, soft_wrap=True)


@app.command("list")
def list_cmd() -> None:
    """List tokens (never their values)."""
    with context() as ctx, ctx.session() as session:
        table = Table("name", "prefix", "scope", "write", "revoked", "last used")
        for t in token_service.list_all(session=session):
            scope = "all accounts" if t.all_accounts else ", ".join(str(i) for i in t.account_ids)
            table.add_row(
                t.name, t.prefix + "…", scope, str(t.can_write), str(t.revoked), str(t.last_used_at or "")
            )
        console.print(table)


@app.command("revoke")
def revoke(name: str) -> None:
    """Revoke a token."""
    with context() as ctx, ctx.session() as session:
        token_service.revoke(session=session, name=name, actor=CLI_ACTOR)
    console.print(f"token {name} revoked")
