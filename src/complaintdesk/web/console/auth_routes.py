"""Sign in, sign out, change password, switch language."""

from __future__ import annotations

import contextlib
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.users import service as user_service
from complaintdesk.core.users import sessions as session_service
from complaintdesk.core.users.models import User
from complaintdesk.errors import ActionRefused, DomainError
from complaintdesk.web.console import i18n, signin
from complaintdesk.web.console.deps import (
    CsrfDep,
    CtxDep,
    DbDep,
    PasswordPrincipalDep,
    SessionDep,
    anonymous_language,
    client_ip,
    form_text,
    start_session,
)
from complaintdesk.web.console.render import render
from complaintdesk.web.console.session import LANGUAGE_COOKIE

router = APIRouter(include_in_schema=False)
_ = i18n.gettext


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


@router.get("/login")
def login_form(request: Request, session: SessionDep, next: str = "/", expired: str = "") -> Response:
    anonymous_language(request)
    message = _("Your session has ended; please sign in again.") if expired else ""
    return render(
        request, "login.html", {"next": safe_next(next), "error": "", "info": message, "username": ""}
    )


@router.post("/login", dependencies=[CsrfDep])
async def login(request: Request, ctx: CtxDep, db: DbDep, session: SessionDep) -> Response:
    anonymous_language(request)
    form = await request.form()
    username = form_text(form, "username", 64)
    password = form.get("password")
    target = safe_next(form_text(form, "next", 500))
    result = signin.sign_in(
        session=db,
        username=username,
        password=password if isinstance(password, str) else "",
        ip=client_ip(request),
        now=ctx.clock.now(),
    )
    if result.user is None:
        return render(
            request,
            "login.html",
            {"next": target, "error": result.message, "info": "", "username": username},
            status_code=429 if result.locked else 401,
        )
    user = result.user
    start_session(db, ctx, session, user)
    destination = "/password?first=1" if user.must_change_password else target
    response = RedirectResponse(destination, status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, user.language, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


@router.post("/logout", dependencies=[CsrfDep])
def logout(request: Request, ctx: CtxDep, db: DbDep, session: SessionDep) -> Response:
    user_id = session.user_id
    user = db.get(User, user_id) if user_id is not None else None
    if user is not None:
        audit_service.record(
            session=db,
            action=AuditAction.LOGOUT,
            actor=user.username,
            ip=client_ip(request),
            target_type="user",
            target_id=user.username,
            at=ctx.clock.now(),
        )
    session_service.end(session=db, session_id=session.session_id)  # copies of the cookie die too
    session.logout()
    return RedirectResponse("/login", status_code=303)


@router.get("/password")
def password_form(request: Request, principal: PasswordPrincipalDep, first: str = "") -> Response:
    info = _("Please choose a new password before you continue.") if first else ""
    return render(request, "password.html", {"errors": {}, "info": info, "done": False})


@router.post("/password", dependencies=[CsrfDep])
async def change_password(
    request: Request, ctx: CtxDep, db: DbDep, session: SessionDep, principal: PasswordPrincipalDep
) -> Response:
    form = await request.form()
    user = user_service.get(session=db, user_id=principal.user_id)
    old, new, again = (form.get(k) for k in ("old_password", "password", "password_again"))
    errors: dict[str, str] = {}
    if not all(isinstance(v, str) for v in (old, new, again)):
        errors["password"] = _("Fill in every field.")
    elif new != again:
        errors["password_again"] = _("The two new passwords differ.")
    else:
        try:
            user_service.change_password(
                session=db,
                user=user,
                old_password=str(old),
                new_password=str(new),
                now=ctx.clock.now(),
                ip=client_ip(request),
            )
        except ActionRefused as exc:
            errors[exc.field or "password"] = signin.translate_refusal(exc.message)
    if errors:
        return render(
            request, "password.html", {"errors": errors, "info": "", "done": False}, status_code=422
        )
    session_service.end_all(session=db, user_id=user.id)  # other browsers are signed out
    start_session(db, ctx, session, user)  # this browser stays signed in
    return render(request, "password.html", {"errors": {}, "info": "", "done": True})


@router.post("/logout-everywhere", dependencies=[CsrfDep])
def logout_everywhere(
    request: Request, ctx: CtxDep, db: DbDep, session: SessionDep, principal: PasswordPrincipalDep
) -> Response:
    user = user_service.get(session=db, user_id=principal.user_id)
    session_service.end_all(session=db, user_id=user.id)
    user_service.logout_everywhere(session=db, user=user, now=ctx.clock.now(), ip=client_ip(request))
    session.logout()
    return RedirectResponse("/login", status_code=303)


@router.post("/language", dependencies=[CsrfDep])
async def switch_language(
    request: Request, db: DbDep, session: SessionDep, language: Annotated[str, Depends(anonymous_language)]
) -> Response:
    form = await request.form()
    chosen = i18n.normalise(form_text(form, "language", 8))
    user = db.get(User, session.user_id) if session.user_id is not None else None
    if user is not None:
        with contextlib.suppress(DomainError):
            user_service.set_preferences(session=db, user=user, language=chosen)
    request.state.language = chosen
    response = RedirectResponse(safe_next(form_text(form, "next", 500)), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
