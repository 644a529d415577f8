"""Audit event details as people read them: each key and known value in the console's language."""

from __future__ import annotations

import json
from typing import Any

from complaintdesk.web.console import core_labels, i18n, labels
from complaintdesk.web.console.core_labels import action_label, audit_label


def _keys() -> dict[str, str]:
    _ = i18n.gettext
    return {
        "rows": _("Rows"),
        "path": _("Page"),
        "reason": _("Reason"),
        "minutes": _("Minutes"),
        "role": _("Role"),
        "all_accounts": _("All merchant accounts"),
        "account_ids": _("Merchant account ids"),
        "accounts": _("Merchant accounts"),
        "from": _("Before"),
        "to": _("After"),
        "name": _("Name"),
        "name_before": _("Name before"),
        "changed": _("Changed"),
        "action_id": _("Action id"),
        "kind": _("Kind"),
        "summary": _("Summary"),
        "remark": _("Remark"),
        "complaint_ids": _("Complaints"),
        "permission": _("Permission"),
        "entry": _("Timeline entry"),
        "channel": _("Channel"),
        "external_id": _("Complaint number"),
        "attempted": _("Attempted"),
        "can_write": _("May request actions"),
        "added": _("Added"),
        "removed": _("Removed"),
        "filters": _("Filters"),
    }


def _values() -> dict[str, str]:
    _ = i18n.gettext
    return {
        "admin": _("Administrator"),
        "agent": _("Agent"),
        "viewer": _("Viewer"),
        "invalid": _("wrong user name or password"),
        "locked": _("locked"),
        "inactive": _("deactivated"),
        "text": _("Text"),
        "merchant": _("Merchant"),
        "service_provider": _("Service provider"),
        "sub_merchant": _("Sub-merchant"),
    }


def target_label(target_type: str) -> str:
    """What kind of thing an event concerns, in the current language."""
    _ = i18n.gettext
    names = {
        "complaint": _("Complaint"),
        "user": _("User"),
        "token": _("API token"),
        "template": _("Template"),
        "tag": _("Tag"),
        "merchant_account": _("Merchant account"),
        "audit": _("Audit log"),
    }
    known = names.get(target_type)
    return known if known is not None else core_labels.label(core_labels.AUDIT_TARGETS, target_type)


def key_label(key: str) -> str:
    """A details key in the current language (the key itself when unknown)."""
    known = _keys().get(key)
    return known if known is not None else core_labels.label(core_labels.AUDIT_KEYS, key)


def value_text(action: str, key: str, value: Any) -> str:
    """A details value in the current language: yes/no, action kinds, channels, roles, lists."""
    if isinstance(value, bool):
        return i18n.gettext("Yes") if value else i18n.gettext("No")
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(value_text(action, key, v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key_label(k)}: {value_text(action, k, v)}" for k, v in value.items())
    text = str(value)
    if key == "kind" and action == "action_requested":
        return action_label(text)
    if key == "channel":
        return labels.channel_label(text)
    if key == "attempted":
        return audit_label(text)
    if key == "changed":
        return key_label(text) if text != "text" else _values()["text"]
    return _values().get(text, text)


def details_rows(action: str, details: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, text) pairs for an event's details, in their stored order."""
    return [(key_label(k), value_text(action, k, v)) for k, v in (details or {}).items()]


def details_json(details: dict[str, Any] | None) -> str:
    """The details as compact JSON (for the CSV export)."""
    return json.dumps(details or {}, ensure_ascii=False, sort_keys=True)
