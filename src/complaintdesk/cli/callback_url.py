"""``complaintdesk callback-url``: where each channel's upstream sends this account's notifications.

WeChat Pay has an API for it (get, set, delete). The Mini Program has none: ``get`` says where to set the
URL in the WeChat admin and runs WeChat's URL check against it end to end. Huishouqian has none either:
``get`` states the notification URL to give Huishouqian and checks it answers from outside.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from complaintdesk.cli.common import console, context, err_console, run
from complaintdesk.cli.doctor_channels import MP_ADMIN_PLACE, TIMEOUT, hsq_notify_check, mp_url_check
from complaintdesk.cli.doctor_checks import callback_url
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.errors import AccountNotFound
from complaintdesk.runtime import AppContext

app = typer.Typer(help="The notification URL the upstream calls for this account.", no_args_is_help=True)
AccountArg = Annotated[str, typer.Option(help="merchant account name")]

NO_API = {
    "miniprogram": f"the Mini Program has no API for its push URL: set it in the {MP_ADMIN_PLACE}",
    "huishouqian": "Huishouqian has no API for the notification URL: give it to your Huishouqian contact",
}


def _account(ctx: AppContext, name: str) -> MerchantAccount:
    with ctx.session() as session:
        account = account_service.get_by_name(session=session, name=name)
        if account is None or account.kind == "sub_merchant":
            raise AccountNotFound(f"no credentialed merchant account named {name!r}")
        session.expunge(account)
    return account


def _call(ctx: AppContext, account: str, method: str, *args: Any) -> Any:
    async def go() -> Any:
        try:
            client = getattr(ctx.runtime_for(account).adapter, "client")  # noqa: B009
            return await getattr(client, method)(*args)
        finally:
            await ctx.close_runtimes()

    return run(go)


def _no_api(account: MerchantAccount) -> None:
    if account.channel in NO_API:
        err_console.print(f"[red]{NO_API[account.channel]}[/red]")
        raise typer.Exit(1)


async def _check(ctx: AppContext, account: MerchantAccount) -> Any:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        if account.channel == "miniprogram":
            return await mp_url_check(ctx, account, http)
        return await hsq_notify_check(ctx, account, http)


@app.command("get")
def get(account: AccountArg) -> None:
    """Show the URL (WeChat Pay: as registered; Mini Program, Huishouqian: the one to configure, checked)."""
    with context() as ctx:
        found = _account(ctx, account)
        if found.channel not in NO_API:
            url = _call(ctx, account, "get_callback_url")
            console.print(url or "no callback URL is registered")
            return
        url = callback_url(ctx.settings, found.channel, found.name)
        if found.channel == "miniprogram":
            console.print(f"push URL to set in the {MP_ADMIN_PLACE}:\n  {url}")
            console.print("with this account's Token and EncodingAESKey, message format and encryption mode")
        else:
            console.print(f"notification URL to give Huishouqian (HTTP POST, form fields):\n  {url}")
        check = run(lambda: _check(ctx, found))
    mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
    console.print(f"{mark} {check.what}" + (f" — {check.hint}" if check.hint else ""))
    if not check.ok:
        raise typer.Exit(1)


@app.command("set")
def set_(
    account: AccountArg,
    url: Annotated[
        str | None, typer.Option(help="https URL (default: public_base_url + /webhooks/wechatpay/<account>)")
    ] = None,
) -> None:
    """Register or change the URL (WeChat Pay only: query first, then update or create)."""
    with context() as ctx:
        _no_api(_account(ctx, account))
        target = url or callback_url(ctx.settings, "wechatpay", account)
        _call(ctx, account, "set_callback_url", target)
    console.print(f"callback URL set to {target}")


@app.command("delete")
def delete(account: AccountArg) -> None:
    """Remove the URL (WeChat Pay only; WeChat Pay stops notifying, sync still finds complaints)."""
    with context() as ctx:
        _no_api(_account(ctx, account))
        _call(ctx, account, "delete_callback_url")
    console.print("callback URL deleted")
