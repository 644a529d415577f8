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
    from complaintdesk.sandbox.wechatpay import SignMode, SimulatorState, create_app
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
    _serve(simulator, host, port, state)


def _serve(simulator: Any, host: str, port: int, state: Any) -> None:
    """Serve ``simulator`` and deliver its notifications until Ctrl-C / SIGTERM."""
    import asyncio

    import uvicorn

    from complaintdesk.sandbox.wechatpay import Notifier

    async def main() -> None:
        server = uvicorn.Server(uvicorn.Config(simulator, host=host, port=port, log_level="warning"))
        stop = asyncio.Event()
        notifier = asyncio.create_task(Notifier(state).run(stop))
        try:
            await server.serve()
        finally:
            stop.set()
            await notifier

    asyncio.run(main())
