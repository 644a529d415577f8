"""``complaintdesk callback-url``: the complaint notification URL registered with WeChat Pay."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from complaintdesk.cli.common import console, context, run

app = typer.Typer(help="The notification URL WeChat Pay calls for this merchant.", no_args_is_help=True)
AccountArg = Annotated[str, typer.Option(help="merchant account name")]


def _call(account: str, method: str, *args: Any) -> Any:
    with context() as ctx:

        async def go() -> Any:
            try:
                client = getattr(ctx.runtime_for(account).adapter, "client")  # noqa: B009
                return await getattr(client, method)(*args)
            finally:
                await ctx.close_runtimes()

        return run(go)


@app.command("get")
def get(account: AccountArg) -> None:
    """Show the registered URL."""
    url = _call(account, "get_callback_url")
    console.print(url or "no callback URL is registered")


@app.command("set")
def set_(
    account: AccountArg,
    url: Annotated[
        str | None, typer.Option(help="https URL (default: public_base_url + /webhooks/wechatpay/<account>)")
    ] = None,
) -> None:
    """Register or change the URL (query first, then update or create)."""
    with context(migrate=False) as ctx:
        target = url or f"{ctx.settings.public_base_url.rstrip('/')}/webhooks/wechatpay/{account}"
    _call(account, "set_callback_url", target)
    console.print(f"callback URL set to {target}")


@app.command("delete")
def delete(account: AccountArg) -> None:
    """Remove the URL (WeChat Pay stops notifying; sync still finds complaints)."""
    _call(account, "delete_callback_url")
    console.print("callback URL deleted")
