"""``complaintdesk merchants``: add and list merchant accounts."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from complaintdesk.cli.common import console, context
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.audit.service import CLI_ACTOR

app = typer.Typer(
    help="Merchant accounts and their credentials (given as file:/env: references).", no_args_is_help=True
)


_MP, _HSQ = "Mini Program (--channel miniprogram)", "Huishouqian (--channel huishouqian)"
_REF = "as file:/path or env:NAME"


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="short name used in the webhook URL, e.g. 'shop-a'")],
    mchid: Annotated[
        str, typer.Option(help="WeChat Pay merchant id (商户号); other channels: see below")
    ] = "",
    serial: Annotated[str, typer.Option(help="merchant API certificate serial number")] = "",
    private_key: Annotated[str, typer.Option(help="apiclient_key.pem as file:/path or env:NAME")] = "",
    apiv3_key: Annotated[str, typer.Option(help="APIv3 key as file:/path or env:NAME")] = "",
    merchant_cert: Annotated[str, typer.Option(help="apiclient_cert.pem (lets doctor check the key)")] = "",
    platform_cert: Annotated[
        list[str] | None, typer.Option(help="platform certificate PEM (repeatable)")
    ] = None,
    public_key_id: Annotated[str, typer.Option(help="WeChat Pay public key id PUB_KEY_ID_…")] = "",
    public_key: Annotated[str, typer.Option(help="WeChat Pay public key PEM as file:/path or env:NAME")] = "",
    kind: Annotated[
        str, typer.Option(help="merchant | service_provider (WeChat Pay 服务商, Huishouqian 代理商)")
    ] = "merchant",
    channel: Annotated[str, typer.Option(help="wechatpay | miniprogram | huishouqian")] = "wechatpay",
    secret: Annotated[
        list[str] | None,
        typer.Option(help="channel secret NAME=REF, e.g. app_secret=env:MP_SECRET (repeatable)"),
    ] = None,
    option: Annotated[list[str] | None, typer.Option(help="channel option NAME=VALUE (repeatable)")] = None,
    api_base_url: Annotated[str, typer.Option(help="override the upstream URL (simulator)")] = "",
    display_name: Annotated[str, typer.Option(help="name shown to operators")] = "",
    appid: Annotated[str, typer.Option(help="AppID (wx…, 开发设置)", rich_help_panel=_MP)] = "",
    token: Annotated[
        str, typer.Option(help=f"message push Token {_REF} (webhooks)", rich_help_panel=_MP)
    ] = "",
    encoding_aes_key: Annotated[
        str,
        typer.Option(help=f"message push EncodingAESKey {_REF} (not in plaintext mode)", rich_help_panel=_MP),
    ] = "",
    app_secret: Annotated[
        str, typer.Option(help=f"AppSecret {_REF} (APIs; without it: webhooks only)", rich_help_panel=_MP)
    ] = "",
    message_mode: Annotated[
        str, typer.Option(help="safe | compatible | plaintext", rich_help_panel=_MP)
    ] = "",
    message_format: Annotated[str, typer.Option(help="xml | json", rich_help_panel=_MP)] = "",
    merchant_no: Annotated[str, typer.Option(help="merchantNo", rich_help_panel=_HSQ)] = "",
    platform_certificate: Annotated[
        str, typer.Option(help=f"MANDAO_<merchantNo>_pub.cer {_REF} (webhooks)", rich_help_panel=_HSQ)
    ] = "",
    sign_key: Annotated[
        str, typer.Option(help=f"签名混淆KEY {_REF} (webhooks, RSA2)", rich_help_panel=_HSQ)
    ] = "",
    private_key_p12: Annotated[
        str, typer.Option(help=f"*_pri.pfx {_REF} (sync, actions)", rich_help_panel=_HSQ)
    ] = "",
    private_key_password: Annotated[
        str, typer.Option(help=f"its password {_REF}", rich_help_panel=_HSQ)
    ] = "",
    sign_type: Annotated[str, typer.Option(help="RSA2 | CFCA", rich_help_panel=_HSQ)] = "",
) -> None:
    """Add a merchant account; secrets stay where they are, only their references are stored."""
    named = {
        "miniprogram": (appid, {"token": token, "encoding_aes_key": encoding_aes_key,
                        "app_secret": app_secret},
                        {"message_mode": message_mode, "message_format": message_format}),
        "huishouqian": (merchant_no, {"platform_certificate": platform_certificate, "sign_key": sign_key,
                        "private_key_p12": private_key_p12, "private_key_password": private_key_password},
                        {"sign_type": sign_type}),
    }  # fmt: skip
    channel, mchid, secrets_given, options_given = _channel_fields(channel, mchid, named)
    refs = {**_pairs(secret, "--secret"), **secrets_given}
    for value in secrets_given.values():
        if not value.startswith(("file:", "env:")):
            raise typer.BadParameter("secrets are references: file:/path or env:NAME, never values")
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
            secret_refs=refs,
            options={**_pairs(option, "--option"), **options_given},
            actor=CLI_ACTOR,
        )
    # Reported only once the block above has committed (objects stay readable after commit).
    console.print(f"added [bold]{account.name}[/bold] ({account.channel} {account.mchid})")
    console.print(f"callback URL path: /webhooks/{account.channel}/{account.name}")
    if account.channel != "wechatpay" and not account.secret_refs:
        console.print("[yellow]this channel needs --secret NAME=REF values: see docs/channels/[/yellow]")


def _channel_fields(
    channel: str, mchid: str, named: dict[str, tuple[str, dict[str, str], dict[str, str]]]
) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """(channel, upstream id, secrets, options) from the per-channel options; another channel's is refused."""
    used = [c for c, (ident, secrets, options) in named.items() if ident or any(secrets.values())
            or any(options.values())]  # fmt: skip
    if len(used) > 1 or (used and channel not in ("wechatpay", used[0])):
        raise typer.BadParameter(f"options of {' and '.join(used)} given with --channel {channel}")
    if used and channel == "wechatpay":
        channel = used[0]  # --appid / --merchant-no name the channel
    if channel not in named:
        return channel, mchid, {}, {}
    ident, secrets, options = named[channel]
    if ident and mchid and ident != mchid:
        raise typer.BadParameter("give the upstream id once (--appid / --merchant-no)")
    return (
        channel,
        ident or mchid,
        {k: v for k, v in secrets.items() if v},
        {k: v for k, v in options.items() if v},
    )


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{flag} takes NAME=VALUE, got {value.split('=')[0]!r}")
        pairs[key.strip()] = rest.strip()
    return pairs


@app.command("set")
def set_fields(
    name: Annotated[str, typer.Argument(help="the account's short name")],
    display_name: Annotated[str | None, typer.Option(help="name shown to operators")] = None,
    serial: Annotated[str | None, typer.Option(help="merchant API certificate serial number")] = None,
    private_key: Annotated[
        str | None, typer.Option(help="apiclient_key.pem as file:/path or env:NAME")
    ] = None,
    apiv3_key: Annotated[str | None, typer.Option(help="APIv3 key as file:/path or env:NAME")] = None,
    merchant_cert: Annotated[str | None, typer.Option(help="apiclient_cert.pem as file:/path")] = None,
    public_key_id: Annotated[str | None, typer.Option(help="WeChat Pay public key id PUB_KEY_ID_…")] = None,
    public_key: Annotated[
        str | None, typer.Option(help="WeChat Pay public key as file:/path or env:NAME")
    ] = None,
    api_base_url: Annotated[str | None, typer.Option(help="override the upstream URL (simulator)")] = None,
) -> None:
    """Change an account's name shown to operators, credentials (references) or upstream URL (audited)."""
    given = {
        "display_name": display_name, "merchant_serial": serial, "private_key_ref": private_key,
        "apiv3_key_ref": apiv3_key, "merchant_cert_ref": merchant_cert, "public_key_id": public_key_id,
        "public_key_ref": public_key, "api_base_url": api_base_url,
    }  # fmt: skip
    with context() as ctx, ctx.session() as session:
        account = account_service.get_by_name_or_raise(session=session, name=name)
        fields = {k: v for k, v in given.items() if v is not None}
        changed = account_service.change(session=session, account=account, actor=CLI_ACTOR, **fields)
    console.print(f"{name}: " + (", ".join(changed) + " changed" if changed else "nothing changed"))


@app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="the account's short name")]) -> None:
    """Stop syncing and acting for an account (its complaints stay readable; audited)."""
    _set_enabled(name, False)


@app.command("enable")
def enable(name: Annotated[str, typer.Argument(help="the account's short name")]) -> None:
    """Sync and act for a disabled account again (audited)."""
    _set_enabled(name, True)


def _set_enabled(name: str, enabled: bool) -> None:
    with context() as ctx, ctx.session() as session:
        account = account_service.get_by_name_or_raise(session=session, name=name)
        account_service.set_enabled(session=session, account=account, enabled=enabled, actor=CLI_ACTOR)
    console.print(f"{name} {'enabled' if enabled else 'disabled'}")


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
                    (", ".join(sorted(a.secret_refs or {})), a.secret_refs),
                )
                if present
            )
            table.add_row(str(a.id), a.name, a.channel, a.kind, a.mchid, str(a.parent_id or ""), keys)
        console.print(table)
