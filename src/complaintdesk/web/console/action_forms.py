"""The composer's forms: what each action's form sends, and the Mini Program's platform actions."""

from __future__ import annotations

from typing import Any

from complaintdesk.channels.base import ActionKind
from complaintdesk.errors import ActionRefused
from complaintdesk.web.console.deps import form_text
from complaintdesk.web.console.i18n import gettext as _

#: Channels whose "mark as complete" carries a message to the user (Huishouqian's
#: ``COMPLAINT_COMMIT_COMPLETE`` takes ``responseContent``); their form asks for it.
COMPLETE_WITH_MESSAGE = frozenset({"huishouqian"})


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
    if kind == ActionKind.COMPLETE:
        return {"content": text} if "content" in form else {}
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
            out[name] = value == "1"  # a bool: the channel reads agree False as "refuse" (2), never as 0
    return_id = form_text(form, "return_id", 64)
    if return_id:
        out["return_id"] = return_id
    return out


def check(kind: ActionKind, channel: str, params: dict[str, Any], *, max_chars: int) -> None:
    """The form's own checks, said in the operator's language next to the field (the channel checks again).

    Raises ``ActionRefused`` with the field to mark: a Mini Program respond without agree/refuse, a
    refusal without its reason, a completion without the message its channel sends, a text over the limit.
    """
    text = str(params.get("content") or "")
    if len(text) > max_chars and kind in (ActionKind.REPLY, ActionKind.COMPLETE):
        raise ActionRefused(
            _("The text has %(count)d characters; at most %(n)d.", count=len(text), n=max_chars),
            field="content",
            translated=True,
        )
    if kind == ActionKind.REPLY and params.get("mp_action") == "respond":
        if "agree" not in params:
            raise ActionRefused(
                _("Choose whether you agree to settle or refuse."), field="agree", translated=True
            )
        if params["agree"] is False and not text:
            raise ActionRefused(
                _("A refusal needs its reason: write it here."), field="content", translated=True
            )
    if kind == ActionKind.COMPLETE and channel in COMPLETE_WITH_MESSAGE and not text:
        raise ActionRefused(
            _("Write the message the user receives with the completion."), field="content", translated=True
        )
