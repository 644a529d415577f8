"""Admin pages: users (add, role, scope, reset password) and API tokens."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.tokens import service as token_service
from complaintdesk.core.users import service as user_service
from complaintdesk.core.users.permissions import Permission, Role
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
from complaintdesk.web.params import IdPath, form_ids

router = APIRouter(prefix="/admin", include_in_schema=False)
_ZONE = ZoneInfo("Asia/Shanghai")
PAGE = 100


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
            actor=principal.username,
            ip=client_ip(request),
        )
    except ComplaintDeskError as exc:
        db.rollback()
        return _tokens_page(request, db, error=message_for(exc), status=422)
    return _tokens_page(request, db, secret=value)


@router.post("/tokens/{name}/revoke", dependencies=[CsrfDep])
def revoke_token(name: str, request: Request, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.TOKEN_MANAGE)
    token_service.revoke(session=db, name=name, actor=principal.username, ip=client_ip(request))
    return RedirectResponse("/admin/tokens", status_code=303)
