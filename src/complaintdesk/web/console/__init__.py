"""The operator console: server-rendered pages (Jinja2), our own small CSS/JS, zh-CN first.

:func:`mount` adds the session middleware, the static files, the page routers and the HTML error pages
to an application built by ``complaintdesk.app.create_app``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from complaintdesk.errors import ComplaintDeskError, Forbidden, NotFound, WriteFailed
from complaintdesk.runtime import AppContext
from complaintdesk.web.console import (
    account_routes,
    admin_routes,
    alerts_routes,
    audit_routes,
    auth_routes,
    complaint_routes,
    dashboard_routes,
    export_routes,
    inbox_routes,
    live_routes,
    nav_routes,
    template_routes,
)
from complaintdesk.web.console.deps import LoginRequired, PasswordChangeRequired
from complaintdesk.web.console.error_text import message_for
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.middleware import ConsoleSessionMiddleware
from complaintdesk.web.console.render import render
from complaintdesk.web.console.session import SessionCodec, derive_secret

STATIC_DIR = Path(__file__).parent / "static"
_API_PREFIXES = ("/api/", "/webhooks/", "/healthz")


def wants_json(request: Request) -> bool:
    """Whether the caller is a script (fetch) rather than a page load."""
    accept = request.headers.get("accept", "")
    return (
        "application/json" in accept
        or request.headers.get("x-csrf-token") is not None
        or request.url.path.endswith(".json")
    )


def is_console(request: Request) -> bool:
    """Whether the request belongs to the console (and so gets HTML errors)."""
    return not request.url.path.startswith(_API_PREFIXES)


def error_response(request: Request, exc: ComplaintDeskError) -> Response:
    """A console error as a page, or as JSON for fetches."""
    status = exc.http_status
    if isinstance(exc, WriteFailed):  # rolled back: the cookie must not say otherwise (signed in, flash)
        session = getattr(request.state, "console_session", None)
        if session is not None:
            session.discard_changes()
    if isinstance(exc, NotFound):
        title, message = (
            _("Not found"),
            _("There is nothing here, or it is outside the merchants you can see."),
        )
    elif isinstance(exc, WriteFailed):
        title, message = (
            _("Not saved"),
            _("The change could not be saved, and nothing was changed. Please try again."),
        )
    elif isinstance(exc, Forbidden):
        title, message = _("Not allowed"), message_for(exc)
    else:
        title, message = _("Something went wrong"), message_for(exc)
    if wants_json(request):
        return JSONResponse({"error": type(exc).__name__, "message": message}, status_code=status)
    return render(request, "error.html", {"title": title, "message": message}, status_code=status)


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    """Send a visitor without a valid session to the login form (fetches get 401)."""
    if wants_json(request):
        return JSONResponse({"error": "LoginRequired", "message": "sign in again"}, status_code=401)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":  # a form sent after the session ended: back to where it came from
        path = "/"
    target = f"/login?next={path}" if path != "/" else "/login"
    if exc.reason == "expired":
        target += ("&" if "?" in target else "?") + "expired=1"
    return RedirectResponse(target, status_code=303)


def password_redirect(request: Request) -> Response:
    """While a new password is due: pages go to the change-password form, fetches get 403."""
    if wants_json(request):
        message = "choose a new password first (/password)"
        return JSONResponse({"error": "PasswordChangeRequired", "message": message}, status_code=403)
    return RedirectResponse("/password?first=1", status_code=303)


def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """A malformed path or query value (e.g. an id past any row): a 404 page, or 400 for the query."""
    in_path = any(error.get("loc", ("",))[0] == "path" for error in exc.errors())
    if in_path:
        title, message = (
            _("Not found"),
            _("There is nothing here, or it is outside the merchants you can see."),
        )
    else:
        title, message = _("Something went wrong"), _("The address has a value this page cannot use.")
    status = 404 if in_path else 400
    if wants_json(request):
        return JSONResponse({"error": "InvalidRequest", "message": message}, status_code=status)
    return render(request, "error.html", {"title": title, "message": message}, status_code=status)


def mount(app: FastAPI, ctx: AppContext) -> None:
    """Add the console to ``app``."""
    secure = ctx.settings.public_base_url.startswith("https://")
    codec = SessionCodec(derive_secret(ctx.settings.data_key_bytes()))
    app.add_middleware(ConsoleSessionMiddleware, codec=codec, secure=secure)
    app.mount("/static/console", StaticFiles(directory=str(STATIC_DIR)), name="console-static")
    for module in (
        auth_routes,
        inbox_routes,
        nav_routes,
        complaint_routes,
        admin_routes,
        account_routes,
        audit_routes,
        template_routes,
        live_routes,
        alerts_routes,
        dashboard_routes,
        export_routes,
    ):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if is_console(request):
            return invalid_request(request, exc)
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(PasswordChangeRequired)
    async def _password_change_required(request: Request, exc: PasswordChangeRequired) -> Response:
        return password_redirect(request)
