"""Labels of complaintdesk's own codes (statuses, actions, audit events, SLA, roles…) in the UI's language.

Each table maps a code to an English msgid translated through the catalogs (``locale/*/messages.po``). Every
label function is total: an unknown code gets a translated generic label with the code shown as data
(``<code translate="no">``), never the bare code. ``tests/web/test_code_labels.py`` walks these tables and the
enums they cover, and fails naming any code without a label in both catalogs.

To label a new code: add ``code: "English label"`` to its table below, then the msgid with its translation to
``locale/zh_CN/LC_MESSAGES/messages.po`` and ``locale/en/LC_MESSAGES/messages.po``.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from complaintdesk.web.console import i18n

#: The unified status of a complaint (channels.base.UnifiedStatus).
STATUSES = {
    "open": "Awaiting reply",
    "responded": "Responded",
    "in_platform": "Platform mediating",
    "resolved": "Resolved",
    "closed": "Closed",
    "unknown": "Unknown status",
}
#: Our action kinds (channels.base.ActionKind).
ACTIONS = {
    "reply": "Reply",
    "immediate_reply": "Immediate-service reply",
    "complete": "Mark as complete",
    "refund_approve": "Approve refund",
    "refund_reject": "Reject refund",
}
#: Outbox states (core.outbox.models.ActionStatus).
STATES = {
    "pending": "waiting to be sent",
    "sending": "sending",
    "uncertain": "outcome unknown, checking",
    "sent": "sent",
    "failed": "failed",
}
#: Audit events (core.audit.service.AuditAction).
AUDIT_ACTIONS = {
    "login": "Signed in",
    "login_failed": "Sign-in failed",
    "logout": "Signed out",
    "logout_everywhere": "Signed out everywhere",
    "user_locked": "User locked",
    "address_locked": "Address locked",
    "password_changed": "Password changed",
    "password_reset": "Password reset",
    "role_changed": "Role changed",
    "scope_changed": "Scope changed",
    "user_created": "User created",
    "user_activated": "User activated",
    "user_deactivated": "User deactivated",
    "credential_changed": "Credentials changed",
    "settings_changed": "Settings changed",
    "token_created": "API token created",
    "token_revoked": "API token revoked",
    "phone_revealed": "Phone number revealed",
    "complaint_denied": "Complaint access denied",
    "template_created": "Template added",
    "template_changed": "Template changed",
    "template_deleted": "Template deleted",
    "tag_created": "Tag created",
    "tag_changed": "Tag changed",
    "tag_deleted": "Tag deleted",
    "complaint_tagged": "Complaint tags changed",
    "account_added": "Merchant account added",
    "account_changed": "Merchant account changed",
    "account_enabled": "Merchant account enabled",
    "account_disabled": "Merchant account disabled",
    "export": "Export",
    "action_requested": "Action requested",
    "complaint_assigned": "Complaint assigned",
    "note_added": "Note added",
}
#: What an audit event is about (its ``target_type``).
AUDIT_TARGETS = {
    "complaint": "Complaint",
    "user": "User",
    "token": "API token",
    "template": "Template",
    "account": "Merchant account",
    "audit": "Audit log",
    "settings": "Settings",
    "tag": "Tag",
    "address": "Address",
}
#: Keys of audit event details.
AUDIT_KEYS = {
    "action_id": "Action",
    "kind": "Kind",
    "summary": "Summary",
    "role": "Role",
    "status": "Status",
    "rows": "Rows",
    "from": "From",
    "to": "To",
    "account_ids": "Merchant accounts",
    "all_accounts": "All merchant accounts",
    "reason": "Reason",
    "name": "Name",
    "username": "User",
    "added": "Added",
    "removed": "Removed",
    "accounts": "Merchant accounts",
    "language": "Language",
    "can_write": "Can write",
}
#: User roles (core.users.permissions.Role).
ROLES = {"admin": "Administrator", "agent": "Agent", "viewer": "Viewer"}
#: SLA deadlines (core.sla.rules.DeadlineKind).
DEADLINES = {
    "first_reply": "First reply",
    "finish": "Handling finished",
    "status": "Current status",
    "appeal": "Appeal",
}
#: SLA states (core.sla.rules.SlaState).
SLA_STATES = {"ok": "On time", "warning": "Due soon", "breached": "Breached"}
#: Timeline entries we write ourselves (source ``system`` and ``note``).
SYSTEM_KINDS = {
    "sla_breach": "SLA breached",
    "sla_warning": "SLA due soon",
    "assigned": "Assigned",
    "unassigned": "Unassigned",
    "tagged": "Tags changed",
    "note": "Internal note",
}
#: Who wrote a timeline entry.
ACTORS = {
    "user": "User",
    "merchant": "Merchant",
    "platform": "Platform",
    "system": "System",
    "operator": "Operator",
}
#: Alert events (core.alerts.events.EventKind).
ALERT_EVENTS = {
    "new_complaint": "New complaint",
    "consumer_message": "Message from the user",
    "sla_warning": "SLA due soon",
    "sla_breach": "SLA breached",
    "platform_mediating": "Platform mediating",
    "evidence_requested": "Evidence requested",
    "action_failed": "Action failed",
    "assigned": "Assigned to you",
    "mention": "Mentioned",
    "sync_unannounced": "Found by sync, never announced",
    "signatures_refused": "Signatures refused",
    "complaint_updated": "Complaint updated (endpoints)",
    "action_sent": "Action sent (endpoints)",
}
#: Every table by name (for the catalog test and the docs).
TABLES: dict[str, dict[str, str]] = {
    "status": STATUSES,
    "action": ACTIONS,
    "state": STATES,
    "audit": AUDIT_ACTIONS,
    "audit_target": AUDIT_TARGETS,
    "audit_key": AUDIT_KEYS,
    "role": ROLES,
    "deadline": DEADLINES,
    "sla_state": SLA_STATES,
    "system": SYSTEM_KINDS,
    "actor": ACTORS,
    "alert_event": ALERT_EVENTS,
}


def unknown(code: object) -> Markup:
    """The generic label of a code we do not know, with the code itself shown as data."""
    return Markup('{} <code translate="no">{}</code>').format(i18n.gettext("Unrecognised value"), str(code))


def label(table: dict[str, str], code: object) -> Markup:
    """The label of ``code`` in ``table`` in the current language (total: see :func:`unknown`)."""
    msgid = table.get(str(code))
    return escape(i18n.gettext(msgid)) if msgid else unknown(code)


def text(table: dict[str, str], code: object) -> str:
    """Like :func:`label`, as plain text for attributes (an unknown code: the generic label alone)."""
    msgid = table.get(str(code))
    return i18n.gettext(msgid) if msgid else i18n.gettext("Unrecognised value")


def status_label(status: str) -> Markup:
    """The unified status in the current language."""
    return label(STATUSES, status)


def action_label(kind: str) -> Markup:
    """Our action kinds in the current language."""
    return label(ACTIONS, kind)


def state_label(state: str) -> Markup:
    """An outbox state in the current language."""
    return label(STATES, state)


def audit_label(action: str) -> Markup:
    """An audit event's name in the current language."""
    return label(AUDIT_ACTIONS, action)


def role_label(role: object) -> Markup:
    """A role in the current language."""
    return label(ROLES, getattr(role, "value", role))


def audit_target(target_type: str, target_id: object) -> Markup:
    """What an audit event is about: the kind translated, the id as data."""
    if not target_type:
        return Markup('<span translate="no">{}</span>').format(target_id or "")
    return Markup('{} <span translate="no">{}</span>').format(
        label(AUDIT_TARGETS, target_type), target_id or ""
    )


def _value(key: str, value: Any) -> Markup:
    """One detail value: known codes labelled, everything else shown as data."""
    tables = {"kind": ACTIONS, "role": ROLES, "status": STATES}
    if isinstance(value, bool):
        return escape(i18n.gettext("yes") if value else i18n.gettext("no"))
    if value is None:
        return Markup("—")
    if key in tables and isinstance(value, str) and value in tables[key]:
        return label(tables[key], value)
    if isinstance(value, list):
        return Markup('<span translate="no">{}</span>').format(", ".join(str(v) for v in value))
    return Markup('<span translate="no">{}</span>').format(value)


def audit_details(details: dict[str, Any] | None) -> Markup:
    """An audit event's details as ``label: value`` pairs in the current language."""
    parts = [
        Markup("{}: {}").format(label(AUDIT_KEYS, key), _value(key, value))
        for key, value in (details or {}).items()
    ]
    return Markup("; ").join(parts)
