"""Alert pages' forms and labels: read a destination or rule form, say a refusal in the UI's language.

Event kinds, destination kinds, delivery states and attempt outcomes are shown by label, never by
their code. A refusal from ``core.alerts.service`` carries a ``code`` (and values): it is shown next
to the field it concerns, translated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from complaintdesk.core.alerts.events import EventKind
from complaintdesk.core.alerts.models import DestinationKind
from complaintdesk.errors import ComplaintDeskError
from complaintdesk.web.console.deps import form_text
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.params import form_id


def event_labels() -> dict[str, str]:
    """Every event kind's label in the current language."""
    return {
        EventKind.NEW_COMPLAINT: _("New complaint"),
        EventKind.CONSUMER_MESSAGE: _("Consumer message waiting"),
        EventKind.SLA_WARNING: _("Deadline approaching"),
        EventKind.SLA_BREACH: _("Deadline missed"),
        EventKind.PLATFORM_MEDIATING: _("Platform mediating"),
        EventKind.EVIDENCE_REQUESTED: _("Evidence requested"),
        EventKind.ACTION_FAILED: _("Action failed"),
        EventKind.ACTION_SENT: _("Action sent (endpoints)"),
        EventKind.COMPLAINT_UPDATED: _("Complaint updated (endpoints)"),
        EventKind.ASSIGNED: _("Assigned to me"),
        EventKind.MENTION: _("Mentioned in a note"),
        EventKind.SYNC_UNANNOUNCED: _("Sync found unannounced complaints"),
        EventKind.SIGNATURES_REFUSED: _("Many refused notification signatures"),
    }


def destination_labels() -> dict[str, str]:
    """Destination kinds."""
    return {
        DestinationKind.WECOM: _("WeCom group robot"),
        DestinationKind.DINGTALK: _("DingTalk robot"),
        DestinationKind.FEISHU: _("Feishu / Lark bot"),
        DestinationKind.EMAIL: _("E-mail (SMTP)"),
        DestinationKind.WEBHOOK: _("Generic webhook"),
        DestinationKind.ENDPOINT: _("Standard Webhooks endpoint"),
    }


def status_labels() -> dict[str, str]:
    """Delivery states and attempt outcomes."""
    return {
        "pending": _("Waiting"),
        "sending": _("Sending"),
        "sent": _("Delivered"),
        "failed": _("Failed"),
        "test": _("Test delivered"),
    }


def refusal(exc: ComplaintDeskError) -> tuple[str, str]:
    """(field, message in the UI's language) for a refusal of the alerts service."""
    code = str(exc.context.get("code", ""))
    params: dict[str, Any] = dict(exc.context.get("params") or {})
    where = str(getattr(exc, "field", "") or exc.context.get("field", "") or "form")
    messages = {
        "url_scheme": _("Enter the full address, starting with https://."),
        "url_http": _("The address must start with https:// (http:// only for %(hosts)s)."),
        "wecom_key": _("A WeCom robot address ends in /cgi-bin/webhook/send?key=…; the key is missing."),
        "dingtalk_token": _(
            "A DingTalk robot address ends in /robot/send?access_token=…; the access_token is missing."
        ),
        "feishu_token": _(
            "A Feishu/Lark bot address ends in /open-apis/bot/v2/hook/<token>; the token is missing."
        ),
        "template_syntax": _("The template cannot be read (line %(line)s)."),
        "template_node": _("Templates may only use {{ name }}; %(node)s is not allowed."),
        "template_name": _("The template uses %(name)s, which is not allowed (allowed: %(allowed)s)."),
        "kind": _("Choose a kind of destination."),
        "email_fields": _("An e-mail destination needs an SMTP server and at least one recipient."),
        "email_address": _("Every recipient must be an e-mail address."),
        "endpoint_account": _("An endpoint belongs to one merchant account: choose it."),
        "quiet": _("Quiet hours are written HH:MM, e.g. 22:00."),
        "quiet_both": _("Quiet hours need a start and an end."),
        "name_missing": _("Enter a name."),
        "name_taken": _("A destination with this name exists already."),
        "events": _("Choose known events."),
        "account_unknown": _("This merchant account does not exist."),
        "user_unknown": _("This user does not exist."),
        "rotate_kind": _("Only endpoints have a signing secret to rotate."),
        "interval": _("The pause between messages is a number of seconds (0 or more)."),
        "port": _("The SMTP port is a number between 1 and 65535."),
    }
    text = messages.get(code)
    if text is None:
        return where, exc.public_message
    safe = {k: str(v) for k, v in params.items()}
    try:
        return where, text % safe if "%(" in text else text
    except KeyError:
        return where, text


class FormRefused(ComplaintDeskError):
    """A form value the console itself refuses (before the service sees it)."""

    http_status = 422


@dataclass
class DestinationForm:
    """A destination as typed in the form (secrets stay out of ``shown``)."""

    name: str
    kind: str
    url: str
    secret: str
    account_id: int | None
    language: str
    quiet: tuple[str, str]
    min_interval: float | None
    options: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def shown(self) -> dict[str, Any]:
        """The values to put back in the form after a refusal (never the URL's token or a secret)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "account_id": self.account_id,
            "language": self.language,
            "quiet_start": self.quiet[0],
            "quiet_end": self.quiet[1],
            "min_interval": "" if self.min_interval is None else f"{self.min_interval:g}",
            "smtp_host": self.options.get("host", ""),
            "smtp_port": self.options.get("port", ""),
            "mail_from": self.options.get("from", ""),
            "mail_to": ", ".join(self.options.get("to", [])),
            "template": self.options.get("template", ""),
            "events": self.events,
        }


def _number(text: str, code: str, low: float, high: float) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not low <= value <= high:
        raise FormRefused(f"bad {code}", field=code, code=code)
    return value


def destination_form(form: Any, kind: str = "") -> DestinationForm:
    """Read a destination form (``kind``: an existing destination's); refuses numbers that are not numbers."""
    kind = kind or form_text(form, "kind", 16)
    options: dict[str, Any] = {}
    if kind == DestinationKind.EMAIL:
        port = _number(form_text(form, "smtp_port", 8), "port", 1, 65535)
        recipients = [a.strip() for a in form_text(form, "mail_to", 1000).replace(";", ",").split(",")]
        options = {
            "host": form_text(form, "smtp_host", 200).strip(),
            "port": int(port or 25),
            "from": form_text(form, "mail_from", 200).strip() or "complaintdesk@localhost",
            "to": [a for a in recipients if a],
            "starttls": form.get("starttls") == "on",
        }
        if form_text(form, "smtp_user", 200).strip():
            options["username"] = form_text(form, "smtp_user", 200).strip()
    template = form_text(form, "template", 1000).strip()
    if template:
        options["template"] = template
    known = {k.value for k in EventKind}
    return DestinationForm(
        name=form_text(form, "name", 64).strip(),
        kind=kind,
        url=form_text(form, "url", 2000).strip(),
        secret=form_text(form, "secret", 500).strip(),
        account_id=form_id(form, "account_id"),
        language=form_text(form, "language", 8) or "zh-CN",
        quiet=(form_text(form, "quiet_start", 5).strip(), form_text(form, "quiet_end", 5).strip()),
        min_interval=_number(form_text(form, "min_interval", 12).strip(), "interval", 0, 86400),
        options=options,
        events=[e for e in form.getlist("events") if isinstance(e, str) and e in known],
    )
