"""Admin pages for reply templates: list, add, edit and delete (each change audited by the service)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.templates import render as template_render
from complaintdesk.core.templates import service as template_service
from complaintdesk.core.templates.models import ReplyTemplate
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.errors import ActionRefused, AlreadyExists, ComplaintDeskError
from complaintdesk.runtime import AppContext
from complaintdesk.web.console import labels
from complaintdesk.web.console.deps import CsrfDep, CtxDep, DbDep, PrincipalDep, client_ip, form_text
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import render
from complaintdesk.web.params import IdPath

router = APIRouter(prefix="/admin/templates", include_in_schema=False)
_FIELDS = ("name", "body", "channel")


def field_error(exc: ComplaintDeskError) -> tuple[str, str]:
    """The form field a refusal concerns and a message in the UI's language."""
    if isinstance(exc, AlreadyExists):
        return "name", _("A template with this name exists already.")
    field = exc.field if isinstance(exc, ActionRefused) else ""
    reason = exc.context.get("reason")
    if field == "name":
        return "name", _("Give the template a name of at most 128 characters.")
    if field == "channel":
        return "channel", _("Choose a channel from the list.")
    if field == "body" and reason == "length":
        return "body", _("The text is too long: at most %(limit)s characters.", limit=exc.context["limit"])
    if field == "body" and reason == "syntax":
        return "body", _("The text is not a valid template (line %(line)s).", line=exc.context["line"])
    if field == "body" and reason == "variables":
        names = ", ".join(template_render.VARIABLES)
        return "body", _("The text may only use these variables: %(names)s.", names=names)
    if field == "body":
        return "body", _("Write the template's text.")
    return "", _("The template could not be saved.")


def _max_chars(ctx: AppContext, channel: str) -> int | None:
    """The channel's reply limit (None for a template meant for every channel)."""
    return labels.composer_limits(channel, ctx.settings).max_chars if channel else None


def _values(form: Any) -> dict[str, str]:
    return {k: form_text(form, k, 4000) for k in _FIELDS}


def _page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    name: str = "admin_templates.html",
    template: ReplyTemplate | None = None,
    error: tuple[str, str] = ("", ""),
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        name,
        {
            "templates": template_service.list_for(session=db, by=principal),
            "template": template,
            "variables": sorted(template_render.VARIABLES),
            "error_field": error[0],
            "error": error[1],
            "form": form or {},
            "channels": sorted({a.channel for a in db.scalars(select(MerchantAccount))}),
        },
        status_code=status,
    )


@router.get("")
def templates(request: Request, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.TEMPLATE_MANAGE)
    return _page(request, db, principal)


@router.post("", dependencies=[CsrfDep])
async def add_template(request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.TEMPLATE_MANAGE)
    values = _values(await request.form())
    try:
        template_service.create(
            session=db, by=principal, name=values["name"], body=values["body"], now=ctx.clock.now(),
            channel=values["channel"] or None, all_accounts=True,
            max_chars=_max_chars(ctx, values["channel"]), ip=client_ip(request),
        )  # fmt: skip
    except ComplaintDeskError as exc:
        db.rollback()
        return _page(request, db, principal, error=field_error(exc), form=values, status=422)
    return RedirectResponse("/admin/templates", status_code=303)


@router.get("/{template_id}")
def edit_form(template_id: IdPath, request: Request, db: DbDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.TEMPLATE_MANAGE)
    template = template_service.get(session=db, by=principal, template_id=template_id)
    values = {"name": template.name, "body": template.body, "channel": template.channel or ""}
    return _page(request, db, principal, name="admin_template_edit.html", template=template, form=values)


@router.post("/{template_id}", dependencies=[CsrfDep])
async def change_template(
    template_id: IdPath, request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.TEMPLATE_MANAGE)
    template = template_service.get(session=db, by=principal, template_id=template_id)
    values = _values(await request.form())
    try:
        template_service.update(
            session=db, by=principal, template_id=template.id, now=ctx.clock.now(), name=values["name"],
            body=values["body"], channel=values["channel"] or None, clear_channel=not values["channel"],
            max_chars=_max_chars(ctx, values["channel"]), ip=client_ip(request),
        )  # fmt: skip
    except ComplaintDeskError as exc:
        db.rollback()
        template = template_service.get(session=db, by=principal, template_id=template_id)
        return _page(
            request, db, principal, name="admin_template_edit.html", template=template,
            error=field_error(exc), form=values, status=422,
        )  # fmt: skip
    return RedirectResponse("/admin/templates", status_code=303)


@router.post("/{template_id}/delete", dependencies=[CsrfDep])
def delete_template(
    template_id: IdPath, request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.TEMPLATE_MANAGE)
    template_service.delete(
        session=db, by=principal, template_id=template_id, now=ctx.clock.now(), ip=client_ip(request)
    )
    return RedirectResponse("/admin/templates", status_code=303)
