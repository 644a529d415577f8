"""The complaint page and everything done from it: actions, notes, tags, assignment, phone, refresh."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.channels.base import ActionKind
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import service as media_service
from complaintdesk.core.outbox import service as outbox_service
from complaintdesk.core.templates import render as template_render
from complaintdesk.core.templates import service as template_service
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.errors import ActionRefused, ChannelError, ComplaintDeskError, ConversationMoved, NotFound
from complaintdesk.web.console import action_forms, complaint_view, labels, wf
from complaintdesk.web.console.deps import (
    CsrfDep,
    CtxDep,
    DbDep,
    PrincipalDep,
    SessionDep,
    client_ip,
    complaint_for,
    form_text,
)
from complaintdesk.web.console.error_text import message_for, plain_message_for
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import render
from complaintdesk.web.console.session import ConsoleSession
from complaintdesk.web.params import IdPath, form_id

router = APIRouter(include_in_schema=False)


def _flash(session: ConsoleSession, message: str, kind: str = "ok") -> None:
    session.data["flash"] = [kind, message[:300]]
    session.dirty = True


def pop_flash(session: ConsoleSession) -> tuple[str, str]:
    """The message left by the previous request (kind, text), removed from the session."""
    value = session.data.pop("flash", None)
    if isinstance(value, list) and len(value) == 2:
        session.dirty = True
        return str(value[0]), str(value[1])
    return "", ""


def page(
    request: Request,
    ctx: Any,
    db: Session,
    session: ConsoleSession,
    principal: Principal,
    complaint: Complaint,
    *,
    action_error: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """Render the complaint page."""
    view = complaint_view.build(ctx, db, complaint)
    kind, message = pop_flash(session)
    users = list(db.scalars(select(User).where(User.active.is_(True)).order_by(User.username)))
    return render(
        request,
        "complaint.html",
        {
            "v": view,
            "c": complaint,
            "flash": message,
            "flash_kind": kind,
            "action_error": action_error or {},
            "mp_action_labels": action_forms.mp_action_labels(),
            "form": form or {},
            "users": users,
            "tags": wf.tags_of(db, complaint.id),
            "all_tags": wf.all_tags(db),
            "templates": wf.templates_for(db, principal, complaint),
            "can_act": principal.can(Permission.COMPLAINT_ACT),
            "can_note": principal.can(Permission.COMPLAINT_NOTE),
            "can_tag": principal.can(Permission.COMPLAINT_TAG),
            "can_assign": principal.can(Permission.COMPLAINT_ASSIGN),
            "can_reveal": principal.can(Permission.PHONE_REVEAL) and bool(complaint.payer_phone_enc),
            "upload_max_mb": media_service.MAX_UPLOAD_BYTES // 2**20,
        },
        status_code=status_code,
    )


@router.get("/complaints/{complaint_id}")
def show(
    complaint_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    complaint = complaint_for(request, ctx, db, principal, complaint_id)
    wf.mark_read(db, principal, [complaint.id], ctx.clock.now())
    return page(request, ctx, db, session, principal, complaint)


@router.post("/complaints/{complaint_id}/actions/{kind}", dependencies=[CsrfDep])
async def request_action(
    complaint_id: IdPath,
    kind: str,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    principal.require(Permission.COMPLAINT_ACT)
    complaint = complaint_for(request, ctx, db, principal, complaint_id)
    form = await request.form()
    try:
        action_kind = ActionKind(kind)
    except ValueError:
        raise NotFound(f"no action {kind!r}") from None
    params = action_forms.params_for(action_kind, form)
    seen = form_text(form, "seen_version", 11)
    try:
        limit = labels.composer_limits(complaint.channel, ctx.settings).max_chars
        action_forms.check(action_kind, complaint.channel, params, max_chars=limit)
        await asyncio.to_thread(  # reads the images from storage, which may be a remote bucket
            outbox_service.request_action,
            session=db,
            complaint=complaint,
            kind=action_kind,
            params=params,
            channel=complaint_view.channel_for(ctx, db, complaint),
            storage=ctx.media_storage,
            requested_by=f"user:{principal.username}",
            now=ctx.clock.now(),
            seen_version=int(seen) if seen.isdigit() else None,
        )
    except (ActionRefused, ConversationMoved) as exc:
        fields = (
            "content",
            "reject_reason",
            "remark",
            "launch_refund_day",
            "mp_action",
            "agree",
            "accept_return",
        )
        values = {k: form_text(form, k, 2000) for k in fields}
        values["images"] = ",".join(v for v in form.getlist("images") if isinstance(v, str))
        if isinstance(exc, ConversationMoved):
            db.rollback()  # nothing of this request is kept (a failed write may have been flushed)
        field = exc.field if isinstance(exc, ActionRefused) else "seen_version"
        error = {"kind": kind, "message": message_for(exc), "field": field}
        status = 409 if isinstance(exc, ConversationMoved) else 422
        return page(
            request,
            ctx,
            db,
            session,
            principal,
            complaint,
            action_error=error,
            form=values,
            status_code=status,
        )
    if ctx.inbox_wakeup is not None:
        ctx.inbox_wakeup.set()
    wakeup = getattr(request.app.state, "runner", None)
    if wakeup is not None and hasattr(wakeup, "wakeup"):
        wakeup.wakeup.set()
    _flash(session, _("Queued: it is sent in the background; its state shows on the timeline."))
    return RedirectResponse(f"/complaints/{complaint.id}#timeline", status_code=303)


@router.get("/complaints/{complaint_id}/actions.json")
def action_states(
    complaint_id: IdPath, request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep
) -> dict[str, Any]:
    complaint = complaint_for(request, ctx, db, principal, complaint_id)
    actions = outbox_service.for_complaint(session=db, complaint_id=complaint.id)
    return {
        "actions": [
            {"id": a.id, "status": a.status, "error": a.error_message, "code": a.error_code} for a in actions
        ],
        "updated_at": complaint.updated_at.isoformat(),
    }


@router.post("/complaints/{complaint_id}/notes", dependencies=[CsrfDep])
async def add_note(
    complaint_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    principal.require(Permission.COMPLAINT_NOTE)
    complaint = complaint_for(request, ctx, db, principal, complaint_id)
    form = await request.form()
    text = form_text(form, "note", 4000)
    if text:
        wf.add_note(db, principal, complaint, text, ctx.clock.now())
        _flash(session, _("Note added."))
    return RedirectResponse(f"/complaints/{complaint.id}#timeline", status_code=303)


@router.post("/complaints/{complaint_id}/assign", dependencies=[CsrfDep])
async def assign(
    complaint_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    principal.require(Permission.COMPLAINT_ASSIGN)
    complaint = complaint_for(request, ctx, db, principal, complaint_id)
    form = await request.form()
    wf.assign(
        db,
        principal,
        [complaint.id],
        wf.assignee_choice(form_text(form, "assignee_id"), principal),
        ctx.clock.now(),
    )
    _flash(session, _("Assignment saved."))
    return RedirectResponse(f"/complaints/{complaint.id}", status_code=303)


@router.post("/complaints/{complaint_id}/tags", dependencies=[CsrfDep])
async def tags(
    complaint_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    principal.require(Permission.COMPLAINT_TAG)
    complaint = complaint_for(request, ctx, db, principal, complaint_id)
    form = await request.form()
    add, remove = form_text(form, "add", 32), form_text(form, "remove", 32)
    if add:
        wf.tag(db, principal, [complaint.id], add, ctx.clock.now(), client_ip(request))
    if remove:
        wf.untag(db, principal, complaint.id, remove, ctx.clock.now(), client_ip(request))
    return RedirectResponse(f"/complaints/{complaint.id}", status_code=303)


@router.post("/complaints/{complaint_id}/reveal-phone", dependencies=[CsrfDep])
def reveal_phone(
    complaint_id: IdPath, request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep
) -> dict[str, str]:
    principal.require(Permission.PHONE_REVEAL)
    complaint = complaint_for(request, ctx, db, principal, complaint_id)
    phone = wf.reveal_phone(db, principal, complaint, ctx.cipher, client_ip(request), ctx.clock.now())
    return {"phone": phone}


@router.post("/complaints/{complaint_id}/refresh", dependencies=[CsrfDep])
async def refresh(
    complaint_id: IdPath, request: Request, ctx: CtxDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.COMPLAINT_ACT)  # it spends the account's upstream budget

    def load(db: Session) -> tuple[str, str, int]:
        complaint = complaint_for(request, ctx, db, principal, complaint_id)
        return complaint_view.account_name(db, complaint), complaint.external_id, complaint.account_id

    name, external_id, account_id = await ctx.db(load)
    try:
        snapshot = await ctx.runtime_for(name).adapter.fetch(external_id, with_history=True)
    except (ChannelError, ComplaintDeskError) as exc:
        _flash(session, _("Refresh failed: %(error)s", error=plain_message_for(exc)), "error")
        return RedirectResponse(f"/complaints/{complaint_id}", status_code=303)

    def store(db: Session) -> int:
        account = account_service.get(session=db, account_id=account_id)
        result = complaint_service.apply_snapshot(
            session=db, account=account, snapshot=snapshot, cipher=ctx.cipher, now=ctx.clock.now(),
            discovered_by="sync",
        )  # fmt: skip
        return result.timeline_added

    added = await ctx.db(store)
    _flash(session, _("Refreshed from upstream: %(count)d new timeline entries.", count=added))
    return RedirectResponse(f"/complaints/{complaint_id}", status_code=303)


@router.post("/upload", dependencies=[CsrfDep])
async def upload(
    file: UploadFile, request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep
) -> JSONResponse:
    principal.require(Permission.COMPLAINT_ACT)
    data = await file.read(media_service.MAX_UPLOAD_BYTES + 1)
    try:
        if len(data) > media_service.MAX_UPLOAD_BYTES:
            raise ActionRefused(
                _("The file is larger than %(mb)d MB.", mb=media_service.MAX_UPLOAD_BYTES // 2**20),
                field="file",
                translated=True,
            )
        form = await request.form()
        ref = form_id(form, "complaint_id")
        by = f"user:{principal.username}"
        uploader = media_service.Uploader(by, principal.scope.all_accounts, principal.scope.account_ids)
        if ref is not None:  # check against the channel's own limit now, not only when sending
            complaint = complaint_for(request, ctx, db, principal, ref)
            complaint_view.channel_for(ctx, db, complaint).check_image(data, file.filename or "image")
            uploader = media_service.Uploader.for_complaint(by, complaint)  # usable there only
        stored = await asyncio.to_thread(
            media_service.store_upload, session=db, storage=ctx.media_storage, data=data, uploader=uploader
        )
    except ActionRefused as exc:
        return JSONResponse({"error": plain_message_for(exc), "field": exc.field}, status_code=422)
    return JSONResponse(
        {"sha256": stored.sha256, "url": complaint_view.media_url(stored.sha256), "size": stored.size},
        status_code=201,
    )


@router.get("/media/{sha256}")
def media(sha256: str, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    record = media_service.get_file(session=db, sha256=sha256)
    scope = None if principal.scope.all_accounts else principal.account_filter()
    if not media_service.visible(session=db, sha256=sha256, complaint_filter=scope):
        raise NotFound("no such image in the archive")
    return Response(
        media_service.read_bytes(ctx.media_storage, sha256),
        media_type=record.content_type,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/complaints/{complaint_id}/template-preview", dependencies=[CsrfDep])
async def template_preview(
    complaint_id: IdPath, request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep
) -> JSONResponse:
    complaint = complaint_for(request, ctx, db, principal, complaint_id)
    form = await request.form()
    template_id = form_id(form, "template_id")
    try:
        if template_id is not None:
            text = template_service.render_for(
                session=db,
                by=principal,
                template_id=template_id,
                complaint=complaint,
                now=ctx.clock.now(),
            )
        else:
            merchant = db.get(MerchantAccount, complaint.merchant_account_id)
            text = template_render.render(
                form_text(form, "body", 4000), complaint, merchant, now=ctx.clock.now()
            )
    except ActionRefused as exc:
        return JSONResponse({"error": plain_message_for(exc), "field": exc.field}, status_code=422)
    return JSONResponse({"text": text, "length": len(text)})
