"""Manage alert destinations and rules: checked when saved, secrets encrypted, never shown again."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.alerts.events import EventKind
from complaintdesk.core.alerts.models import (
    AlertAttempt,
    AlertDelivery,
    AlertDestination,
    AlertRule,
    DestinationKind,
)
from complaintdesk.core.alerts.senders import Target
from complaintdesk.core.users.models import User
from complaintdesk.errors import AlreadyExists, DestinationInvalid, NotFound
from complaintdesk.security import DataCipher
from complaintdesk.settings import AlertSettings

#: Names a destination's own line template may use (the event's facts; nothing personal exists there).
TEMPLATE_NAMES = frozenset(
    {"external_id", "channel", "status", "raw_status", "problem_type", "amount_fen", "deadline", "kind"}
)
_ENV = ImmutableSandboxedEnvironment(autoescape=False)
_TEMPLATE_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const)


def _refuse(message: str, field: str = "url", code: str = "", **params: object) -> DestinationInvalid:
    """A refusal naming its field, with a ``code`` and ``params`` the console translates."""
    return DestinationInvalid(message, field=field, code=code or field, params=params)


def check_url(kind: str, url: str, settings: AlertSettings) -> str:
    """Refuse a URL that cannot work for ``kind``, saying why; returns a hint safe to show (no token)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refuse(
            f"{kind} needs a full https:// URL (got {parts.scheme or 'no'} scheme)", code="url_scheme"
        )
    if parts.scheme == "http" and parts.hostname not in settings.http_allowed_hosts:
        hosts = ", ".join(settings.http_allowed_hosts)
        raise _refuse(
            f"{kind} URL must use https:// (http:// is allowed only for {settings.http_allowed_hosts})",
            code="url_http",
            hosts=hosts,
        )
    query = parse_qs(parts.query)
    if kind == DestinationKind.WECOM and not query.get("key"):
        raise _refuse(
            "a WeCom group robot URL ends in /cgi-bin/webhook/send?key=…; the key is missing",
            code="wecom_key",
        )
    if kind == DestinationKind.DINGTALK and not query.get("access_token"):
        raise _refuse(
            "a DingTalk robot URL ends in /robot/send?access_token=…; the access_token is missing",
            code="dingtalk_token",
        )
    if kind == DestinationKind.FEISHU:
        token = parts.path.rstrip("/").rsplit("/bot/v2/hook/", 1)
        if len(token) != 2 or not token[1]:
            raise _refuse(
                "a Feishu/Lark bot URL ends in /open-apis/bot/v2/hook/<token>; the token is missing",
                code="feishu_token",
            )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rsplit('/hook/', 1)[0]}"[:256]


def check_template(template: str) -> None:
    """Refuse a line template that uses anything but plain ``{{ name }}`` of the allowed facts."""
    try:
        tree = _ENV.parse(template)
    except TemplateSyntaxError as exc:
        raise _refuse(
            f"template does not parse: {exc.message}", "template", "template_syntax", line=exc.lineno
        ) from exc
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _TEMPLATE_NODES):
            raise _refuse(
                f"templates may only use {{{{ name }}}}; {type(node).__name__} is not allowed",
                "template",
                "template_node",
                node=type(node).__name__,
            )
        if isinstance(node, nodes.Name) and node.name not in TEMPLATE_NAMES:
            allowed = ", ".join(sorted(TEMPLATE_NAMES))
            raise _refuse(
                f"template uses {node.name!r}, which is not allowed (allowed: {allowed})",
                "template",
                "template_name",
                name=node.name,
                allowed=allowed,
            )


def render_template(template: str, kind: str, facts: dict[str, Any]) -> str:
    """A destination's line for one event (checked again before use)."""
    check_template(template)
    values = {name: facts.get(name, "") for name in TEMPLATE_NAMES} | {"kind": kind}
    return _ENV.from_string(template).render(values)


def new_endpoint_secret() -> str:
    """A fresh Standard Webhooks secret (``whsec_`` + 32 random bytes, base64)."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def _check(
    *,
    kind: str,
    url: str,
    opts: dict[str, Any],
    account_id: int | None,
    quiet: tuple[str, str],
    settings: AlertSettings,
) -> str:
    """Refuse a destination that cannot work, saying why; returns the hint safe to display."""
    if kind not in DestinationKind.ALL:
        raise _refuse(
            f"unknown destination kind {kind!r} (one of {', '.join(DestinationKind.ALL)})", "kind", "kind"
        )
    if kind == DestinationKind.EMAIL:
        if not opts.get("host") or not opts.get("to"):
            raise _refuse(
                "an e-mail destination needs an SMTP host and at least one recipient",
                "options",
                "email_fields",
            )
        if any("@" not in str(a) for a in opts["to"]):
            raise _refuse("every e-mail recipient must be an address", "options", "email_address")
        hint = f"smtp://{opts['host']}:{opts.get('port', 25)}"
    else:
        hint = check_url(kind, url, settings)
    if kind == DestinationKind.ENDPOINT and account_id is None:
        raise _refuse("an endpoint belongs to one merchant account", "account", "endpoint_account")
    if opts.get("template"):
        check_template(str(opts["template"]))
    for value in quiet:
        if value and (len(value) != 5 or value[2] != ":" or not value.replace(":", "").isdigit()):
            raise _refuse(f"quiet hours are HH:MM, got {value!r}", "quiet", "quiet", value=value)
        if value and (int(value[:2]) > 23 or int(value[3:]) > 59):
            raise _refuse(f"quiet hours are HH:MM, got {value!r}", "quiet", "quiet", value=value)
    if bool(quiet[0]) != bool(quiet[1]):
        raise _refuse("quiet hours need a start and an end", "quiet", "quiet_both")
    return hint


def _check_name(session: Session, name: str, own_id: int | None = None) -> None:
    if not name.strip():
        raise _refuse("a destination needs a name", "name", "name_missing")
    found = session.scalar(select(AlertDestination.id).where(AlertDestination.name == name))
    if found is not None and found != own_id:
        raise AlreadyExists(f"a destination named {name!r} exists already", field="name", code="name_taken")


def add_destination(
    *,
    session: Session,
    cipher: DataCipher,
    settings: AlertSettings,
    name: str,
    kind: str,
    url: str = "",
    secret: str = "",
    options: dict[str, Any] | None = None,
    account_id: int | None = None,
    language: str = "zh-CN",
    quiet: tuple[str, str] = ("", ""),
    min_interval_seconds: float | None = None,
) -> AlertDestination:
    """Check and store a destination (URL and secret encrypted); an endpoint gets a secret if none given."""
    opts = dict(options or {})
    hint = _check(kind=kind, url=url, opts=opts, account_id=account_id, quiet=quiet, settings=settings)
    if kind == DestinationKind.ENDPOINT and not secret:
        secret = new_endpoint_secret()
    _check_name(session, name)
    destination = AlertDestination(
        name=name,
        kind=kind,
        account_id=account_id,
        url_enc=cipher.encrypt(url.strip()) if url else "",
        url_hint=hint,
        secret_enc=cipher.encrypt(secret) if secret else "",
        options=opts,
        language="en" if language.lower().startswith("en") else "zh-CN",
        quiet_start=quiet[0],
        quiet_end=quiet[1],
        min_interval_seconds=min_interval_seconds,
    )
    session.add(destination)
    session.flush()
    return destination


def update_destination(
    *,
    session: Session,
    cipher: DataCipher,
    settings: AlertSettings,
    destination: AlertDestination,
    name: str,
    url: str = "",
    secret: str = "",
    options: dict[str, Any] | None = None,
    account_id: int | None = None,
    language: str = "zh-CN",
    quiet: tuple[str, str] = ("", ""),
    min_interval_seconds: float | None = None,
) -> list[str]:
    """Change a destination (an empty ``url``/``secret`` keeps the stored one); the fields changed."""
    opts = dict(options or {})
    current_url = cipher.decrypt(destination.url_enc) if destination.url_enc else ""
    new_url = url.strip() or current_url
    hint = _check(
        kind=destination.kind, url=new_url, opts=opts, account_id=account_id, quiet=quiet, settings=settings
    )
    _check_name(session, name, destination.id)
    lang = "en" if language.lower().startswith("en") else "zh-CN"
    changed = [
        field
        for field, old, new in (
            ("name", destination.name, name),
            ("url", current_url, new_url),
            ("secret", bool(secret), False),
            ("options", destination.options, opts),
            ("account", destination.account_id, account_id),
            ("language", destination.language, lang),
            ("quiet", (destination.quiet_start, destination.quiet_end), quiet),
            ("min_interval", destination.min_interval_seconds, min_interval_seconds),
        )
        if old != new
    ]
    destination.name, destination.options, destination.account_id = name, opts, account_id
    destination.url_enc = cipher.encrypt(new_url) if new_url else ""
    destination.url_hint = hint
    if secret:
        destination.secret_enc = cipher.encrypt(secret)
    destination.language = lang
    destination.quiet_start, destination.quiet_end = quiet
    destination.min_interval_seconds = min_interval_seconds
    session.flush()
    return changed


def delete_destination(*, session: Session, destination: AlertDestination) -> None:
    """Remove a destination with its rules, deliveries and attempt log."""
    for model in (AlertRule, AlertDelivery, AlertAttempt):
        session.execute(delete(model).where(model.destination_id == destination.id))
    session.delete(destination)
    session.flush()


def rotate_secret(
    *,
    session: Session,
    cipher: DataCipher,
    destination: AlertDestination,
    now: datetime,
    overlap_hours: float,
) -> str:
    """Give an endpoint a new secret; the old one still signs (as a second signature) for the overlap."""
    if destination.kind != DestinationKind.ENDPOINT:
        raise _refuse("only endpoints rotate secrets this way", "kind", "rotate_kind")
    secret = new_endpoint_secret()
    destination.previous_secret_enc = destination.secret_enc
    destination.previous_secret_until = now + timedelta(hours=overlap_hours)
    destination.secret_enc = cipher.encrypt(secret)
    session.flush()
    return secret


def target(destination: AlertDestination, cipher: DataCipher, now: datetime) -> Target:
    """The destination with its URL and secrets opened, for one send."""
    secrets = [cipher.decrypt(destination.secret_enc)] if destination.secret_enc else []
    until = destination.previous_secret_until
    if destination.previous_secret_enc and until is not None and until > now:
        secrets.append(cipher.decrypt(destination.previous_secret_enc))
    url = cipher.decrypt(destination.url_enc) if destination.url_enc else ""
    return Target(destination.kind, url, tuple(secrets), dict(destination.options))


def add_rule(
    *,
    session: Session,
    destination_id: int,
    events: list[str] | None = None,
    account_id: int | None = None,
    user_id: int | None = None,
) -> AlertRule:
    """Send events of these kinds (all when empty) of an account (or all) / a user to a destination."""
    get_destination(session=session, destination_id=destination_id)
    known = {k.value for k in EventKind}
    unknown = [e for e in events or [] if e not in known]
    if unknown:
        raise _refuse(
            f"unknown event kinds {unknown} (known: {', '.join(sorted(known))})", "events", "events"
        )
    if account_id is not None and session.get(MerchantAccount, account_id) is None:
        raise _refuse(f"no merchant account {account_id}", "account", "account_unknown")
    if user_id is not None and session.get(User, user_id) is None:
        raise _refuse(f"no user {user_id}", "user", "user_unknown")
    rule = AlertRule(
        destination_id=destination_id, events=list(events or []), account_id=account_id, user_id=user_id
    )
    session.add(rule)
    session.flush()
    return rule


def get_destination(*, session: Session, destination_id: int) -> AlertDestination:
    """A destination by id, or NotFound."""
    destination = session.get(AlertDestination, destination_id)
    if destination is None:
        raise NotFound(f"no alert destination {destination_id}")
    return destination


def find_destination(*, session: Session, ref: str) -> AlertDestination:
    """A destination by id or name."""
    if ref.isdigit():
        return get_destination(session=session, destination_id=int(ref))
    destination = session.scalar(select(AlertDestination).where(AlertDestination.name == ref))
    if destination is None:
        raise NotFound(f"no alert destination named {ref!r}")
    return destination


def list_destinations(*, session: Session) -> list[AlertDestination]:
    """Every destination, by id."""
    return list(session.scalars(select(AlertDestination).order_by(AlertDestination.id)))


def list_rules(*, session: Session, user_id: int | None = None) -> list[AlertRule]:
    """Every rule (or a user's own), by id."""
    query = select(AlertRule).order_by(AlertRule.id)
    if user_id is not None:
        query = query.where(AlertRule.user_id == user_id)
    return list(session.scalars(query))


def get_rule(*, session: Session, rule_id: int) -> AlertRule:
    """A rule by id, or NotFound."""
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound(f"no alert rule {rule_id}")
    return rule
