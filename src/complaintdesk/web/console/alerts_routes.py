"""Alert pages: destinations (add, edit, disable, delete, send test, rotate), rules, the delivery log, and
every user's "my alerts". Admins only (``settings.manage``), except "my alerts"; every change is audited.

Secrets are never shown back: a URL appears as its token-free hint, a signing secret as "set". A new
endpoint's secret (or a rotated one) is shown once, on the page that answers the change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.alerts import delivery as alert_delivery
from complaintdesk.core.alerts import service as alert_service
from complaintdesk.core.alerts.events import PERSONAL
from complaintdesk.core.alerts.models import (
    AlertAttempt,
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    AlertRule,
    DestinationKind,
)
from complaintdesk.core.audit import service as audit_service
from complaintdesk.core.audit.service import AuditAction
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.db import MAX_ID
from complaintdesk.errors import ActionRefused, ComplaintDeskError
from complaintdesk.jobs.alerts import send_test
from complaintdesk.web.console import alerts_forms as forms
from complaintdesk.web.console.complaint_routes import _flash, pop_flash
from complaintdesk.web.console.deps import CsrfDep, CtxDep, DbDep, PrincipalDep, SessionDep, client_ip
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import render
from complaintdesk.web.console.session import ConsoleSession
from complaintdesk.web.params import IdPath, form_id

router = APIRouter(include_in_schema=False)
#: A destination id in the query (0: every destination).
IdQuery = Annotated[int, Query(ge=0, le=MAX_ID)]
LOG_ROWS = 100


def _audit(
    request: Request, db: Session, principal: Principal, target: str, target_id: int | str, **details: Any
) -> None:
    audit_service.record(
        session=db, action=AuditAction.SETTINGS_CHANGED, actor=principal.username, ip=client_ip(request),
        target_type=target, target_id=target_id, details=details,
        at=request.app.state.ctx.clock.now(),
    )  # fmt: skip


def _common(db: Session) -> dict[str, Any]:
    return {
        "event_labels": forms.event_labels(),
        "kind_labels": forms.destination_labels(),
        "status_labels": forms.status_labels(),
        "accounts": list(db.scalars(select(MerchantAccount).order_by(MerchantAccount.name))),
    }


def _page(
    request: Request,
    db: Session,
    session: ConsoleSession,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    secret: str = "",
    status: int = 200,
) -> Response:
    kind, message = pop_flash(session)
    destinations = alert_service.list_destinations(session=db)
    pending = {d.id: alert_delivery.pending_count(session=db, destination_id=d.id) for d in destinations}
    return render(
        request,
        "admin_alerts.html",
        {
            **_common(db),
            "destinations": destinations,
            "pending": pending,
            "names": {d.id: d.name for d in destinations},
            "rules": alert_service.list_rules(session=db),
            "users": list(db.scalars(select(User).where(User.active.is_(True)).order_by(User.username))),
            "errors": errors or {},
            "form": form or {"language": "zh-CN", "events": []},
            "secret": secret,
            "flash": message,
            "flash_kind": kind,
        },
        status_code=status,
    )


@router.get("/admin/alerts")
def alerts(request: Request, db: DbDep, session: SessionDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.SETTINGS_MANAGE)
    return _page(request, db, session)


@router.post("/admin/alerts/destinations", dependencies=[CsrfDep])
async def add_destination(
    request: Request, ctx: CtxDep, db: DbDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.SETTINGS_MANAGE)
    raw = await request.form()
    shown: dict[str, Any] = {}
    try:
        typed = forms.destination_form(raw)
        shown = typed.shown()
        secret = typed.secret
        if typed.kind == DestinationKind.EMAIL and not typed.options.get("username"):
            secret = ""  # an SMTP password without a user name is never sent
        dest = alert_service.add_destination(
            session=db, cipher=ctx.cipher, settings=ctx.settings.alerts, name=typed.name, kind=typed.kind,
            url=typed.url, secret=secret, options=typed.options, account_id=typed.account_id,
            language=typed.language, quiet=typed.quiet, min_interval_seconds=typed.min_interval,
        )  # fmt: skip
        if typed.events or raw.get("all_events") == "on":
            alert_service.add_rule(
                session=db, destination_id=dest.id, events=typed.events, account_id=typed.account_id
            )
        endpoint_secret = ctx.cipher.decrypt(dest.secret_enc) if dest.kind == DestinationKind.ENDPOINT else ""
    except ComplaintDeskError as exc:
        db.rollback()
        where, message = forms.refusal(exc)
        return _page(request, db, session, errors={where: message}, form=shown or None, status=422)
    _audit(request, db, principal, "alert_destination", dest.id, op="added", name=dest.name, kind=dest.kind)
    if endpoint_secret and not typed.secret:
        return _page(request, db, session, secret=endpoint_secret)
    _flash(session, _("Destination added."))
    return RedirectResponse(f"/admin/alerts/destinations/{dest.id}", status_code=303)


def _destination_page(
    request: Request,
    db: Session,
    session: ConsoleSession,
    dest: AlertDestination,
    *,
    errors: dict[str, str] | None = None,
    secret: str = "",
    status: int = 200,
) -> Response:
    kind, message = pop_flash(session)
    attempts = list(
        db.scalars(
            select(AlertAttempt)
            .where(AlertAttempt.destination_id == dest.id)
            .order_by(AlertAttempt.id.desc())
            .limit(LOG_ROWS)
        )
    )
    form = {
        "name": dest.name, "language": dest.language, "account_id": dest.account_id,
        "quiet_start": dest.quiet_start, "quiet_end": dest.quiet_end,
        "min_interval": "" if dest.min_interval_seconds is None else f"{dest.min_interval_seconds:g}",
        "smtp_host": dest.options.get("host", ""), "smtp_port": dest.options.get("port", ""),
        "mail_from": dest.options.get("from", ""), "mail_to": ", ".join(dest.options.get("to", [])),
        "smtp_user": dest.options.get("username", ""), "starttls": dest.options.get("starttls", False),
        "template": dest.options.get("template", ""),
    }  # fmt: skip
    return render(
        request,
        "admin_alert_destination.html",
        {
            **_common(db),
            "dest": dest,
            "attempts": attempts,
            "pending": alert_delivery.pending_count(session=db, destination_id=dest.id),
            "form": form,
            "errors": errors or {},
            "secret": secret,
            "flash": message,
            "flash_kind": kind,
        },
        status_code=status,
    )


@router.get("/admin/alerts/destinations/{destination_id}")
def destination(
    destination_id: IdPath, request: Request, db: DbDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.SETTINGS_MANAGE)
    dest = alert_service.get_destination(session=db, destination_id=destination_id)
    return _destination_page(request, db, session, dest)


@router.post("/admin/alerts/destinations/{destination_id}", dependencies=[CsrfDep])
async def change_destination(
    destination_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    """Save the edit form, or one of its buttons: enable/disable, delete, rotate the secret."""
    principal.require(Permission.SETTINGS_MANAGE)
    dest = alert_service.get_destination(session=db, destination_id=destination_id)
    raw = await request.form()
    op = str(raw.get("op") or "save")
    if op in ("enable", "disable"):
        dest.enabled = op == "enable"
        _audit(request, db, principal, "alert_destination", dest.id, op=op, name=dest.name)
        _flash(session, _("Destination enabled.") if dest.enabled else _("Destination disabled."))
        return RedirectResponse(f"/admin/alerts/destinations/{dest.id}", status_code=303)
    if op == "delete":
        name = dest.name
        alert_service.delete_destination(session=db, destination=dest)
        _audit(request, db, principal, "alert_destination", destination_id, op="deleted", name=name)
        _flash(session, _("Destination deleted."))
        return RedirectResponse("/admin/alerts", status_code=303)
    try:
        if op == "rotate":
            hours = float(ctx.settings.alerts.rotation_overlap_hours)
            secret = alert_service.rotate_secret(
                session=db, cipher=ctx.cipher, destination=dest, now=ctx.clock.now(), overlap_hours=hours
            )
            _audit(request, db, principal, "alert_destination", dest.id, op="secret_rotated", hours=hours)
            return _destination_page(request, db, session, dest, secret=secret)
        typed = forms.destination_form(raw, kind=dest.kind)
        changed = alert_service.update_destination(
            session=db, cipher=ctx.cipher, settings=ctx.settings.alerts, destination=dest, name=typed.name,
            url=typed.url, secret=typed.secret, options=typed.options, account_id=typed.account_id,
            language=typed.language, quiet=typed.quiet, min_interval_seconds=typed.min_interval,
        )  # fmt: skip
    except ComplaintDeskError as exc:
        db.rollback()
        where, message = forms.refusal(exc)
        dest = alert_service.get_destination(session=db, destination_id=destination_id)
        return _destination_page(request, db, session, dest, errors={where: message}, status=422)
    _audit(request, db, principal, "alert_destination", dest.id, op="changed", fields=changed)
    _flash(session, _("Saved."))
    return RedirectResponse(f"/admin/alerts/destinations/{dest.id}", status_code=303)


@router.post("/admin/alerts/destinations/{destination_id}/test", dependencies=[CsrfDep])
async def test_destination(
    destination_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    """Send a test message now; the attempt (with the destination's answer) is in the log below."""
    principal.require(Permission.SETTINGS_MANAGE)
    dest = alert_service.get_destination(session=db, destination_id=destination_id)
    outcome = await send_test(ctx, dest.id)
    _audit(request, db, principal, "alert_destination", dest.id, op="test", delivered=outcome.ok)
    if outcome.ok:
        _flash(session, _("Test message delivered."))
    else:
        _flash(session, _("The destination refused the test message: see its answer below."), "error")
    return RedirectResponse(f"/admin/alerts/destinations/{dest.id}", status_code=303)


@router.post("/admin/alerts/rules", dependencies=[CsrfDep])
async def add_rule(request: Request, db: DbDep, session: SessionDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.SETTINGS_MANAGE)
    raw = await request.form()
    events = [e for e in raw.getlist("events") if isinstance(e, str)]
    destination_id = form_id(raw, "destination_id")
    try:
        if destination_id is None:
            raise forms.FormRefused("no destination", field="destination", code="destination")
        rule = alert_service.add_rule(
            session=db, destination_id=destination_id, events=events,
            account_id=form_id(raw, "account_id"), user_id=form_id(raw, "user_id"),
        )  # fmt: skip
    except ComplaintDeskError as exc:
        db.rollback()
        where, message = forms.refusal(exc)
        if where in ("form", "destination"):
            where, message = "rule", message if destination_id else _("Choose a destination.")
        return _page(request, db, session, errors={f"rule_{where}": message}, status=422)
    _audit(request, db, principal, "alert_rule", rule.id, op="added", destination=destination_id,
           events=events, account=rule.account_id, user=rule.user_id)  # fmt: skip
    _flash(session, _("Rule added."))
    return RedirectResponse("/admin/alerts", status_code=303)


@router.post("/admin/alerts/rules/{rule_id}", dependencies=[CsrfDep])
async def change_rule(
    rule_id: IdPath, request: Request, db: DbDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.SETTINGS_MANAGE)
    rule = alert_service.get_rule(session=db, rule_id=rule_id)
    op = str((await request.form()).get("op") or "")
    if op == "delete":
        db.delete(rule)
    elif op in ("enable", "disable"):
        rule.enabled = op == "enable"
    else:
        return _page(request, db, session, errors={"rule_rule": _("Unknown change.")}, status=422)
    _audit(request, db, principal, "alert_rule", rule_id, op=op)
    _flash(session, _("Saved."))
    return RedirectResponse("/admin/alerts", status_code=303)


@router.get("/admin/alerts/log")
def delivery_log(
    request: Request, db: DbDep, session: SessionDep, principal: PrincipalDep, destination: IdQuery = 0
) -> Response:
    """Deliveries (with replay) and every attempt with the destination's answer, newest first."""
    principal.require(Permission.SETTINGS_MANAGE)
    kind, message = pop_flash(session)
    deliveries = select(AlertDelivery, AlertEvent).join(AlertEvent, AlertEvent.id == AlertDelivery.event_id)
    attempts = select(AlertAttempt)
    if destination > 0:
        deliveries = deliveries.where(AlertDelivery.destination_id == destination)
        attempts = attempts.where(AlertAttempt.destination_id == destination)
    rows = db.execute(deliveries.order_by(AlertDelivery.id.desc()).limit(LOG_ROWS)).all()
    answers = {a.id: a for a in db.scalars(attempts.order_by(AlertAttempt.id.desc()).limit(LOG_ROWS))}
    destinations = alert_service.list_destinations(session=db)
    return render(
        request,
        "admin_alert_log.html",
        {
            **_common(db),
            "rows": rows,
            "attempts": list(answers.values()),
            "names": {d.id: d.name for d in destinations},
            "destinations": destinations,
            "selected": destination,
            "flash": message,
            "flash_kind": kind,
        },
    )


@router.post("/admin/alerts/log/{delivery_id}/replay", dependencies=[CsrfDep])
def replay(
    delivery_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    principal.require(Permission.SETTINGS_MANAGE)
    try:
        row = alert_delivery.replay(session=db, delivery_id=delivery_id, now=ctx.clock.now())
    except ActionRefused:
        db.rollback()
        _flash(session, _("This delivery is being sent right now."), "error")
        return RedirectResponse("/admin/alerts/log", status_code=303)
    _audit(request, db, principal, "alert_delivery", delivery_id, op="replay", destination=row.destination_id)
    _flash(session, _("The delivery will be sent again."))
    return RedirectResponse(f"/admin/alerts/log?destination={row.destination_id}", status_code=303)


@router.get("/alerts/mine")
def my_alerts(request: Request, db: DbDep, principal: PrincipalDep) -> Response:
    """What the signed-in user receives: their own rules, team rules of their accounts, recent events."""
    mine = alert_service.list_rules(session=db, user_id=principal.user_id)
    scope = principal.scope
    team = select(AlertRule).where(AlertRule.user_id.is_(None), AlertRule.enabled.is_(True))
    if not scope.all_accounts:
        team = team.where(
            or_(AlertRule.account_id.is_(None), AlertRule.account_id.in_(sorted(scope.account_ids)))
        )
    events = list(
        db.scalars(
            select(AlertEvent)
            .where(AlertEvent.user_id == principal.user_id, AlertEvent.kind.in_([k.value for k in PERSONAL]))
            .order_by(AlertEvent.id.desc())
            .limit(30)
        )
    )
    names = {d.id: (d.name, d.kind) for d in alert_service.list_destinations(session=db)}
    return render(
        request,
        "my_alerts.html",
        {**_common(db), "mine": mine, "team": list(db.scalars(team.order_by(AlertRule.id))),
         "events": events, "names": names},
    )  # fmt: skip
