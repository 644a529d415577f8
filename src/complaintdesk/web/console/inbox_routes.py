"""The inbox: one list across channels and merchants, filters, saved views, counts, bulk changes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.core.views import neighbours
from complaintdesk.core.views import query as inbox
from complaintdesk.errors import ComplaintDeskError
from complaintdesk.web.console import wf
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
from complaintdesk.web.console.error_text import plain_message_for
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import render
from complaintdesk.web.params import IdPath, form_ids

router = APIRouter(include_in_schema=False)


def builtin_labels() -> list[tuple[str, str]]:
    """The built-in views with their names in the current language."""
    return [
        ("todo", _("To do")),
        ("mine", _("Mine")),
        ("unassigned", _("Unassigned")),
        ("warning", _("Due soon")),
        ("breached", _("Breached")),
        ("needs", _("Needs action")),
        ("all", _("All")),
    ]


def views_for(db: Session, principal: Principal) -> dict[str, inbox.InboxFilters]:
    views = inbox.builtin_views()
    for view in wf.saved_views(db, principal):
        views[f"v{view.id}"] = inbox.InboxFilters.from_params(view.filters)
    return views


def _accounts_in_scope(db: Session, principal: Principal) -> list[MerchantAccount]:
    query = select(MerchantAccount).order_by(MerchantAccount.name)
    if not principal.scope.all_accounts:
        query = query.where(MerchantAccount.id.in_(sorted(principal.scope.account_ids)))
    return list(db.scalars(query))


def _hidden_by_status(db: Session, filters: inbox.InboxFilters, principal: Principal) -> int:
    """How many complaints match a search but are hidden by the status filter (0 without a search)."""
    if not filters.q or not filters.status:
        return 0
    scope, user_id = principal.account_filter(), principal.user_id
    everywhere = inbox.count(session=db, filters=replace(filters, status=""), scope=scope, user_id=user_id)
    shown = inbox.count(session=db, filters=filters, scope=scope, user_id=user_id)
    return max(everywhere - shown, 0)


@router.get("/")
def inbox_page(request: Request, db: DbDep, session: SessionDep, principal: PrincipalDep) -> Response:
    params = dict(request.query_params)
    active, filters = neighbours.resolve(params, views_for(db, principal))
    cursor = params.get("cursor")
    page = inbox.list_page(
        session=db,
        filters=filters,
        scope=principal.account_filter(),
        user_id=principal.user_id,
        cursor=cursor,
    )
    hidden = _hidden_by_status(db, filters, principal)
    base = {"view": active} if active else filters.as_params()
    accounts = _accounts_in_scope(db, principal)
    all_accounts = {a.id: a.display_name or a.name for a in db.scalars(select(MerchantAccount))}
    users = list(db.scalars(select(User).where(User.active.is_(True)).order_by(User.username)))
    kind, message = pop_flash(session)
    return render(
        request,
        "inbox.html",
        {
            "page": page,
            "f": filters,
            "active_view": active,
            "builtin_labels": builtin_labels(),
            "saved_views": wf.saved_views(db, principal),
            "channels": sorted({a.channel for a in accounts}),
            "accounts": accounts,
            "merchants": all_accounts,
            "users": users,
            "assignees": {u.id: u.display_name or u.username for u in users},
            "tags": wf.all_tags(db),
            "unread": wf.unread(db, principal, [c.id for c in page.items]),
            "cursor": cursor,
            "first_url": "/?" + urlencode(base),
            "next_url": "/?" + urlencode({**base, "cursor": page.next_cursor or ""}),
            "query_string": urlencode(filters.as_params()),
            "nav_query": urlencode(base),  # complaint links keep the view for next / previous
            "can_bulk": principal.can(Permission.COMPLAINT_ASSIGN),
            "hidden_by_status": hidden,
            "search_all_url": "/?" + urlencode({**filters.as_params(), "status": ""}),
            "flash": message,
            "flash_kind": kind,
        },
    )


@router.get("/inbox/counts")
def view_counts(db: DbDep, principal: PrincipalDep) -> dict[str, Any]:
    counts = inbox.counts(
        session=db,
        views=views_for(db, principal),
        scope=principal.account_filter(),
        user_id=principal.user_id,
    )
    return {"counts": counts, "cap": inbox.COUNT_CAP}


@router.post("/inbox/bulk", dependencies=[CsrfDep])
async def bulk(
    request: Request, ctx: CtxDep, db: DbDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    form = await request.form()
    back = form_text(form, "back", 1000)
    back = back if back.startswith("/") and not back.startswith("//") else "/"
    ids = form_ids(form, "ids")
    op = form_text(form, "op", 16)
    now = ctx.clock.now()
    if not ids:
        _flash(session, _("Select at least one complaint first."), "error")
        return RedirectResponse(back, status_code=303)
    try:
        if op == "assign":
            choice = form_text(form, "assignee_id", 12)
            if not choice:
                raise _Refusal(_("Choose whom to assign the complaints to."))
            changed = wf.assign(db, principal, ids, wf.assignee_choice(choice, principal), now)
        elif op == "tag":
            changed = wf.tag(db, principal, ids, form_text(form, "tag", 64), now, client_ip(request))
        elif op == "read":
            changed = wf.mark_read(db, principal, ids, now)
        else:
            raise _Refusal(_("Unknown bulk operation."))
    except _Refusal as exc:
        _flash(session, str(exc), "error")
        return RedirectResponse(back, status_code=303)
    except ComplaintDeskError as exc:
        db.rollback()  # all or nothing: a refused bulk change leaves no partial state
        _flash(session, plain_message_for(exc), "error")
        return RedirectResponse(back, status_code=303)
    _flash(session, _("%(count)d complaints updated.", count=changed))
    return RedirectResponse(back, status_code=303)


class _Refusal(Exception):
    """A bulk request the console refuses before calling the core."""


@router.post("/views", dependencies=[CsrfDep])
async def save_view(
    request: Request, ctx: CtxDep, db: DbDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    form = await request.form()
    params = dict(parse_qsl(form_text(form, "query", 2000), keep_blank_values=True))
    filters = inbox.InboxFilters.from_params(params)
    view = wf.save_view(db, principal, form_text(form, "name", 64), filters.as_params(), ctx.clock.now())
    return RedirectResponse(f"/?view=v{view.id}", status_code=303)


@router.post("/views/{view_id}/delete", dependencies=[CsrfDep])
def delete_view(view_id: IdPath, db: DbDep, principal: PrincipalDep) -> Response:
    wf.delete_view(db, principal, view_id)
    return RedirectResponse("/", status_code=303)
