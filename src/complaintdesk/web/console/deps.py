"""Console request plumbing: the session, the signed-in principal, CSRF checks, scoped complaint lookup."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.users import service as user_service
from complaintdesk.core.users import sessions as session_service
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.errors import ComplaintNotFound, Forbidden
from complaintdesk.runtime import AppContext
from complaintdesk.web.console import i18n
from complaintdesk.web.console.session import (
    ABSOLUTE_SECONDS,
    CSRF_FIELD,
    CSRF_HEADER,
    LANGUAGE_COOKIE,
    ConsoleSession,
)
from complaintdesk.web.uow import DbSession


class LoginRequired(Exception):
    """No valid console session: pages redirect to the login form, fetches get 401."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class PasswordChangeRequired(Exception):
    """The user must choose a new password first: pages redirect to the form, fetches get 403."""


class CsrfFailed(Forbidden):
    """A state-changing request without this session's CSRF token."""


def get_ctx(request: Request) -> AppContext:
    """The application context."""
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


#: The request's unit of work, committed before the answer is sent (see ``web/uow.py``).
DbDep = DbSession


def console_session(request: Request) -> ConsoleSession:
    """The request's decoded cookie (an empty one when the middleware did not run)."""
    session = getattr(request.state, "console_session", None)
    if session is None:
        session = ConsoleSession()
        request.state.console_session = session
    return session


SessionDep = Annotated[ConsoleSession, Depends(console_session)]


def client_ip(request: Request) -> str:
    """The caller's address as the server reports it (uvicorn trusts X-Forwarded-For only from 127.0.0.1)."""
    return request.client.host if request.client else ""


def anonymous_language(request: Request) -> str:
    """The language of a visitor who is not signed in: the language cookie, else zh-CN."""
    language = i18n.normalise(request.cookies.get(LANGUAGE_COOKIE))
    request.state.language = language
    i18n.set_language(language)
    return language


def now_seconds(ctx: AppContext) -> int:
    """The context clock as epoch seconds (tests move a manual clock)."""
    return int(ctx.clock.now().timestamp())


def _signed_in(
    request: Request, ctx: AppContext, db: Session, session: ConsoleSession
) -> tuple[Principal, User]:
    """The signed-in user, or LoginRequired (expired, signed out, password changed, deactivated)."""
    anonymous_language(request)
    user_id = session.user_id
    if user_id is None:
        raise LoginRequired()
    now = now_seconds(ctx)
    if session.expired(now):
        session.logout()
        raise LoginRequired("expired")
    user = db.get(User, user_id)
    if (
        user is None
        or not user.active
        or user.session_version != session.version
        or not session_service.is_live(session=db, session_id=session.session_id, user_id=user_id)
    ):
        session.logout()
        raise LoginRequired("expired")
    session.touch(now)
    principal = user_service.principal_for(session=db, user=user)
    request.state.principal = principal
    request.state.console_user_name = user.display_name or user.username
    request.state.language = i18n.normalise(user.language)
    i18n.set_language(user.language)
    return principal, user


def current_principal(request: Request, ctx: CtxDep, db: DbDep, session: SessionDep) -> Principal:
    """The signed-in user as a principal; PasswordChangeRequired while a new password is due."""
    principal, user = _signed_in(request, ctx, db, session)
    if user.must_change_password:
        raise PasswordChangeRequired()
    return principal


def password_principal(request: Request, ctx: CtxDep, db: DbDep, session: SessionDep) -> Principal:
    """The signed-in user even while a new password is due (the change-password page, sign-out)."""
    return _signed_in(request, ctx, db, session)[0]


def start_session(db: Session, ctx: AppContext, session: ConsoleSession, user: User) -> None:
    """Sign ``user`` in on this browser: a new server-side session named by the cookie."""
    session_id = session_service.start(
        session=db, user_id=user.id, now=ctx.clock.now(), lifetime=timedelta(seconds=ABSOLUTE_SECONDS)
    )
    session.login(user.id, user.session_version, now_seconds(ctx), session_id)


#: Every console page and fetch: signed in, and no new password due.
PrincipalDep = Annotated[Principal, Depends(current_principal)]
#: Only the change-password page and "sign out everywhere": signed in, a new password may be due.
PasswordPrincipalDep = Annotated[Principal, Depends(password_principal)]


async def check_csrf(request: Request, session: SessionDep) -> None:
    """Refuse a state-changing request whose CSRF token (form field or header) is not the session's."""
    presented = request.headers.get(CSRF_HEADER)
    if not presented:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    if not session.check_csrf(presented):
        raise CsrfFailed("the form expired or did not come from this console; reload the page and retry")


CsrfDep = Depends(check_csrf)


def require(principal: Principal, permission: Permission) -> None:
    """Raise Forbidden unless the principal's role grants ``permission``."""
    principal.require(permission)


def complaint_for(
    request: Request, ctx: AppContext, db: Session, principal: Principal, complaint_id: int
) -> Complaint:
    """A complaint in the principal's scope; anything else is 404, and a denial is audited."""
    complaint = db.get(Complaint, complaint_id)
    if complaint is None:
        raise ComplaintNotFound(f"no complaint with id {complaint_id}")
    if not principal.allows(complaint):
        audit_service.record_committed(
            session=db,
            action=audit_service.AuditAction.COMPLAINT_DENIED,
            actor=principal.username,
            ip=client_ip(request),
            target_type="complaint",
            target_id=complaint_id,
            details={"path": request.url.path},
            at=ctx.clock.now(),
        )
        raise ComplaintNotFound(f"no complaint with id {complaint_id}")
    return complaint


def form_text(form: Any, name: str, limit: int = 2000) -> str:
    """A trimmed text field of a submitted form ('' when absent)."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""
