"""Export the current inbox view (its filters and order) as CSV or XLSX, streamed while it is read.

The audit event is written in the request's unit of work, so it is committed before the first byte
is sent; the rows are then read by the response itself, through its own read-only session.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.reports import export
from complaintdesk.core.reports.filters import ReportInputError
from complaintdesk.core.users.permissions import Permission
from complaintdesk.core.views import query as inbox
from complaintdesk.runtime import AppContext
from complaintdesk.security import DataCipher
from complaintdesk.web.console import core_labels, i18n, labels
from complaintdesk.web.console.dashboard_routes import refused, streamed
from complaintdesk.web.console.deps import CtxDep, DbDep, PrincipalDep, client_ip
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import UNIFIED_STATUSES, render

router = APIRouter(include_in_schema=False)


def cell_label(kind: str, value: str) -> str:
    """Statuses, channels, SLA states and yes/no in the current language."""
    if kind == "status" and value in UNIFIED_STATUSES:
        return core_labels.text(core_labels.STATUSES, value)
    if kind == "channel":
        return labels.channel_label(value)
    if kind == "sla":
        return {"ok": _("On time"), "warning": _("Warned"), "breached": _("Breached")}.get(value, value)
    if kind == "bool":
        return _("yes") if value == "yes" else _("no")
    return value


def _rows(
    ctx: AppContext,
    filters: inbox.InboxFilters,
    scope: ColumnElement[bool],
    user_id: int,
    reveal: DataCipher | None,
    fmt: str,
    language: str,
) -> Iterator[bytes]:
    i18n.set_language(language)  # the body is produced outside the request's context
    with ctx.sessions() as session:
        statement = export.inbox_statement(session, filters, scope, user_id)
        context = export.RowContext.load(session, reveal)
        rows = export.complaint_rows(session, statement, context, cell_label)
        yield from export.chunks(fmt, [_(c) for c in export.COLUMNS], rows)


@router.get("/inbox/export")
def export_inbox(request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    params = dict(request.query_params)
    fmt = params.get("format", "csv")
    try:
        export.check_format(fmt)
    except ReportInputError as exc:
        return refused(request, exc)
    reveal = params.get("phones") == "full"
    if reveal and not principal.can(Permission.PHONE_REVEAL):
        message = _("Your role may not see full phone numbers; export without them.")
        return render(request, "error.html", {"title": _("Not allowed"), "message": message}, status_code=403)
    filters = inbox.InboxFilters.from_params(params)
    audit_service.record(
        session=db,
        action=audit_service.AuditAction.EXPORT,
        actor=principal.username,
        ip=client_ip(request),
        target_type="complaints",
        details={"format": fmt, "filters": filters.as_params(), "phones": "full" if reveal else "masked"},
        at=ctx.clock.now(),
    )
    body = _rows(
        ctx,
        filters,
        principal.account_filter(),
        principal.user_id,
        ctx.cipher if reveal else None,
        fmt,
        getattr(request.state, "language", "zh-CN"),
    )
    stamp = ctx.clock.now().strftime("%Y%m%d-%H%M")
    return streamed(body, fmt, f"complaintdesk-complaints-{stamp}.{fmt}")
