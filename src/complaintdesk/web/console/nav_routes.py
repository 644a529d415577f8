"""Next / previous complaint within the inbox view the operator came from (its filters and order kept)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from complaintdesk.core.views import neighbours
from complaintdesk.core.views.query import InboxFilters
from complaintdesk.web.console.complaint_routes import _flash
from complaintdesk.web.console.deps import CtxDep, DbDep, PrincipalDep, SessionDep, complaint_for
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.inbox_routes import views_for
from complaintdesk.web.params import IdPath

router = APIRouter(include_in_schema=False)


def nav_query(active: str, filters: InboxFilters) -> str:
    """The query string that names a view again (its key, or its filters for an ad-hoc view)."""
    return urlencode({"view": active} if active else filters.as_params())


def _step(
    complaint_id: int,
    forward: bool,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    current = complaint_for(request, ctx, db, principal, complaint_id)
    params = {k: v[:64] for k, v in request.query_params.items()}
    active, filters = neighbours.resolve(params, views_for(db, principal))
    found = neighbours.neighbour(
        session=db,
        filters=filters,
        scope=principal.account_filter(),
        current=current,
        forward=forward,
        user_id=principal.user_id,
    )
    query = nav_query(active, filters)
    if found is None:
        last = (
            _("This is the last complaint in this view.")
            if forward
            else _("This is the first complaint in this view.")
        )
        _flash(session, last, "info")
        found = current
    return RedirectResponse(f"/complaints/{found.id}?{query}", status_code=303)


@router.get("/complaints/{complaint_id}/next")
def next_complaint(
    complaint_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    return _step(complaint_id, True, request, ctx, db, session, principal)


@router.get("/complaints/{complaint_id}/previous")
def previous_complaint(
    complaint_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    return _step(complaint_id, False, request, ctx, db, session, principal)
