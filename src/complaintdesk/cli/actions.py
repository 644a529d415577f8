"""``complaintdesk complaints reply|complete|refund``: request actions and watch them go out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from complaintdesk.channels.base import ActionChannel, ActionKind
from complaintdesk.cli.common import console, context, err_console, run
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.core.media import service as media_service
from complaintdesk.core.outbox import service as outbox_service
from complaintdesk.core.outbox.models import ActionStatus
from complaintdesk.jobs.dispatch import dispatch_actions
from complaintdesk.runtime import AppContext


def _request(ctx: AppContext, ref: str, kind: ActionKind, params: dict[str, Any], images: list[Path]) -> str:
    with ctx.session() as session:
        complaint = complaint_service.find(session=session, ref=ref)
        name = account_service.get(session=session, account_id=complaint.account_id).name
        adapter = ctx.runtime_for(name).adapter
        refs = []
        for path in images:
            stored = media_service.store_upload(
                session=session,
                storage=ctx.media_storage,
                data=path.read_bytes(),
                uploader=media_service.Uploader.for_complaint("cli", complaint),
            )
            refs.append(stored.sha256)
        if refs:
            params = {**params, ("reject_media" if kind == ActionKind.REFUND_REJECT else "images"): refs}
        action = outbox_service.request_action(
            session=session,
            complaint=complaint,
            kind=kind,
            params=params,
            channel=cast(ActionChannel, adapter),
            storage=ctx.media_storage,
            requested_by="cli",
            now=ctx.clock.now(),
        )
        return action.id


def _submit(kind: ActionKind, ref: str, params: dict[str, Any], images: list[Path], wait: bool) -> None:
    with context() as ctx:
        action_id = _request(ctx, ref, kind, params, images)
        console.print(f"{kind.value} queued as action [bold]{action_id}[/bold]")
        if not wait:
            return

        async def drive() -> str:
            try:
                async with asyncio.timeout(120):
                    while True:
                        await dispatch_actions(ctx)
                        with ctx.session() as session:
                            action = outbox_service.get(session=session, action_id=action_id)
                            if action.status in ActionStatus.FINAL:
                                return f"{action.status} {action.error_code} {action.error_message}".strip()
                        await asyncio.sleep(0.5)
            finally:
                await ctx.close_runtimes()

        outcome = run(drive)
        (console if outcome.startswith("sent") else err_console).print(f"action {action_id}: {outcome}")
        if not outcome.startswith("sent"):
            raise typer.Exit(1)


WaitOpt = Annotated[
    bool, typer.Option(help="send now and wait for the outcome (otherwise the worker sends it)")
]
ImagesOpt = Annotated[
    list[Path] | None, typer.Option("--image", exists=True, dir_okay=False, help="JPG/PNG/BMP ≤ 2 MB")
]


def reply(
    ref: Annotated[str, typer.Argument(help="our id or the upstream complaint id")],
    text: Annotated[
        str | None, typer.Option(help="reply shown to the user (WeChat Pay: ≤ 200 characters)")
    ] = None,
    image: ImagesOpt = None,
    jump_url: Annotated[str | None, typer.Option(help="https link (whitelisted merchants only)")] = None,
    jump_url_text: Annotated[str | None, typer.Option(help="link text (≤ 10 characters)")] = None,
    mp_action: Annotated[
        str | None, typer.Option(help="Mini Program: respond | supply_proof | supply_refund | appeal")
    ] = None,
    agree: Annotated[
        bool | None, typer.Option("--agree/--refuse", help="Mini Program respond: settle or not")
    ] = None,
    accept_return: Annotated[
        int | None, typer.Option(help="Mini Program return flow: goods received (1/0)")
    ] = None,
    return_id: Annotated[
        str | None, typer.Option(help="Mini Program return flow: returnBill.returnId")
    ] = None,
    wait: WaitOpt = True,
) -> None:
    """Reply to the user (for a Mini Program complaint, choose the platform action with --mp-action)."""
    params: dict[str, Any] = {}
    optional = {
        "content": text,
        "jump_url": jump_url,
        "jump_url_text": jump_url_text,
        "mp_action": mp_action,
        "accept_return": accept_return,
        "return_id": return_id,
    }
    params.update({key: value for key, value in optional.items() if value is not None})
    if agree is not None:
        params["agree"] = 1 if agree else 2
    _submit(ActionKind.REPLY, ref, params, list(image or []), wait)


def complete(
    ref: Annotated[str, typer.Argument(help="our id or the upstream complaint id")],
    text: Annotated[str | None, typer.Option(help="closing message (required by Huishouqian)")] = None,
    wait: WaitOpt = True,
) -> None:
    """Report the complaint handled (WeChat Pay then sends the user a satisfaction survey)."""
    _submit(ActionKind.COMPLETE, ref, {"content": text} if text else {}, [], wait)


def refund(
    ref: Annotated[str, typer.Argument(help="our id or the upstream complaint id")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="approve or reject the refund request")],
    days: Annotated[
        int | None, typer.Option(help="with --approve: working days until the refund starts")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="with --reject: the reason shown to the user")] = None,
    remark: Annotated[str | None, typer.Option(help="note for WeChat Pay customer service")] = None,
    image: ImagesOpt = None,
    wait: WaitOpt = True,
) -> None:
    """Approve or reject a refund request (then refund through the payment API when approving)."""
    params: dict[str, Any] = {}
    if remark:
        params["remark"] = remark
    if approve:
        if reason or image:
            raise typer.BadParameter("--reason and --image go with --reject")
        if days is not None:
            params["launch_refund_day"] = days
        _submit(ActionKind.REFUND_APPROVE, ref, params, [], wait)
    else:
        if days is not None:
            raise typer.BadParameter("--days goes with --approve only")
        params["reject_reason"] = reason or ""
        _submit(ActionKind.REFUND_REJECT, ref, params, list(image or []), wait)
