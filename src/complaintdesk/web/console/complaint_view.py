"""Everything the complaint page shows, gathered in one place (facts, merged timeline, images, actions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.channels.base import ActionChannel, ActionKind
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media import links as media_links
from complaintdesk.core.media import service as media_service
from complaintdesk.core.outbox import service as outbox_service
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.timeline import service as timeline_service
from complaintdesk.core.users.models import User
from complaintdesk.errors import ComplaintDeskError
from complaintdesk.runtime import AppContext
from complaintdesk.web.console import action_forms, core_labels, error_text, labels
from complaintdesk.web.console.action_forms import COMPLETE_WITH_MESSAGE
from complaintdesk.web.console.i18n import gettext as _
from complaintdesk.web.console.render import local_time

#: Order in which action forms are offered.
ACTION_ORDER = (
    ActionKind.REPLY,
    ActionKind.IMMEDIATE_REPLY,
    ActionKind.REFUND_APPROVE,
    ActionKind.REFUND_REJECT,
    ActionKind.COMPLETE,
)


@dataclass
class TimelineItem:
    """One row of the merged timeline as the page shows it."""

    id: int
    source: str
    kind: str
    label: str
    actor: str
    actor_label: str
    occurred_at: Any
    text: str
    images: list[str]
    pending_images: int
    action_id: str = ""
    state: str = ""
    error: str = ""
    author: str = ""
    #: What the page shows instead of ``text`` for entries we write ourselves (in the UI's language).
    body: Markup | None = None
    #: Who requested our action: a user's display name, an API token's name, or "cli".
    operator: str = ""
    #: What our action did when its kind alone does not say it (a Mini Program platform action).
    action_detail: str = ""


@dataclass
class ComplaintView:
    """The complaint page's data."""

    complaint: Complaint
    account: MerchantAccount | None
    merchant: MerchantAccount | None
    timeline: list[TimelineItem]
    images: list[str]
    pending_images: int
    allowed: list[str]
    reply_limit: int
    allowed_error: str | Markup = ""
    limits: labels.ComposerLimits | None = None
    #: The conversation version shown; actions carry it back (the collision guard).
    version: int = 0
    #: Mini Program: the platform actions the status allows now, in the order an operator meets them.
    mp_actions: list[str] = field(default_factory=list)
    #: Mini Program return flow: the return waybill the refund proof answers (None: no return).
    return_bill: str | None = None
    #: "Mark as complete" carries a message to the user on this channel (its form asks for it).
    complete_message: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def media_url(sha256: str) -> str:
    """The console URL of an archived image."""
    return f"/media/{sha256}"


def operator_name(requested_by: str, by_username: dict[str, str]) -> str:
    """The operator of our action as people know them (``user:<name>`` → display name, ``token:<name>``)."""
    kind, _, name = requested_by.partition(":")
    if kind == "user" and name:
        return by_username.get(name, name)
    return name or requested_by


def _mini_program_details(session: Session, complaint: Complaint) -> dict[str, str]:
    """Action id → what a Mini Program action did (respond: agreed or refused; proof; appeal)."""
    if complaint.channel != "miniprogram":
        return {}
    names = action_forms.mp_action_labels()
    out: dict[str, str] = {}
    rows = session.execute(
        select(OutboundAction.id, OutboundAction.params).where(OutboundAction.complaint_id == complaint.id)
    )
    for action_id, params in rows:
        action = str((params or {}).get("mp_action", ""))
        if action not in names:
            continue
        agree = (params or {}).get("agree")
        if action == "respond" and agree in (1, 2, True, False):
            out[action_id] = _("Agreed to settle") if agree in (1, True) else _("Refused to settle")
        else:
            out[action_id] = names[action]
    return out


def _link_of(links: list[Any]) -> Callable[[str], str]:
    """Map an image URL to the URL of its link. A URL that is no link of its own (a signed CDN link
    re-signed by a later read, as the Mini Program's are) belongs to the link of the same image, known
    by the URL without its signature; without this its image vanished from the page after a refresh."""
    known = {link.url for link in links}
    by_key = {media_links.image_key(link.url): link.url for link in links}
    return lambda url: url if url in known else by_key.get(media_links.image_key(url), url)


def account_name(session: Session, complaint: Complaint) -> str:
    """Name of the credentialed account that handles the complaint."""
    account = session.get(MerchantAccount, complaint.account_id)
    return account.name if account else ""


def channel_for(ctx: AppContext, session: Session, complaint: Complaint) -> ActionChannel:
    """The write side of the complaint's channel."""
    return cast(ActionChannel, ctx.runtime_for(account_name(session, complaint)).adapter)


def allowed_actions(
    ctx: AppContext, session: Session, complaint: Complaint
) -> tuple[list[str], str | Markup]:
    """Actions the complaint's current upstream state allows, in display order (and why none, if so)."""
    try:
        channel = channel_for(ctx, session, complaint)
        allowed = channel.allowed_actions(outbox_service.facts_for(complaint, session))
    except ComplaintDeskError as exc:
        return [], error_text.message_for(exc)
    return [k.value for k in ACTION_ORDER if k in allowed], ""


def build(ctx: AppContext, session: Session, complaint: Complaint) -> ComplaintView:
    """Gather the page's data."""
    archived: dict[str, str] = {}
    waiting: set[str] = set()
    links = media_service.links_for(session=session, complaint_id=complaint.id)
    for link in links:
        if link.sha256:
            archived[link.url] = media_url(link.sha256)
        else:
            waiting.add(link.url)
    link_of = _link_of(links)
    people = list(session.scalars(select(User)))
    users = {u.id: u.display_name or u.username for u in people}
    by_username = {u.username: u.display_name or u.username for u in people}
    details = _mini_program_details(session, complaint)
    items: list[TimelineItem] = []
    for entry in timeline_service.list_for(session=session, complaint_id=complaint.id):
        raw = entry.raw or {}
        images = [archived[link_of(u)] for u in entry.media_urls if link_of(u) in archived]
        images += [media_url(str(r)) for r in raw.get("images", []) if isinstance(r, str)]
        author = ""
        if entry.source == "note":
            author_id = raw.get("author_id")
            author = str(
                raw.get("author") or (users.get(author_id, "") if isinstance(author_id, int) else "")
            )
        items.append(
            TimelineItem(
                id=entry.id,
                source=entry.source,
                kind=entry.kind,
                label=labels.history_label(complaint.channel, entry.kind, entry.source),
                actor=entry.actor,
                actor_label=entry.actor_label,
                occurred_at=entry.occurred_at,
                text=entry.text,
                body=system_body(entry.kind, raw) if entry.source == "system" else None,
                images=images,
                pending_images=sum(1 for u in entry.media_urls if link_of(u) in waiting),
                action_id=str(raw.get("action_id", "")) if entry.source == "action" else "",
                state=str(raw.get("status", "")) if entry.source == "action" else "",
                error=_failure(complaint.channel, raw) if entry.source == "action" else "",
                author=author,
                operator=operator_name(entry.actor_label, by_username) if entry.source == "action" else "",
                action_detail=details.get(str(raw.get("action_id", "")), "")
                if entry.source == "action"
                else "",
            )
        )
    allowed, why = allowed_actions(ctx, session, complaint)
    mp_actions, return_bill = _mini_program(ctx, session, complaint) if "reply" in allowed else ([], None)
    limits = labels.composer_limits(complaint.channel, ctx.settings)
    return ComplaintView(
        complaint=complaint,
        account=session.get(MerchantAccount, complaint.account_id),
        merchant=session.get(MerchantAccount, complaint.merchant_account_id),
        timeline=items,
        images=[archived[link_of(u)] for u in complaint.media_urls if link_of(u) in archived],
        pending_images=sum(1 for u in complaint.media_urls if link_of(u) in waiting),
        allowed=allowed,
        allowed_error=why,
        reply_limit=limits.max_chars,
        limits=limits,
        version=timeline_service.conversation_version(session=session, complaint_id=complaint.id),
        mp_actions=mp_actions,
        return_bill=return_bill,
        complete_message=complaint.channel in COMPLETE_WITH_MESSAGE,
    )


MP_ACTION_ORDER = ("respond", "supply_proof", "supply_refund", "appeal")


def _mini_program(ctx: AppContext, session: Session, complaint: Complaint) -> tuple[list[str], str | None]:
    """The Mini Program actions allowed now and the return waybill, for a Mini Program complaint."""
    if complaint.channel != "miniprogram":
        return [], None
    facts = outbox_service.facts_for(complaint, session)
    channel: Any = channel_for(ctx, session, complaint)  # the Mini Program channel's own two questions
    allowed = channel.allowed_mp_actions(facts)
    return [a for a in MP_ACTION_ORDER if a in allowed], channel.return_bill_id(facts)


def _failure(channel: str, raw: dict[str, Any]) -> str:
    """A failed action's error in the UI's language (empty when it did not fail)."""
    code, message = str(raw.get("error_code", "") or ""), str(raw.get("error_message", "") or "")
    return error_text.failure_text(channel, code, message) if code or message else ""


def _fill(template: str, **values: object) -> Markup:
    """A translated template with its values escaped (Markup values kept as they are)."""
    return escape(template) % values


def _data(value: object) -> Markup:
    return Markup('<span translate="no">{}</span>').format(value)


def system_body(kind: str, raw: dict[str, Any]) -> Markup | None:
    """The text of an entry we wrote (SLA, assignment, tags) in the UI's language; None: show its text."""
    if kind in ("sla_breach", "sla_warning"):
        deadline = core_labels.label(core_labels.DEADLINES, raw.get("deadline", ""))
        try:
            due = local_time(datetime.fromisoformat(str(raw.get("due_at", ""))))
        except ValueError:
            return None
        if kind == "sla_breach":
            return _fill(_("%(deadline)s overdue (due %(due)s)"), deadline=deadline, due=_data(due))
        return _fill(_("%(deadline)s due soon (due %(due)s)"), deadline=deadline, due=_data(due))
    if kind == "assigned":
        return _fill(_("Assigned to %(name)s"), name=_data(raw.get("to_username") or ""))
    if kind == "unassigned":
        return Markup("")
    if kind == "tagged":
        parts = [f"+{n}" for n in raw.get("added", [])] + [f"-{n}" for n in raw.get("removed", [])]
        return _data(" ".join(parts))
    return None
