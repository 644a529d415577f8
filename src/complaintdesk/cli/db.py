"""``complaintdesk db``: schema management."""

from __future__ import annotations

import typer

from complaintdesk.cli.common import console, context
from complaintdesk.migrate import current_revision, upgrade

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd() -> None:
    """Apply every pending migration."""
    with context(migrate=False) as ctx:
        upgrade(ctx.engine)
        console.print(f"database at revision [bold]{current_revision(ctx.engine)}[/bold]")


@app.command("current")
def current_cmd() -> None:
    """Show the schema revision."""
    with context(migrate=False) as ctx:
        console.print(current_revision(ctx.engine) or "empty database")
