"""Pure rules for merchant actions on Mini Program complaints: status guard, parameters, history check.

The four upstream actions travel as ``ActionKind.REPLY`` with ``params["mp_action"]``:

* ``respond`` → ``bussiRespondComplaint``: ``agree`` (1 agree to settle / 2 refuse; ``true``/``false`` too);
* ``supply_proof`` → ``bussiSupplyProof``;
* ``supply_refund`` → ``bussiSupplyRefund``; in the return flow (the detail has a ``returnBill``) also
  ``accept_return`` (did you receive the returned goods: true/false) and ``return_id`` (defaults to the
  bill's ``returnId``); outside it both are refused;
* ``appeal`` → ``busiAppeal``.

Each takes ``content`` (text) and/or ``images`` (local image references: the archive's SHA-256) — at least
one of them. Which status allows which action is the spec's *inference* (A.4, ASSUMPTION): it lives only in
:data:`STATUS_ACTIONS`, :data:`RETURN_FLOW_STATUSES` and :data:`APPEAL_OPEN_STATES`; the mapping derives
its needs-action list from :func:`allowed_mp_actions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from complaintdesk.channels.base import ActionKind, ActionRequest, ComplaintFacts, HistoryEntry
from complaintdesk.channels.common.text import refuse
from complaintdesk.channels.miniprogram.enums import APPEAL_STATES, STATUSES, label
from complaintdesk.channels.miniprogram.messages import as_int
from complaintdesk.errors import ActionRefused

__all__ = [
    "ACTION_LABELS",
    "APPEAL_OPEN_STATES",
    "APPLIED_WINDOW",
    "MP_ACTIONS",
    "RETURN_FLOW_STATUSES",
    "STATUS_ACTIONS",
    "Limits",
    "allowed_actions",
    "allowed_mp_actions",
    "appeal_state",
    "applied_in_history",
    "explain_refusal",
    "image_refs",
    "return_bill_id",
    "validate",
    "validate_params",
]

MP_ACTIONS = ("respond", "supply_proof", "supply_refund", "appeal")
ACTION_LABELS = {
    "respond": "respond (回应)",
    "supply_proof": "supply evidence (补充凭证)",
    "supply_refund": "submit processing/refund proof (处理凭证)",
    "appeal": "appeal (申诉)",
}
#: Status → actions it allows [ASSUMPTION, spec A.4]. 308/309 allow supply_refund only with a returnBill.
STATUS_ACTIONS: dict[int, frozenset[str]] = {
    201: frozenset({"respond"}),
    106: frozenset({"supply_proof"}),
    108: frozenset({"supply_proof"}),
    206: frozenset({"supply_refund"}),
    308: frozenset({"supply_refund"}),
    309: frozenset({"supply_refund"}),
}
#: Statuses where the user returns the goods first: proof only once the return waybill exists.
RETURN_FLOW_STATUSES = frozenset({308, 309})
#: ``appealState`` values in which an appeal may be sent (401: waiting for the merchant's appeal, 72 h).
APPEAL_OPEN_STATES = frozenset({401})
#: How far before ``requested_at`` a history node may lie and still count as our action (clock skew).
APPLIED_WINDOW = timedelta(minutes=5)
_COMMON_KEYS = ("mp_action", "content", "images")
_EXTRA_KEYS = {
    "respond": ("agree",),
    "supply_refund": ("accept_return", "return_id"),
    "supply_proof": (),
    "appeal": (),
}
_MAX_REF = 128
#: ``item`` types that record each action; an appeal shows as ``appealItemType`` 403 (or its outcome).
_APPLIED_ITEM_TYPES = {
    "respond": frozenset({"109", "3"}),
    "supply_proof": frozenset({"8"}),
    "supply_refund": frozenset({"110"}),
}
_APPEALED = frozenset({403, 117, 118})


@dataclass(frozen=True)
class Limits:
    """Parameter limits (``MiniProgramSettings``: none of them is published by WeChat)."""

    content_max_chars: int = 1000
    max_images: int = 9


_refuse = refuse


# -- facts ------------------------------------------------------------------------------------------------


def appeal_state(raw: Mapping[str, Any]) -> int | None:
    """``complaintOrder.appealState`` from a stored detail."""
    order = raw.get("complaintOrder")
    return as_int(order.get("appealState")) if isinstance(order, Mapping) else None


def return_bill_id(raw: Mapping[str, Any]) -> str | None:
    """``returnBill.returnId`` from a stored detail (None outside the return flow)."""
    bill = raw.get("returnBill")
    value = bill.get("returnId") if isinstance(bill, Mapping) else None
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return text if text.isascii() and text.isdigit() and int(text) > 0 else None


def allowed_mp_actions(facts: ComplaintFacts) -> set[str]:
    """The ``mp_action`` values the complaint's status (and appeal state) allow now."""
    status = as_int(facts.raw_status)
    allowed = set(STATUS_ACTIONS.get(status, frozenset())) if status is not None else set()
    if status in RETURN_FLOW_STATUSES and return_bill_id(facts.raw) is None:
        allowed.discard("supply_refund")
    if appeal_state(facts.raw) in APPEAL_OPEN_STATES:
        allowed.add("appeal")
    return allowed


def allowed_actions(facts: ComplaintFacts) -> set[ActionKind]:
    """``{REPLY}`` when any Mini Program action is allowed, else nothing."""
    return {ActionKind.REPLY} if allowed_mp_actions(facts) else set()


def _status_text(raw_status: str) -> str:
    text = label(STATUSES, raw_status)
    return f"{text} ({raw_status})" if text != raw_status else repr(raw_status[:40])


def explain_refusal(mp_action: str, facts: ComplaintFacts) -> str:
    """Say, for an operator, why ``mp_action`` is not allowed now and what is."""
    status = as_int(facts.raw_status)
    state = appeal_state(facts.raw)
    if mp_action == "appeal":
        shown = label(APPEAL_STATES, state) if state is not None else "none"
        reason = (
            f"an appeal is only possible while the platform waits for it (appeal state 401); it is {shown}"
        )
    elif status is None or status not in STATUSES:
        reason = (
            f"the status {facts.raw_status[:40]!r} is not one we know, "
            "so nothing is sent until it is understood"
        )
    elif mp_action == "supply_refund" and status in RETURN_FLOW_STATUSES:
        reason = "the user has not returned the goods yet (no return waybill): proof follows the return"
    else:
        needed = sorted(str(code) for code, actions in STATUS_ACTIONS.items() if mp_action in actions)
        reason = f"it is only possible in status {', '.join(needed)}"
    allowed = sorted(ACTION_LABELS[name] for name in allowed_mp_actions(facts))
    return (
        f"cannot {ACTION_LABELS.get(mp_action, mp_action)}: {reason}. Complaint status: "
        f"{_status_text(facts.raw_status)}. Allowed now: {', '.join(allowed) or 'nothing'}"
    )


# -- parameters -------------------------------------------------------------------------------------------


def _content(value: Any, limits: Limits) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        _refuse(f"content must be text, not {type(value).__name__}", "content")
    text = value.strip()
    if len(text) > limits.content_max_chars:
        _refuse(f"content is {len(text)} characters; we send at most {limits.content_max_chars}", "content")
    return text


def _images(value: Any, limits: Limits) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        _refuse("images must be a list of image references", "images")
    refs: list[str] = []
    for index, item in enumerate(value):
        ref = item.strip() if isinstance(item, str) else ""
        if not ref or len(ref) > _MAX_REF or any(char.isspace() for char in ref):
            _refuse(f"images: item {index + 1} is not an image reference", f"images[{index}]")
        if ref not in refs:
            refs.append(ref)
    if len(refs) > limits.max_images:
        _refuse(f"{len(refs)} images attached; we send at most {limits.max_images}", "images")
    return refs


def _agree(value: Any) -> int:
    if isinstance(value, bool):
        return 1 if value else 2
    if isinstance(value, int) and value in (1, 2):
        return value
    _refuse("agree is required: 1 (agree to settle, 同意和解) or 2 (refuse, 拒绝和解)", "agree")


def validate_params(
    kind: ActionKind, params: Mapping[str, Any], *, limits: Limits | None = None
) -> dict[str, Any]:
    """Check and normalise parameters without the status guard (normalising twice changes nothing)."""
    limits = limits or Limits()
    if kind is not ActionKind.REPLY:
        _refuse(
            f"the Mini Program has no {str(kind)[:40]!r} action: send a reply with mp_action "
            f"{', '.join(MP_ACTIONS)}",
            "kind",
        )
    if not isinstance(params, Mapping):
        _refuse("parameters must be an object", "")
    action = params.get("mp_action")
    if action is None:
        _refuse(f"mp_action is required: one of {', '.join(MP_ACTIONS)}", "mp_action")
    if action not in MP_ACTIONS:
        _refuse(f"mp_action must be one of {', '.join(MP_ACTIONS)}, got {str(action)[:40]!r}", "mp_action")
    allowed = (*_COMMON_KEYS, *_EXTRA_KEYS[action])
    unknown = sorted(str(key) for key in params if key not in allowed)
    if unknown:
        _refuse(
            f"{action} does not take {', '.join(unknown)}; it takes {', '.join(sorted(allowed))}", unknown[0]
        )
    out: dict[str, Any] = {
        "mp_action": action,
        "content": _content(params.get("content"), limits),
        "images": _images(params.get("images"), limits),
    }
    if not out["content"] and not out["images"]:
        _refuse("give a text (content), images, or both: WeChat needs at least one of them", "content")
    if action == "respond":
        out["agree"] = _agree(params.get("agree"))
    if action == "supply_refund":
        accept = params.get("accept_return")
        if accept is not None:
            if accept not in (True, False, 0, 1):
                _refuse("accept_return must be true (goods received) or false", "accept_return")
            out["accept_return"] = bool(accept)
        return_id = params.get("return_id")
        if return_id is not None:
            text = str(return_id).strip() if not isinstance(return_id, bool) else ""
            if not (text.isascii() and text.isdigit() and int(text) > 0):
                _refuse("return_id must be the returnBill's numeric returnId", "return_id")
            out["return_id"] = text
    return out


def _return_flow(out: dict[str, Any], facts: ComplaintFacts) -> None:
    """Require (and default) the return-flow fields when there is a returnBill; refuse them otherwise."""
    bill_id = return_bill_id(facts.raw)
    if bill_id is None:
        for key in ("accept_return", "return_id"):
            if key in out:
                _refuse(
                    f"{key} only goes with a complaint in the return flow; this one has no return waybill",
                    key,
                )
        return
    if "accept_return" not in out:
        _refuse(
            "accept_return is required in the return flow: say whether you received the returned goods",
            "accept_return",
        )
    given = out.setdefault("return_id", bill_id)
    if given != bill_id:
        _refuse(f"return_id {given} does not match the complaint's return waybill ({bill_id})", "return_id")


def validate(
    kind: ActionKind, params: Mapping[str, Any], facts: ComplaintFacts, *, limits: Limits | None = None
) -> dict[str, Any]:
    """The status guard, then the parameters (and return-flow fields); return them normalised."""
    out = validate_params(kind, params, limits=limits)
    if out["mp_action"] not in allowed_mp_actions(facts):
        raise ActionRefused(explain_refusal(out["mp_action"], facts), field="status")
    if out["mp_action"] == "supply_refund":
        _return_flow(out, facts)
    return out


def image_refs(kind: ActionKind, params: Mapping[str, Any]) -> list[str]:
    """Local image references that must be uploaded before the action is sent."""
    return list(params.get("images") or []) if kind is ActionKind.REPLY else []


# -- history ----------------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _same_text(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def applied_in_history(request: ActionRequest, history: list[HistoryEntry]) -> bool:
    """Whether the ``item`` timeline shows ``request`` applied (used after an uncertain send).

    A matching node lies after ``requested_at`` − 5 min and has the action's ``itemType`` (respond: 109/3,
    evidence: 8, proof: 110) with the same text when the node carries text; an appeal shows as a node
    whose ``appealItemType`` is 403 (in progress) or an outcome (117/118).
    """
    action = request.params.get("mp_action")
    since = _aware(request.requested_at) - APPLIED_WINDOW
    recent = [entry for entry in history if _aware(entry.occurred_at) >= since]
    if action == "appeal":
        return any(as_int(entry.raw.get("appealItemType")) in _APPEALED for entry in recent)
    kinds = _APPLIED_ITEM_TYPES.get(str(action))
    if kinds is None:
        return False
    content = str(request.params.get("content") or "")
    return any(
        entry.kind in kinds and (not content or not entry.text.strip() or _same_text(entry.text, content))
        for entry in recent
    )
