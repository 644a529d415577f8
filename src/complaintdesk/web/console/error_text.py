"""Core and upstream errors as the console shows them, in the UI's language.

The core raises English messages (``errors.py``); an upstream answers with its own code. In English the
console shows the core's message as it is; in zh-CN never: the message becomes a translated sentence chosen
by the error's class, the field it names and, for an upstream refusal, the upstream's code (labelled from
``code_tables``, the code itself shown as data). A few frequent messages have an exact translation.

To translate a new message exactly: add ``(pattern, msgid)`` to ``_PATTERNS`` (named groups fill the msgid's
``%(name)s``) and the msgid to both catalogs.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from complaintdesk import errors
from complaintdesk.web.console import code_tables
from complaintdesk.web.console.i18n import current_language
from complaintdesk.web.console.i18n import gettext as _

#: Fields an error may name → their label msgid.
FIELDS = {
    "content": "Reply text",
    "text": "Text",
    "images": "Images",
    "image": "Image",
    "file": "File",
    "mp_action": "Platform action",
    "agree": "Settle with the user?",
    "accept_return": "Returned goods received?",
    "return_id": "Return waybill",
    "status": "Complaint status",
    "reject_reason": "Reason",
    "remark": "Remark",
    "launch_refund_day": "Working days until the refund starts",
    "password": "Password",
    "old_password": "Current password",
    "username": "User name",
    "name": "Name",
    "body": "Template text",
    "accounts": "Merchant accounts",
    "assignee": "Assignee",
    "tag": "Tag",
    "tags": "Tags",
    "note": "Note",
    "role": "Role",
    "language": "Language",
    "kind": "Action",
    "seen_version": "Conversation version",
}
#: Exact translations of frequent messages: (pattern, msgid with the pattern's named groups).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), msgid)
    for pattern, msgid in (
        (r"mp_action is required", "Choose a platform action."),
        (
            r"is (?P<len>\d+) characters; .*?at most (?P<n>\d+)",
            "%(field)s is %(len)s characters long: at most %(n)s are accepted.",
        ),
        (
            r"contains .+ at character (?P<pos>\d+)",
            "%(field)s contains a character that is not accepted (such as an emoji) at position %(pos)s.",
        ),
        (
            r"is (?P<size>[\d.]+) MB[^;]*; .*?at most (?P<n>[\d.]+) MB",
            "The file is %(size)s MB: at most %(n)s MB is accepted.",
        ),
        (r"the file is empty", "The file is empty."),
        (
            r"is a (?P<kind>\w+) image; .*?(?P<types>(JPG|PNG)[A-Za-z, ]*?(BMP|GIF))",
            "The file is a %(kind)s image: only %(types)s are accepted.",
        ),
        (
            r"is not (an|a recognisable) image; .*?(?P<types>(JPG|PNG)[A-Za-z, ]*?(BMP|GIF))",
            "The file is not an image: only %(types)s are accepted.",
        ),
        (
            r"may not read attributes or items .*variables: (?P<names>.+)$",
            "Templates may not read attributes or items (x.y, x[0]); use one of the variables: %(names)s",
        ),
        (
            r"unknown variable '(?P<name>[^']+)'; the variables are: (?P<names>.+)$",
            "Unknown variable %(name)s; the variables are: %(names)s",
        ),
        (
            r"filter '(?P<name>[^']+)' is not allowed; use one of: (?P<names>.+)$",
            "Filter %(name)s is not allowed; use one of: %(names)s",
        ),
        (r"template syntax error on line (?P<line>\d+)", "Template syntax error on line %(line)s."),
        (
            r"secret reference is empty",
            "This account's credentials are incomplete: an administrator must set them up.",
        ),
        (
            r"same decision is already being sent",
            "The same decision is already being sent for this complaint.",
        ),
        (
            r"image (?P<image>\w+)… is not in this merchant's archive",
            "Image %(image)s is not in this merchant's archive: upload it first.",
        ),
        # generic ones last: the first match wins
        (r"at most (?P<n>\d+) characters", "%(field)s is too long: at most %(n)s characters."),
        (r"at least (?P<n>\d+) characters", "%(field)s is too short: at least %(n)s characters."),
        (r"at most (?P<n>\d+) images", "Too many images: at most %(n)s."),
        (r"is required|is empty|needs (a|some)", "%(field)s is required."),
    )
)
#: Error classes → what to say when no pattern matches (the first class the error is an instance of wins).
_BY_CLASS: tuple[tuple[type[errors.ComplaintDeskError], str], ...] = (
    (errors.ConversationMoved, "A reply or a message from the user arrived since you opened this complaint."),
    (
        errors.ConfigError,
        "This account's settings or credentials are unusable: an administrator must fix them.",
    ),
    (errors.WriteFailed, "Saving failed: nothing was changed. Try again."),
    (errors.ChannelTransportError, "The upstream could not be reached. It will be tried again."),
    (errors.RateLimited, "The upstream asks us to slow down. It will be tried again."),
    (errors.AuthFailed, "The upstream refused our credentials: an administrator must check this account."),
    (errors.UpstreamNotFound, "The upstream does not know this complaint or resource."),
    (errors.UpstreamUnavailable, "The upstream is unavailable. It will be tried again."),
    (errors.ChannelError, "The upstream refused the request."),
    (errors.StorageError, "The evidence store failed. Try again later."),
    (errors.MediaMissing, "The image is no longer in the evidence store."),
    (errors.NotFound, "Not found."),
    (errors.AlreadyExists, "That already exists."),
    (errors.Forbidden, "You are not allowed to do this."),
    (errors.LeaseLost, "Another worker took over this task."),
    (errors.IllegalTransition, "The complaint's status does not allow this."),
    (errors.ActionRefused, "%(field)s was not accepted."),
    (errors.ComplaintDeskError, "Something went wrong."),
)
_CLASSES = {cls.__name__: cls for cls, _msgid in _BY_CLASS}
_GAVE_UP = re.compile(r"^gave up after (?P<n>\d+) attempts: (?P<rest>.*)$", re.S)


def field_label(field: str) -> str:
    """A field's name in the current language."""
    msgid = FIELDS.get(field)
    return _(msgid) if msgid else _("This field")


def _data(value: str) -> Markup:
    return Markup('<span translate="no">{}</span>').format(value)


def _exact(message: str, field: str) -> Markup | None:
    """The exact translation of a frequent message (the values it names shown as data), or None."""
    for pattern, msgid in _PATTERNS:
        found = pattern.search(message)
        if found:
            values = {k: _data(v) for k, v in found.groupdict().items() if v}
            return escape(_(msgid)) % {"field": field_label(field), **values}
    return None


def _translate(cls: type[errors.ComplaintDeskError], message: str, field: str) -> Markup:
    exact = _exact(message, field)
    if exact is not None:
        return exact
    if cls is errors.ActionRefused and field == "status":
        return escape(
            _("The complaint's current status does not allow this action. Refresh it to see what is allowed.")
        )
    for klass, msgid in _BY_CLASS:
        if issubclass(cls, klass):
            return escape(_(msgid)) % {"field": field_label(field)}
    return escape(_("Something went wrong."))


def _upstream(channel: str, code: str) -> Markup | None:
    found = code_tables.lookup(channel, "error", code)
    if found is None:
        return None
    text = found.en if current_language() == "en" else found.zh
    return Markup('{}: {} <code translate="no">{}</code>').format(_("The upstream refused"), text, code)


def message_for(exc: errors.ComplaintDeskError) -> Markup:
    """An error raised now, for the operator: the core's message in English, a translation in zh-CN."""
    if exc.context.get("translated"):  # raised by the console in the UI's language
        return escape(exc.public_message)
    code = str(getattr(exc, "code", "") or "")
    channel = str(getattr(exc, "channel", "") or "")
    if code and channel:
        upstream = _upstream(channel, code)
        if upstream is not None:
            return upstream
    field = str(getattr(exc, "field", "") or "")
    if current_language() == "en":
        return _exact(exc.public_message, field) or escape(exc.public_message)
    return _translate(type(exc), exc.public_message, field)


def plain_message_for(exc: errors.ComplaintDeskError) -> str:
    """:func:`message_for` as plain text (for flashes and JSON answers)."""
    return message_for(exc).striptags()


def failure_text(channel: str, code: str, message: str) -> Markup:
    """A failed action's stored error (code and message), for the timeline, in the UI's language."""
    prefix = Markup("")
    found = _GAVE_UP.match(message)
    if found:
        prefix = Markup("{} ").format(_("Gave up after %(n)s attempts:", n=found.group("n")))
        message = found.group("rest")
    upstream = _upstream(channel, code) if code else None
    if upstream is not None:
        return prefix + upstream
    cls = _CLASSES.get(code)
    if cls is None and code:  # an upstream code we have no label for
        return prefix + Markup('{} <code translate="no">{}</code>').format(
            _("The upstream refused the request."), code
        )
    if current_language() == "en" and message:
        return prefix + (_exact(message, "") or escape(message))
    return prefix + _translate(cls or errors.ComplaintDeskError, message, "")
