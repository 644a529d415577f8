"""Admin pages for merchant accounts: list, add and edit per channel, disable/enable, test connection.

Every change goes through ``core.accounts.service`` (which audits it); key files go to the protected
secrets directory (see ``core.accounts.secret_store``), only their ``file:`` references to the database.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.accounts.probe import ProbeResult, check_connection
from complaintdesk.core.accounts.webhook_probe import WebhookProbe, check_webhook, public_url
from complaintdesk.core.users.permissions import Permission
from complaintdesk.errors import ComplaintDeskError
from complaintdesk.web.console.account_forms import CHANNEL_FORMS, current_ref, features_off, read_form
from complaintdesk.web.console.complaint_routes import _flash, pop_flash
from complaintdesk.web.console.deps import CsrfDep, CtxDep, DbDep, PrincipalDep, SessionDep, client_ip
from complaintdesk.web.console.error_text import message_for
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import render
from complaintdesk.web.params import IdPath

router = APIRouter(prefix="/admin/accounts", include_in_schema=False)

#: Probe codes → message ids shown after "Test connection".
PROBE_TEXT = {
    "ok": "Connected: a signed call was accepted and its answer verified.",
    "ok_public_key": "Connected: a signed call was accepted (public-key mode).",
    "ok_token": "Connected: an access token was issued.",
    "ok_query": "Connected: a signed query was accepted and its answer verified.",
    "config": "A credential cannot be loaded; check the files and references above.",
    "missing_app_secret": "The AppSecret is not set: only notifications can be tested.",
    "missing_private_key": "The merchant private key is not set: only notifications can be tested.",
    "unreachable": "The upstream cannot be reached at the configured address.",
    "auth_failed": "The upstream refused our signature or credentials.",
    "verify_failed": "The upstream's answer does not verify with the configured certificate.",
    "refused": "The upstream refused the call.",
}
#: Webhook probe codes → message ids shown after "Test webhook".
WEBHOOK_TEXT = {
    "ok_url_check": (
        "Webhook works: the public address answered the URL check signed with this account's token."
    ),
    "ok_refused_unsigned": (
        "Webhook reachable: the public address reaches this account and refuses an unsigned call, "
        "as it should. Only the upstream can send a signed notification."
    ),
    "no_token": "The message push token is not set or cannot be read.",
    "unreachable": (
        "The public address cannot be reached from here; check the public URL setting and the proxy."
    ),
    "unknown_account": "The public address answers, but not for this account (another desk or path?).",
    "misconfigured": "The public address reaches this account, but its credentials cannot be loaded.",
    "url_check_refused": ("The URL check was refused: the desk behind the public address has another token."),
    "unexpected": "The public address accepted an unsigned call: it is not this desk's webhook.",
}

OPTION_LABELS = {
    "message_mode": "Message encryption mode",
    "message_format": "Message format",
    "sign_type": "Signature type",
}


def _refs(account: MerchantAccount) -> dict[str, str]:
    spec = CHANNEL_FORMS[account.channel]
    return {s.name: current_ref(account, s) for s in spec.secrets if current_ref(account, s)}


def _ref_kind(ref: str) -> str:
    if ref.startswith("env:"):
        return _("set (environment variable)")
    return _("set (file)") if ref else _("not set")


def _form_page(
    request: Request,
    channel: str,
    account: MerchantAccount | None,
    *,
    errors: list[str] | None = None,
    probe: ProbeResult | None = None,
    hook: WebhookProbe | None = None,
    status: int = 200,
    session: Any = None,
) -> Response:
    kind, message = pop_flash(session) if session is not None else ("", "")
    spec = CHANNEL_FORMS[channel]
    refs = _refs(account) if account is not None else {}
    return render(
        request,
        "admin_account_form.html",
        {
            "spec": spec,
            "option_labels": OPTION_LABELS,
            "account": account,
            "states": {s.name: _ref_kind(refs.get(s.name, "")) for s in spec.secrets},
            "off": features_off(channel, refs) if account is not None else [],
            "errors": errors or [],
            "probe": probe,
            "probe_text": PROBE_TEXT.get(probe.code, "") if probe else "",
            "hook": hook,
            "hook_text": WEBHOOK_TEXT.get(hook.code, "") if hook else "",
            "public_url": public_url(request.app.state.ctx.settings, account) if account else "",
            "flash": message,
            "flash_kind": kind,
        },
        status_code=status,
    )


@router.get("")
def accounts(request: Request, db: DbDep, session: SessionDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.ACCOUNT_MANAGE)
    kind, message = pop_flash(session)
    rows = [
        (a, features_off(a.channel, _refs(a)) if a.kind != "sub_merchant" else [])
        for a in account_service.list_all(session=db)
    ]
    return render(
        request,
        "admin_accounts.html",
        {"rows": rows, "forms": CHANNEL_FORMS, "flash": message, "flash_kind": kind},
    )


@router.get("/new/{channel}")
def new_account(channel: str, request: Request, principal: PrincipalDep) -> Response:
    principal.require(Permission.ACCOUNT_MANAGE)
    if channel not in CHANNEL_FORMS:
        return RedirectResponse("/admin/accounts", status_code=303)
    return _form_page(request, channel, None)


@router.post("/new/{channel}", dependencies=[CsrfDep])
async def add_account(
    channel: str, request: Request, ctx: CtxDep, db: DbDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.ACCOUNT_MANAGE)
    if channel not in CHANNEL_FORMS:
        return RedirectResponse("/admin/accounts", status_code=303)
    form = await request.form()
    name = str(form.get("name") or "").strip()
    if not account_service.NAME_RE.match(name):
        error = _("The short name is lowercase letters, digits, '-' or '_' (it appears in the webhook URL).")
        return _form_page(request, channel, None, errors=[error], status=422)
    if account_service.get_by_name(session=db, name=name) is not None:
        return _form_page(request, channel, None, errors=[_("This short name is taken.")], status=422)
    read = read_form(form, channel, ctx.settings.data_dir, name)
    if read.errors:
        return _form_page(request, channel, None, errors=read.errors, status=422)
    fields = dict(read.fields)
    fields["display_name"] = fields["display_name"] or name
    try:
        account = account_service.create(
            session=db, name=name, channel=channel, actor=principal.username, ip=client_ip(request), **fields
        )
    except ComplaintDeskError as exc:
        db.rollback()
        return _form_page(request, channel, None, errors=[message_for(exc)], status=422)
    _flash(session, _("Account added."))
    return RedirectResponse(f"/admin/accounts/{account.id}", status_code=303)


def _get(db: Session, account_id: int) -> MerchantAccount:
    account = account_service.get(session=db, account_id=account_id)
    if account.kind == "sub_merchant":  # uses its parent's credentials: nothing to edit here
        account = account_service.get(session=db, account_id=account.parent_id or 0)
    return account


@router.get("/{account_id}")
def edit_account(
    account_id: IdPath, request: Request, db: DbDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.ACCOUNT_MANAGE)
    account = _get(db, account_id)
    return _form_page(request, account.channel, account, session=session)


@router.post("/{account_id}", dependencies=[CsrfDep])
async def save_account(
    account_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    principal.require(Permission.ACCOUNT_MANAGE)
    account = _get(db, account_id)
    form = await request.form()
    read = read_form(form, account.channel, ctx.settings.data_dir, account.name, account)
    if read.errors:
        return _form_page(request, account.channel, account, errors=read.errors, status=422)
    fields = {k: v for k, v in read.fields.items() if k in account_service.CHANGEABLE}
    fields["display_name"] = fields.get("display_name") or account.display_name
    changed = account_service.change(
        session=db, account=account, actor=principal.username, ip=client_ip(request), **fields
    )
    ctx.forget(account.name)
    _flash(session, _("Saved.") if changed else _("Nothing changed."))
    return RedirectResponse(f"/admin/accounts/{account.id}", status_code=303)


@router.post("/{account_id}/enabled", dependencies=[CsrfDep])
async def set_enabled(
    account_id: IdPath,
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    principal.require(Permission.ACCOUNT_MANAGE)
    account = _get(db, account_id)
    form = await request.form()
    enabled = form.get("op") == "enable"
    account_service.set_enabled(
        session=db, account=account, enabled=enabled, actor=principal.username, ip=client_ip(request)
    )
    ctx.forget(account.name)
    _flash(session, _("Account enabled.") if enabled else _("Account disabled."))
    return RedirectResponse(f"/admin/accounts/{account.id}", status_code=303)


@router.post("/{account_id}/test", dependencies=[CsrfDep])
async def test_account(
    account_id: IdPath, request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.ACCOUNT_MANAGE)
    account = _get(db, account_id)
    pems = [
        c.certificate_pem for c in account_service.platform_certificates(session=db, account_id=account.id)
    ]
    probe = await check_connection(account, settings=ctx.settings, certificate_pems=pems)
    return _form_page(request, account.channel, account, probe=probe)


@router.post("/{account_id}/test-webhook", dependencies=[CsrfDep])
async def test_webhook(
    account_id: IdPath, request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep
) -> Response:
    principal.require(Permission.ACCOUNT_MANAGE)
    account = _get(db, account_id)
    hook = await check_webhook(account, settings=ctx.settings)
    return _form_page(request, account.channel, account, hook=hook)
