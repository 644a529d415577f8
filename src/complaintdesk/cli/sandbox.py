"""``complaintdesk sandbox …``: one upstream simulator, standalone, for testing any integration.

Self-contained and cheap to import: the simulators, uvicorn and the crypto load inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Run one upstream simulator on its own, for testing your integration (see docs/sandbox.md).",
    no_args_is_help=True,
)

Host = Annotated[str, typer.Option(help="bind address (keep it on loopback: the control endpoints are open)")]
StateDir = Annotated[
    Path, typer.Option("--state-dir", help="folder for keys (reused on the next start) and merchants' files")
]
MerchantOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--merchant",
        help="register a merchant: mchid[:notify_url=URL,complaints=N] (repeatable; "
        "more at run time with POST /sandbox/merchants)",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg="red")
    return typer.Exit(2)


def _print_merchant(info: dict[str, Any]) -> None:
    typer.echo(f"\nmerchant {info['mchid']}")
    for key in (
        "merchant_serial_no",
        "private_key_file",
        "certificate_file",
        "apiv3_key_file",
        "platform_serial_no",
        "platform_cert_dir",
        "public_key_id",
        "public_key_file",
        "notify_url",
    ):
        typer.echo(f"  {key:<20} {info[key] if info[key] is not None else '-'}")


@app.command("wechatpay")
def wechatpay(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 8101,
    state_dir: StateDir = Path(".sandbox/wechatpay"),
    merchant: MerchantOpt = None,
    sign_mode: Annotated[
        str, typer.Option(help="how WeChat Pay signs answers: certificate, public_key or migrating")
    ] = "public_key",
    http_callbacks: Annotated[
        bool, typer.Option(help="let the callback-URL API accept http:// URLs (real WeChat Pay: https only)")
    ] = True,
    seed: Annotated[int | None, typer.Option(help="seed for generated complaints")] = None,
) -> None:
    """The WeChat Pay APIv3 consumer-complaints simulator (list, detail, history, reply, upload, …)."""
    from complaintdesk.sandbox.wechatpay import Notifier, SignMode, SimulatorState, create_app
    from complaintdesk.sandbox.wechatpay.standalone import (
        MerchantSpecError,
        Sandbox,
        add_control_routes,
        load_or_create_platform,
        parse_merchant_spec,
    )

    if sign_mode not in {str(mode) for mode in SignMode}:
        raise _fail(f"--sign-mode must be one of {', '.join(str(m) for m in SignMode)}")
    try:
        specs = [parse_merchant_spec(spec) for spec in merchant or ()]
        platform = load_or_create_platform(state_dir / "platform")
    except MerchantSpecError as exc:
        raise _fail(str(exc)) from exc
    state = SimulatorState(
        platform=platform, sign_mode=SignMode(sign_mode), allow_http_callbacks=http_callbacks
    )
    base_url = f"http://{host}:{port}"
    sandbox = Sandbox(state, state_dir, base_url, seed)
    sandbox.load_saved()
    for mchid, options in specs:
        sandbox.register(mchid, **options)
    simulator = create_app(state)
    add_control_routes(simulator, sandbox)

    typer.echo(f"WeChat Pay sandbox on {base_url}  (sign mode: {sign_mode})")
    typer.echo(f"  keys and merchants in {state_dir.resolve()}")
    typer.echo(f'  add a merchant: curl -X POST {base_url}/sandbox/merchants -d \'{{"mchid":"1900000001"}}\'')
    for info in sandbox.describe_all():
        _print_merchant(info)
    _serve(simulator, host, port, Notifier(state))


@app.command("miniprogram")
def miniprogram(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 8102,
    state_dir: Annotated[Path, typer.Option("--state-dir", help="folder for apps' credentials")] = Path(
        ".sandbox/miniprogram"
    ),
    app_spec: Annotated[
        list[str] | None,
        typer.Option(
            "--app",
            help="register a mini program: appid[:push_url=URL,format=xml|json,"
            "mode=safe|compatible|plaintext,complaints=N] (repeatable; more with POST /sandbox/apps)",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed for generated complaints")] = None,
) -> None:
    """The Mini Program 交易投诉 simulator (token, complaint detail, actions, upload, message pushes)."""
    from complaintdesk.sandbox.common.standalone import SpecError
    from complaintdesk.sandbox.miniprogram import MiniProgramNotifier, MiniProgramState, create_app
    from complaintdesk.sandbox.miniprogram.standalone import (
        MiniProgramSandbox,
        add_control_routes,
        parse_app_spec,
    )

    try:
        specs = [parse_app_spec(spec) for spec in app_spec or ()]
    except SpecError as exc:
        raise _fail(str(exc)) from exc
    state = MiniProgramState()
    base_url = f"http://{host}:{port}"
    sandbox = MiniProgramSandbox(state, state_dir, base_url, seed)
    sandbox.load_saved()
    for appid, options in specs:
        sandbox.register(appid, **options)
    simulator = create_app(state)
    add_control_routes(simulator, sandbox)
    typer.echo(f"Mini Program sandbox on {base_url}  (CDN links point here too)")
    typer.echo(f"  credentials in {state_dir.resolve()}; add an app: POST {base_url}/sandbox/apps")
    for info in sandbox.describe_all():
        typer.echo(f"\napp {info['appid']}")
        for key in ("original_id", "push_url", "message_format", "message_mode", *_MP_FILES):
            typer.echo(f"  {key:<22} {info[key] if info[key] is not None else '-'}")
    _serve(simulator, host, port, MiniProgramNotifier(state))


_MP_FILES = ("app_secret_file", "token_file", "encoding_aes_key_file")


@app.command("huishouqian")
def huishouqian(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 8103,
    state_dir: StateDir = Path(".sandbox/huishouqian"),
    merchant: Annotated[
        list[str] | None,
        typer.Option(
            "--merchant",
            help="register a merchant: merchant_no[:notify_url=URL,complaints=N] (repeatable; "
            "more with POST /sandbox/merchants)",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed for generated complaints")] = None,
) -> None:
    """The Huishouqian (慧收钱) complaint gateway simulator (query, history, reply, complete, upload, …)."""
    from complaintdesk.sandbox.common.standalone import SpecError
    from complaintdesk.sandbox.huishouqian import HuishouqianNotifier, HuishouqianState, create_app
    from complaintdesk.sandbox.huishouqian.standalone import (
        HuishouqianSandbox,
        add_control_routes,
        load_or_create_platform,
        parse_merchant_spec,
    )

    try:
        specs = [parse_merchant_spec(spec) for spec in merchant or ()]
        platform = load_or_create_platform(state_dir / "platform")
    except SpecError as exc:
        raise _fail(str(exc)) from exc
    state = HuishouqianState(platform)
    base_url = f"http://{host}:{port}"
    sandbox = HuishouqianSandbox(state, state_dir, base_url, seed)
    sandbox.load_saved()
    for merchant_no, options in specs:
        sandbox.register(merchant_no, **options)
    simulator = create_app(state)
    add_control_routes(simulator, sandbox)
    typer.echo(f"Huishouqian sandbox on {base_url}")
    typer.echo(f"  keys in {state_dir.resolve()}; add a merchant: POST {base_url}/sandbox/merchants")
    for info in sandbox.describe_all():
        typer.echo(f"\nmerchant {info['merchant_no']}")
        for key, value in info.items():
            if key not in ("merchant_no", "base_url"):
                typer.echo(f"  {key:<26} {value if value is not None else '-'}")
    _serve(simulator, host, port, HuishouqianNotifier(state))


def _serve(simulator: Any, host: str, port: int, notifier: Any) -> None:
    """Serve ``simulator`` and run ``notifier`` (pushes to registered URLs) until Ctrl-C / SIGTERM."""
    import asyncio

    import uvicorn

    async def main() -> None:
        server = uvicorn.Server(uvicorn.Config(simulator, host=host, port=port, log_level="warning"))
        stop = asyncio.Event()
        delivering = asyncio.create_task(notifier.run(stop))
        try:
            await server.serve()
        finally:
            stop.set()
            await delivering

    asyncio.run(main())
