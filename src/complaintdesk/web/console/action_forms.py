"""The composer's forms: what each action's form sends, and the Mini Program's platform actions."""

from __future__ import annotations

from typing import Any

from complaintdesk.channels.base import ActionKind
from complaintdesk.web.console.deps import form_text
from complaintdesk.web.console.i18n import gettext as _


def mp_action_labels() -> dict[str, str]:
    """The Mini Program's platform actions in the current language."""
    return {
        "respond": _("Respond to the user (settle or refuse)"),
        "supply_proof": _("Supply proof to the platform"),
        "supply_refund": _("Supply refund or return proof"),
        "appeal": _("Appeal the platform's ruling"),
    }


def params_for(kind: ActionKind, form: Any) -> dict[str, Any]:
    images = [v for v in form.getlist("images") if isinstance(v, str) and v][:9]
    content = form.get("content")
    text = content.strip() if isinstance(content, str) else ""
    if kind == ActionKind.REPLY:
        return {"content": text, **({"images": images} if images else {}), **_mini_program_params(form)}
    if kind == ActionKind.IMMEDIATE_REPLY:
        return {"blocks": [{"type": "TEXT", "text": {"text": text}}] if text else []}
    if kind == ActionKind.REFUND_APPROVE:
        params: dict[str, Any] = {}
        day = form_text(form, "launch_refund_day", 4)
        if day:
            params["launch_refund_day"] = int(day) if day.isdigit() else day
        remark = form_text(form, "remark", 500)
        return {**params, **({"remark": remark} if remark else {})}
    if kind == ActionKind.REFUND_REJECT:
        remark = form_text(form, "remark", 500)
        return {
            "reject_reason": form_text(form, "reject_reason", 500),
            **({"reject_media": images} if images else {}),
            **({"remark": remark} if remark else {}),
        }
    return {}


#: Fields a refused form shows again as the operator typed them.
KEPT_FIELDS = (
    *("content", "reject_reason", "remark", "launch_refund_day"),
    *("mp_action", "agree", "accept_return"),
)


def _mini_program_params(form: Any) -> dict[str, Any]:
    """The Mini Program's fields of a reply form (absent on other channels' forms)."""
    out: dict[str, Any] = {}
    action = form_text(form, "mp_action", 32)
    if action:
        out["mp_action"] = action
    for name in ("agree", "accept_return"):
        value = form_text(form, name, 4)
        if value in ("0", "1"):
            out[name] = int(value)
    return_id = form_text(form, "return_id", 64)
    if return_id:
        out["return_id"] = return_id
    return out
