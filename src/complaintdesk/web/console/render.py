"""Jinja2 rendering for the console: autoescaped HTML, gettext, yuan and Asia/Shanghai formatting."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from complaintdesk.web.console import i18n, labels

TEMPLATE_DIR = Path(__file__).parent / "templates"
SHANGHAI = ZoneInfo("Asia/Shanghai")
UNIFIED_STATUSES = ("open", "responded", "in_platform", "resolved", "closed", "unknown")


def yuan(fen: int | None) -> str:
    """Fen as yuan for display, e.g. ``12345`` → ``¥123.45`` (empty for None)."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant in Asia/Shanghai (the operators' time zone)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)


def iso_utc(value: datetime | None) -> str:
    """An instant as ISO 8601 UTC (for the JavaScript countdowns)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_label(status: str) -> str:
    """The unified status in the current language."""
    names = {
        "open": i18n.gettext("Awaiting reply"),
        "responded": i18n.gettext("Responded"),
        "in_platform": i18n.gettext("Platform mediating"),
        "resolved": i18n.gettext("Resolved"),
        "closed": i18n.gettext("Closed"),
        "unknown": i18n.gettext("Unknown status"),
    }
    return names.get(status, status)


def action_label(kind: str) -> str:
    """Our action kinds in the current language."""
    names = {
        "reply": i18n.gettext("Reply"),
        "immediate_reply": i18n.gettext("Immediate-service reply"),
        "complete": i18n.gettext("Mark as complete"),
        "refund_approve": i18n.gettext("Approve refund"),
        "refund_reject": i18n.gettext("Reject refund"),
    }
    return names.get(kind, kind)


def state_label(state: str) -> str:
    """An outbox state in the current language."""
    names = {
        "pending": i18n.gettext("waiting to be sent"),
        "sending": i18n.gettext("sending"),
        "uncertain": i18n.gettext("outcome unknown, checking"),
        "sent": i18n.gettext("sent"),
        "failed": i18n.gettext("failed"),
    }
    return names.get(state, state)


def audit_label(action: str) -> str:
    """An audit event's name in the current language."""
    names = {
        "login": i18n.gettext("Signed in"),
        "login_failed": i18n.gettext("Sign-in failed"),
        "logout": i18n.gettext("Signed out"),
        "logout_everywhere": i18n.gettext("Signed out everywhere"),
        "user_locked": i18n.gettext("User locked"),
        "address_locked": i18n.gettext("Address locked"),
        "password_changed": i18n.gettext("Password changed"),
        "password_reset": i18n.gettext("Password reset"),
        "role_changed": i18n.gettext("Role changed"),
        "scope_changed": i18n.gettext("Scope changed"),
        "user_created": i18n.gettext("User created"),
        "user_activated": i18n.gettext("User activated"),
        "user_deactivated": i18n.gettext("User deactivated"),
        "credential_changed": i18n.gettext("Credentials changed"),
        "settings_changed": i18n.gettext("Settings changed"),
        "token_created": i18n.gettext("API token created"),
        "token_revoked": i18n.gettext("API token revoked"),
        "phone_revealed": i18n.gettext("Phone number revealed"),
        "complaint_denied": i18n.gettext("Complaint access denied"),
        "template_created": i18n.gettext("Template added"),
        "template_changed": i18n.gettext("Template changed"),
        "template_deleted": i18n.gettext("Template deleted"),
        "tag_created": i18n.gettext("Tag created"),
        "tag_changed": i18n.gettext("Tag changed"),
        "tag_deleted": i18n.gettext("Tag deleted"),
        "complaint_tagged": i18n.gettext("Complaint tags changed"),
        "account_added": i18n.gettext("Merchant account added"),
        "account_changed": i18n.gettext("Merchant account changed"),
        "account_enabled": i18n.gettext("Merchant account enabled"),
        "account_disabled": i18n.gettext("Merchant account disabled"),
        "export": i18n.gettext("Export"),
        "action_requested": i18n.gettext("Action requested"),
        "complaint_assigned": i18n.gettext("Complaint assigned"),
        "note_added": i18n.gettext("Note added"),
    }
    return names.get(action, action)


@functools.cache
def environment() -> Environment:
    """The console's template environment (autoescape on for every HTML template)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html", "xml"], default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.catalog(i18n.current_language()).gettext(message),
        lambda singular, plural, n: i18n.catalog(i18n.current_language()).ngettext(singular, plural, n),
        newstyle=True,
    )
    env.filters.update(
        yuan=yuan,
        local=local_time,
        iso=iso_utc,
        status_label=status_label,
        channel_label=labels.channel_label,
    )
    env.globals.update(
        raw_status_label=labels.raw_status_label,
        problem_label=labels.problem_label,
        history_label=labels.history_label,
        channel_label=labels.channel_label,
        status_label=status_label,
        action_label=action_label,
        state_label=state_label,
        audit_label=audit_label,
        languages=i18n.LANGUAGES,
        language_names=i18n.LANGUAGE_NAMES,
        unified_statuses=UNIFIED_STATUSES,
    )
    return env


def _warning_ms(request: Request) -> int:
    """The SLA warning lead time in milliseconds (the countdowns turn amber within it)."""
    ctx = getattr(request.app.state, "ctx", None)
    hours = getattr(getattr(getattr(ctx, "settings", None), "sla", None), "warning_lead_hours", 4.0)
    return int(float(hours) * 3_600_000)


def render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    """Render a page in the request's language with the session's CSRF token and user."""
    session = getattr(request.state, "console_session", None)
    language = getattr(request.state, "language", None)
    if language:
        i18n.set_language(language)
    page = {
        "request": request,
        "csrf_token": session.csrf if session is not None else "",
        "lang": i18n.current_language(),
        "principal": getattr(request.state, "principal", None),
        "user_name": getattr(request.state, "console_user_name", ""),
        "warning_ms": _warning_ms(request),
        **context,
    }
    html = environment().get_template(name).render(page)
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'; form-action 'self'"
            ),
        },
    )
