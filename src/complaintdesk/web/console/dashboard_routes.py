"""The dashboard: every KPI of a period (charts drawn on the server, each with its table), any role,
always inside the user's merchant scope; and its export as CSV or XLSX."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.reports import export, kpis
from complaintdesk.core.reports import filters as report_filters
from complaintdesk.core.reports.filters import ReportFilters, ReportInputError
from complaintdesk.core.reports.tables import tables
from complaintdesk.core.users.permissions import Principal
from complaintdesk.web.console import labels
from complaintdesk.web.console.dashboard_charts import charts, problem_name
from complaintdesk.web.console.deps import CtxDep, DbDep, PrincipalDep, client_ip
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import render

router = APIRouter(include_in_schema=False)


def refusal_text(exc: ReportInputError) -> str:
    """Why a report parameter was refused, in the current language."""
    messages = {
        "period": _("Choose one of the offered periods."),
        "from": _("Enter a period of at most %(days)d days whose first day is not after its last.",
                  days=report_filters.MAX_DAYS),
        "to": _("Enter a period of at most %(days)d days whose first day is not after its last.",
                days=report_filters.MAX_DAYS),
        "account": _("Choose merchant accounts from the list."),
        "channel": _("Choose channels from the list."),
        "format": _("Choose CSV or XLSX."),
    }  # fmt: skip
    return messages.get(exc.field, exc.public_message)


def accounts_in_scope(db: Session, principal: Principal) -> list[MerchantAccount]:
    """The merchant accounts the user may pick."""
    query = select(MerchantAccount).order_by(MerchantAccount.name)
    if not principal.scope.all_accounts:
        query = query.where(MerchantAccount.id.in_(sorted(principal.scope.account_ids)))
    return list(db.scalars(query))


def parse(request: Request, ctx: CtxDep) -> ReportFilters:
    """The report filters of the request (ReportInputError when refused)."""
    return report_filters.parse(list(request.query_params.multi_items()), now=ctx.clock.now())


def _label(kind: str) -> str:
    names = {
        "wechatpay": labels.channel_label("wechatpay"),
        "miniprogram": labels.channel_label("miniprogram"),
        "huishouqian": labels.channel_label("huishouqian"),
    }
    return names.get(kind, kind)


@router.get("/dashboard")
def dashboard(request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    accounts = accounts_in_scope(db, principal)
    base = {
        "accounts": accounts,
        "channels": report_filters.CHANNELS,
        "presets": list(report_filters.PRESETS),
        "preset_names": {
            "7d": _("Last 7 days"),
            "30d": _("Last 30 days"),
            "90d": _("Last 90 days"),
            "365d": _("Last 365 days"),
        },
    }
    try:
        filters = parse(request, ctx)
    except ReportInputError as exc:
        fallback = report_filters.parse({}, now=ctx.clock.now())
        context = {**base, "f": fallback, "error": refusal_text(exc), "report": None}
        return render(request, "dashboard.html", context, status_code=400)
    report = kpis.compute(db, filters, principal.account_filter())
    query = urlencode(filters.as_params())
    shown = tables(report, label=_label, problem=lambda t: problem_name(report, t))
    by_key = {t.key: t.translated(_) for t in shown}
    return render(
        request,
        "dashboard.html",
        {
            **base,
            "f": filters,
            "error": "",
            "report": report,
            "charts": charts(report),
            "tables": by_key,
            "query": query,
            "breach_rate": report.sla.rate(report.sla.breached),
        },
    )


@router.get("/dashboard/export")
def export_report(request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    fmt = request.query_params.get("format", "csv")
    try:
        filters = parse(request, ctx)
        export.check_format(fmt)
    except ReportInputError as exc:
        return refused(request, exc)
    report = kpis.compute(db, filters, principal.account_filter())
    audit_service.record(
        session=db,
        action=audit_service.AuditAction.EXPORT,
        actor=principal.username,
        ip=client_ip(request),
        target_type="report",
        details={"format": fmt, "from": filters.date_from.isoformat(), "to": filters.date_to.isoformat()},
        at=ctx.clock.now(),
    )
    shown = tables(report, label=_label, problem=lambda t: problem_name(report, t))
    body = b"".join(export.table_chunks(fmt, shown, _))  # a report is a few hundred rows at most
    name = f"complaintdesk-report-{filters.date_from.isoformat()}-{filters.date_to.isoformat()}.{fmt}"
    return Response(body, media_type=export.MEDIA_TYPES[fmt], headers=_attachment(name))


def refused(request: Request, exc: ReportInputError) -> Response:
    """The error page for a refused parameter (400), in the user's language; nothing was done."""
    context = {"title": _("Something went wrong"), "message": refusal_text(exc)}
    return render(request, "error.html", context, status_code=400)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


def streamed(chunks: object, fmt: str, name: str) -> StreamingResponse:
    """A download whose body is produced while it is sent."""
    return StreamingResponse(chunks, media_type=export.MEDIA_TYPES[fmt], headers=_attachment(name))  # type: ignore[arg-type]
