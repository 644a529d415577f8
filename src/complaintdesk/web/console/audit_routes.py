"""The audit view: filter by complaint, operator, kind and dates; bounded pages; a streamed CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from sqlalchemy import select

from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction, AuditFilter
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import Permission
from complaintdesk.db import as_id
from complaintdesk.runtime import AppContext
from complaintdesk.web.console import audit_labels, core_labels
from complaintdesk.web.console.core_labels import audit_label
from complaintdesk.web.console.deps import CtxDep, DbDep, PrincipalDep, client_ip
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import render
from complaintdesk.web.params import PageQuery

router = APIRouter(prefix="/admin", include_in_schema=False)
_ZONE = ZoneInfo("Asia/Shanghai")
PAGE = 100
EXPORT_LIMIT = 100_000
_KEYS = ("complaint", "actor", "action", "from", "to")


class BadFilter(ValueError):
    """A filter value that cannot be used; the message is in the UI's language."""


def _day(params: dict[str, str], key: str) -> date | None:
    value = params.get(key, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(_("Dates are written YYYY-MM-DD.")) from None


def audit_filter(params: dict[str, str]) -> AuditFilter:
    """The filter a query string asks for (BadFilter names the first unusable value)."""
    complaint = params.get("complaint", "").strip()
    complaint_id = as_id(complaint) if complaint else None
    if complaint and complaint_id is None:
        raise BadFilter(_("A complaint is given by its number in the desk (digits only)."))
    action = params.get("action", "").strip()
    if action and action not in set(AuditAction):
        raise BadFilter(_("Unknown kind of event."))
    since, until = _day(params, "from"), _day(params, "to")
    if since and until and until < since:
        raise BadFilter(_("The end date is before the start date."))
    return AuditFilter(
        actor=params.get("actor", "").strip()[:128] or None,
        actions=[action] if action else [],
        target_type="complaint" if complaint_id is not None else None,
        target_id=str(complaint_id) if complaint_id is not None else None,
        since=datetime.combine(since, time.min, tzinfo=_ZONE) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=_ZONE) if until else None,
    )


def _params(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "")[:128] for k in _KEYS}


def _query(params: dict[str, str]) -> str:
    return urlencode({k: v for k, v in params.items() if v})


@router.get("/audit")
def audit(request: Request, db: DbDep, principal: PrincipalDep, page: PageQuery = 0) -> HTMLResponse:
    principal.require(Permission.AUDIT_READ)
    params = _params(request)
    error, events = "", []
    try:
        filters = audit_filter(params)
    except BadFilter as exc:
        error = str(exc)
    else:
        events = audit_service.search(session=db, filters=filters, limit=PAGE + 1, offset=page * PAGE)
    return render(
        request,
        "admin_audit.html",
        {
            "events": events[:PAGE],
            "more": len(events) > PAGE,
            "page": page,
            "params": params,
            "error": error,
            "actions": sorted((audit_label(a.value), a.value) for a in AuditAction),
            "actors": list(db.scalars(select(User.username).order_by(User.username))),
            "query": _query(params),
            "details_rows": audit_labels.details_rows,
            "audit_target": audit_labels.target_label,
        },
        status_code=400 if error else 200,
    )


def _rows(ctx: AppContext, filters: AuditFilter, names: dict[str, str]) -> Iterator[str]:
    """The export's chunks, read in a session of their own (the request's is committed by then)."""
    yield "\ufeff"
    with ctx.session() as session:
        yield from audit_service.iter_csv(
            session=session, filters=filters, limit=EXPORT_LIMIT, labels=lambda a: names.get(a, a)
        )


@router.get("/audit.csv")
def audit_csv(request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.AUDIT_READ)
    params = _params(request)
    try:
        filters = audit_filter(params)
    except BadFilter as exc:
        return PlainTextResponse(str(exc), status_code=400)
    rows = min(audit_service.count(session=db, filters=filters), EXPORT_LIMIT)
    audit_service.record(
        session=db, action=AuditAction.EXPORT, actor=principal.username, ip=client_ip(request),
        target_type="audit", details={"rows": rows, "filters": {k: v for k, v in params.items() if v}},
        at=ctx.clock.now(),
    )  # fmt: skip
    names = {
        a.value: core_labels.text(core_labels.AUDIT_ACTIONS, a.value) for a in AuditAction
    }  # in the reader's language, now
    return StreamingResponse(
        _rows(ctx, filters, names),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"', "Cache-Control": "no-store"},
    )
