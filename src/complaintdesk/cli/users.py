"""``complaintdesk users``: console users, roles and account scopes (each change is audited)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from complaintdesk.cli.common import console, context, err_console
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.audit.service import CLI_ACTOR
from complaintdesk.core.users import service as user_service
from complaintdesk.core.users.permissions import Role

app = typer.Typer(
    help="Console users: sign-in, role (admin/agent/viewer) and merchant accounts.", no_args_is_help=True
)

AccountOpt = Annotated[list[str] | None, typer.Option("--account", help="merchant account name (repeatable)")]
AllOpt = Annotated[bool, typer.Option("--all-accounts", help="every merchant account, also future ones")]
RoleOpt = Annotated[str, typer.Option(help="admin | agent | viewer")]


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        err_console.print(f"[red]unknown role {value!r}[/red]; expected admin, agent or viewer")
        raise typer.Exit(2) from None


def _read_password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            err_console.print(f"[red]cannot read {password_file}:[/red] {exc.strerror}")
            raise typer.Exit(2) from exc
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="sign-in name (stored lowercase)")],
    role: RoleOpt = "agent",
    account: AccountOpt = None,
    all_accounts: AllOpt = False,
    password_file: Annotated[
        Path | None, typer.Option(help="read the password from this file (else you are asked twice)")
    ] = None,
    display_name: Annotated[str, typer.Option(help="name shown to colleagues")] = "",
    language: Annotated[str, typer.Option(help="zh-CN | en")] = "zh-CN",
) -> None:
    """Add a user."""
    checked = _role(role)
    password = _read_password(password_file)
    with context() as ctx, ctx.session() as session:
        user = user_service.create(
            session=session,
            username=username,
            password=password,
            role=checked,
            now=ctx.clock.now(),
            display_name=display_name,
            account_ids=user_service.account_ids_for(session=session, names=account or []),
            all_accounts=all_accounts,
            language=language,
            actor=CLI_ACTOR,
        )
    console.print(f"user {user.username} added ({user.role})")  # after the commit above


@app.command("list")
def list_cmd() -> None:
    """List users (never their passwords)."""
    with context() as ctx, ctx.session() as session:
        names = {a.id: a.name for a in account_service.list_all(session=session)}
        now = ctx.clock.now()
        table = Table("username", "name", "role", "accounts", "active", "locked", "last sign-in")
        for u in user_service.list_all(session=session):
            scope = (
                "all accounts" if u.all_accounts else ", ".join(names.get(i, str(i)) for i in u.account_ids)
            )
            locked = "yes" if u.locked_until is not None and u.locked_until > now else ""
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else ""
            table.add_row(u.username, u.display_name, u.role, scope, str(u.active), locked, last)
        console.print(table)


@app.command("reset-password")
def reset_password(username: str) -> None:
    """Give a user a generated one-time password (printed once; they must change it at sign-in)."""
    with context() as ctx, ctx.session() as session:
        user = user_service.get_by_username_or_raise(session=session, username=username)
        password = user_service.reset_password(
            session=session, user=user, now=ctx.clock.now(), actor=CLI_ACTOR
        )
    console.print(password, highlight=False, soft_wrap=True)


@app.command("set-role")
def set_role(username: str, role: Annotated[str, typer.Argument(help="admin | agent | viewer")]) -> None:
    """Change a user's role."""
    checked = _role(role)
    with context() as ctx, ctx.session() as session:
        user = user_service.get_by_username_or_raise(session=session, username=username)
        user_service.set_role(session=session, user=user, role=checked, now=ctx.clock.now(), actor=CLI_ACTOR)
    console.print(f"{username} is now {checked.value}")


@app.command("set-scope")
def set_scope(username: str, account: AccountOpt = None, all_accounts: AllOpt = False) -> None:
    """Change which merchant accounts a user sees."""
    with context() as ctx, ctx.session() as session:
        user = user_service.get_by_username_or_raise(session=session, username=username)
        user_service.set_scope(
            session=session,
            user=user,
            account_ids=user_service.account_ids_for(session=session, names=account or []),
            all_accounts=all_accounts,
            now=ctx.clock.now(),
            actor=CLI_ACTOR,
        )
    console.print(f"scope of {username} changed")
