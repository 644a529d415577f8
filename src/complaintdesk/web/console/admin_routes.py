"""Admin pages: audit log (filter, CSV), users (add, role, scope, reset password), API tokens, templates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction, AuditFilter
from complaintdesk.core.templates import render as template_render
from complaintdesk.core.templates import service as template_service
from complaintdesk.core.tokens import service as token_service
from complaintdesk.core.users import service as user_service
from complaintdesk.core.users.permissions import Permission, Principal, Role
from complaintdesk.errors import ComplaintDeskError
from complaintdesk.web.console.complaint_routes import _flash, pop_flash
from complaintdesk.web.console.deps import (
    CsrfDep,
    CtxDep,
    DbDep,
    PrincipalDep,
    SessionDep,
    client_ip,
    form_text,
)
from complaintdesk.web.console.error_text import message_for
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import render
from complaintdesk.web.console.session import ConsoleSession
from complaintdesk.web.params import IdPath, PageQuery, form_ids

router = APIRouter(prefix="/admin", include_in_schema=False)
_ZONE = ZoneInfo("Asia/Shanghai")
PAGE = 100


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


def _audit_filter(params: dict[str, str]) -> AuditFilter:
    since, until = _day(params.get("from")), _day(params.get("to"))
    return AuditFilter(
        actor=(params.get("actor") or "").strip() or None,
        actions=[params["action"]] if params.get("action") else [],
        since=datetime.combine(since, time.min, tzinfo=_ZONE) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=_ZONE) if until else None,
    )


@router.get("/audit")
def audit(request: Request, db: DbDep, principal: PrincipalDep, page: PageQuery = 0) -> Response:
    principal.require(Permission.AUDIT_READ)
    params = dict(request.query_params)
    events = audit_service.search(
        session=db, filters=_audit_filter(params), limit=PAGE + 1, offset=max(page, 0) * PAGE
    )
    return render(
        request,
        "admin_audit.html",
        {
            "events": events[:PAGE],
            "more": len(events) > PAGE,
            "page": max(page, 0),
            "params": params,
            "actions": [a.value for a in AuditAction],
            "query": request.url.query,
        },
    )


@router.get("/audit.csv")
def audit_csv(request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.AUDIT_READ)
    filters = _audit_filter(dict(request.query_params))
    body = audit_service.export_csv(session=db, filters=filters)
    audit_service.record(
        session=db, action=AuditAction.EXPORT, actor=principal.username, ip=client_ip(request),
        target_type="audit", details={"rows": body.count("\n") - 1}, at=ctx.clock.now(),
    )  # fmt: skip
    return Response(
        "\ufeff" + body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"', "Cache-Control": "no-store"},
    )


def _users_page(
    request: Request,
    db: Session,
    session: ConsoleSession,
    *,
    error: str = "",
    secret: str = "",
    status: int = 200,
) -> Response:
    kind, message = pop_flash(session)
    return render(
        request,
        "admin_users.html",
        {
            "users": user_service.list_all(session=db),
            "accounts": list(db.scalars(select(MerchantAccount).order_by(MerchantAccount.name))),
            "roles": [r.value for r in Role],
            "error": error,
            "secret": secret,
            "flash": message,
            "flash_kind": kind,
        },
        status_code=status,
    )


@router.get("/users")
def users(request: Request, db: DbDep, session: SessionDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.USER_MANAGE)
    return _users_page(request, db, session)


def _scope(form: Any) -> tuple[list[int], bool]:
    ids = form_ids(form, "account_ids")
    return ids, form.get("all_accounts") == "on"


@router.post("/users", dependencies=[CsrfDep])
async def add_user(
    request: Request, ctx: CtxDep, db: DbDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.USER_MANAGE)
    form = await request.form()
    ids, everything = _scope(form)
    password = form.get("password")
    try:
        user_service.create(
            session=db,
            username=form_text(form, "username", 64),
            password=password if isinstance(password, str) else "",
            role=form_text(form, "role", 16),
            now=ctx.clock.now(),
            by=principal,
            ip=client_ip(request),
            display_name=form_text(form, "display_name", 128),
            account_ids=ids,
            all_accounts=everything,
            must_change_password=True,
        )
    except ComplaintDeskError as exc:
        db.rollback()
        return _users_page(request, db, session, error=message_for(exc), status=422)
    _flash(session, _("User added; they must choose a new password at first sign-in."))
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}", dependencies=[CsrfDep])
async def change_user(
    user_id: IdPath, request: Request, ctx: CtxDep, db: DbDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.USER_MANAGE)
    form = await request.form()
    op, now, ip = form_text(form, "op", 16), ctx.clock.now(), client_ip(request)
    secret = ""
    try:
        user = user_service.get(session=db, user_id=user_id)
        if op == "role":
            user_service.set_role(
                session=db, user=user, role=form_text(form, "role", 16), now=now, by=principal, ip=ip
            )
        elif op == "scope":
            ids, everything = _scope(form)
            user_service.set_scope(
                session=db, user=user, account_ids=ids, all_accounts=everything, now=now, by=principal, ip=ip
            )
        elif op == "reset":
            secret = user_service.reset_password(session=db, user=user, now=now, by=principal, ip=ip)
        elif op in ("activate", "deactivate"):
            user_service.set_active(
                session=db, user=user, active=op == "activate", now=now, by=principal, ip=ip
            )
    except ComplaintDeskError as exc:
        db.rollback()
        return _users_page(request, db, session, error=message_for(exc), status=422)
    if secret:  # shown once, never stored in clear
        return _users_page(request, db, session, secret=f"{user.username}: {secret}")
    _flash(session, _("Saved."))
    return RedirectResponse("/admin/users", status_code=303)


def _tokens_page(
    request: Request, db: Session, *, secret: str = "", error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "admin_tokens.html",
        {
            "tokens": token_service.list_all(session=db),
            "accounts": list(db.scalars(select(MerchantAccount).order_by(MerchantAccount.name))),
            "secret": secret,
            "error": error,
        },
        status_code=status,
    )


@router.get("/tokens")
def tokens(request: Request, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.TOKEN_MANAGE)
    return _tokens_page(request, db)


@router.post("/tokens", dependencies=[CsrfDep])
async def create_token(request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.TOKEN_MANAGE)
    form = await request.form()
    ids, everything = _scope(form)
    names = [a.name for a in db.scalars(select(MerchantAccount).where(MerchantAccount.id.in_(ids)))]
    name = form_text(form, "name", 64)
    try:
        value, _record = token_service.create(
            session=db,
            name=name,
            account_names=names,
            all_accounts=everything,
            can_write=form.get("read_only") != "on",
        )
    except ComplaintDeskError as exc:
        db.rollback()
        return _tokens_page(request, db, error=message_for(exc), status=422)
    audit_service.record(
        session=db, action=AuditAction.TOKEN_CREATED, actor=principal.username, ip=client_ip(request),
        target_type="token", target_id=name, details={"all_accounts": everything, "accounts": names},
        at=ctx.clock.now(),
    )  # fmt: skip
    return _tokens_page(request, db, secret=value)


@router.post("/tokens/{name}/revoke", dependencies=[CsrfDep])
def revoke_token(name: str, request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.TOKEN_MANAGE)
    token_service.revoke(session=db, name=name)
    audit_service.record(
        session=db, action=AuditAction.TOKEN_REVOKED, actor=principal.username, ip=client_ip(request),
        target_type="token", target_id=name, at=ctx.clock.now(),
    )  # fmt: skip
    return RedirectResponse("/admin/tokens", status_code=303)


def _templates_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    error: str = "",
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "admin_templates.html",
        {
            "templates": template_service.list_for(session=db, by=principal),
            "variables": sorted(template_render.VARIABLES),
            "error": error,
            "form": form or {},
            "channels": sorted({a.channel for a in db.scalars(select(MerchantAccount))}),
        },
        status_code=status,
    )


@router.get("/templates")
def templates(request: Request, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.TEMPLATE_MANAGE)
    return _templates_page(request, db, principal)


@router.post("/templates", dependencies=[CsrfDep])
async def save_template(request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.TEMPLATE_MANAGE)
    form = await request.form()
    values = {k: form_text(form, k, 4000) for k in ("name", "body", "channel")}
    try:
        template_service.create(
            session=db, by=principal, name=values["name"], body=values["body"], now=ctx.clock.now(),
            channel=values["channel"] or None, all_accounts=True,
        )  # fmt: skip
    except ComplaintDeskError as exc:
        db.rollback()
        return _templates_page(request, db, principal, error=message_for(exc), form=values, status=422)
    return RedirectResponse("/admin/templates", status_code=303)


@router.post("/templates/{template_id}/delete", dependencies=[CsrfDep])
def delete_template(template_id: IdPath, db: DbDep, principal: PrincipalDep) -> Response:
    template_service.delete(session=db, by=principal, template_id=template_id)
    return RedirectResponse("/admin/templates", status_code=303)
