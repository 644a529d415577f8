"""Pure rules for merchant actions on WeChat Pay complaints: status guards, parameters, images, history.

Nothing here does IO. The outbox asks, in order:

* :func:`allowed_actions` — which actions the complaint's upstream state allows (spec §1.14);
* :func:`validate` — the status guard, then the parameters, normalised (spec §1.4–§1.7, §3.10);
* :func:`check_image` / :func:`upload_filename` — evidence images before upload (spec §1.8);
* :func:`applied_in_history` — after an uncertain send, whether the history shows the action applied.

Parameters per action (all text: only 1–3-byte UTF-8 characters; images are local references, i.e. the
archive's SHA-256, at most 4):

* ``reply``: ``content`` (≤ reply_max_chars), ``images``, ``jump_url`` + ``jump_url_text`` (both or neither,
  https ≤ 512 / ≤ 10 characters), ``mini_program_jump_info`` {appid, path, text};
* ``immediate_reply``: ``blocks`` (see :mod:`.rich_message`), ``sender_identity`` (default MANUAL),
  ``custom_data`` (≤ 4096);
* ``complete``: nothing;
* ``refund_approve``: ``launch_refund_day`` (working days until the refund starts, 0 = today; we accept
  0..30 — WeChat publishes no bound), ``remark`` (≤ 200);
* ``refund_reject``: ``reject_reason`` (required, ≤ 200), ``reject_media`` (images), ``remark`` (≤ 200).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from complaintdesk.channels.base import ActionKind, ActionRequest, ComplaintFacts, HistoryEntry
from complaintdesk.channels.wechatpay.fields import (
    MAX_IMAGES,
    check_keys,
    choice_field,
    https_url,
    image_refs_field,
    mapping_field,
    refuse,
    text_field,
)
from complaintdesk.channels.wechatpay.images import IMAGE_TYPES, MAX_IMAGE_BYTES, check_image, upload_filename
from complaintdesk.channels.wechatpay.mapping import PROBLEM_TYPE_LABELS, STATUS_LABELS
from complaintdesk.channels.wechatpay.rich_message import (
    MAX_CUSTOM_DATA,
    SENDER_IDENTITIES,
    message_image_refs,
    message_text,
    validate_blocks,
)
from complaintdesk.errors import ActionRefused

__all__ = [
    "ACTION_LABELS",
    "APPLIED_WINDOW",
    "DEFAULT_REPLY_MAX_CHARS",
    "IMAGE_TYPES",
    "MAX_IMAGES",
    "MAX_IMAGE_BYTES",
    "MAX_LAUNCH_REFUND_DAY",
    "allowed_actions",
    "applied_in_history",
    "check_image",
    "explain_refusal",
    "image_refs",
    "refund_decision",
    "upload_filename",
    "validate",
    "validate_params",
]

DEFAULT_REPLY_MAX_CHARS = 200
MAX_JUMP_URL = 512
MAX_JUMP_URL_TEXT = 10
MAX_REASON = 200
#: Our bound for ``launch_refund_day`` (WeChat documents none): a month of working days is plenty.
MAX_LAUNCH_REFUND_DAY = 30
#: How far before ``requested_at`` a history entry may lie and still count as our action (clock skew).
APPLIED_WINDOW = timedelta(minutes=5)

ACTION_LABELS = {
    ActionKind.REPLY: "reply",
    ActionKind.IMMEDIATE_REPLY: "immediate-service reply",
    ActionKind.COMPLETE: "mark as complete",
    ActionKind.REFUND_APPROVE: "approve the refund",
    ActionKind.REFUND_REJECT: "reject the refund",
}
_OPEN_STATES = ("PENDING", "PROCESSING")
_REFUND_KINDS = (ActionKind.REFUND_APPROVE, ActionKind.REFUND_REJECT)
#: History entries that record a refund decision; "RERUND" (sic) is how WeChat spells it.
_APPROVED = frozenset({"MERCHANT_APPROVE_REFUND"})
_REJECTED = frozenset({"MERCHANT_REFUSE_RERUND", "MERCHANT_REFUSE_REFUND", "MERCHANT_REJECT_REFUND"})
_APPLIED_KINDS: dict[ActionKind, frozenset[str]] = {
    ActionKind.REPLY: frozenset({"MERCHANT_RESPONSE"}),
    ActionKind.IMMEDIATE_REPLY: frozenset({"MERCHANT_RESPONSE"}),
    ActionKind.COMPLETE: frozenset({"MERCHANT_CONFIRM_COMPLETE"}),
    ActionKind.REFUND_APPROVE: _APPROVED,
    ActionKind.REFUND_REJECT: _REJECTED,
}


# -- status guard -----------------------------------------------------------------------------------------


def refund_decision(raw: Mapping[str, Any]) -> str | None:
    """Return "APPROVE"/"REJECT" when ``raw["history"]`` shows a refund decision, else None.

    The complaint detail has no decision field; when the caller puts the negotiation history in
    ``ComplaintFacts.raw["history"]`` (``HistoryEntry`` objects or dicts with ``kind``/``operate_type``),
    a sent decision closes the refund actions.
    """
    history = raw.get("history")
    decision = None
    for entry in history if isinstance(history, list) else ():
        if isinstance(entry, HistoryEntry):
            kind: Any = entry.kind
        elif isinstance(entry, Mapping):
            kind = entry.get("kind") or entry.get("operate_type")
        else:
            continue
        if kind in _APPROVED:
            decision = "APPROVE"
        elif kind in _REJECTED:
            decision = "REJECT"
    return decision


def allowed_actions(facts: ComplaintFacts) -> set[ActionKind]:
    """Which actions the complaint's current upstream state allows (unknown states allow nothing)."""
    if facts.raw_status not in _OPEN_STATES:
        return set()
    allowed = {ActionKind.REPLY, ActionKind.COMPLETE}
    if facts.immediate_service:
        allowed.add(ActionKind.IMMEDIATE_REPLY)
    if facts.problem_type == "REFUND" and not facts.fully_refunded and refund_decision(facts.raw) is None:
        allowed.update(_REFUND_KINDS)
    return allowed


def _status_text(raw_status: str) -> str:
    label = STATUS_LABELS.get(raw_status)
    return f"{label} ({raw_status})" if label else repr(raw_status[:40])


def explain_refusal(kind: ActionKind, facts: ComplaintFacts) -> str:
    """Say, for an operator, why ``kind`` is not allowed now and what is."""
    status = facts.raw_status
    if status not in STATUS_LABELS:
        reason = (
            f"the complaint status {status[:40]!r} is not one WeChat Pay documents "
            "(PENDING, PROCESSING, PROCESSED), so nothing is sent until it is understood"
        )
    elif status not in _OPEN_STATES:
        reason = f"the complaint is {_status_text(status)}: WeChat Pay takes no further action on it"
    elif kind is ActionKind.IMMEDIATE_REPLY:
        reason = "it is only for complaints that need immediate service (need_immediate_service); use a reply"
    elif kind in _REFUND_KINDS and facts.problem_type != "REFUND":
        problem = facts.problem_type or "none"
        label = PROBLEM_TYPE_LABELS.get(facts.problem_type, "")
        reason = (
            "it is only for refund complaints (problem type 申请退款 REFUND); "
            f"this one is {label + ' ' if label else ''}({problem})"
        )
    elif kind in _REFUND_KINDS and facts.fully_refunded:
        reason = "the complaint is already fully refunded"
    elif kind in _REFUND_KINDS:
        reason = f"the refund decision was already sent ({refund_decision(facts.raw)})"
    else:
        reason = "the complaint does not allow it"
    allowed = sorted(ACTION_LABELS[k] for k in allowed_actions(facts))
    return (
        f"cannot {ACTION_LABELS[kind]}: {reason}. Complaint status: {_status_text(status)}. "
        f"Allowed now: {', '.join(allowed) or 'nothing'}"
    )


# -- parameters -------------------------------------------------------------------------------------------


def _reply(params: Mapping[str, Any], max_chars: int) -> dict[str, Any]:
    keys = ("content", "images", "jump_url", "jump_url_text", "mini_program_jump_info")
    check_keys(params, keys, field="", what="a reply")
    out: dict[str, Any] = {
        "content": text_field(params.get("content"), field="content", label="reply", max_chars=max_chars),
        "images": image_refs_field(params.get("images"), field="images", label="images"),
    }
    url, url_text = params.get("jump_url"), params.get("jump_url_text")
    if (url is None) != (url_text is None):
        missing = "jump_url_text" if url_text is None else "jump_url"
        refuse("jump_url and jump_url_text go together: give both or neither", missing)
    if url is not None:
        out["jump_url"] = https_url(url, field="jump_url", label="jump_url", max_chars=MAX_JUMP_URL)
        out["jump_url_text"] = text_field(
            url_text, field="jump_url_text", label="jump_url_text", max_chars=MAX_JUMP_URL_TEXT
        )
    info = params.get("mini_program_jump_info")
    if info is not None:
        info = mapping_field(info, field="mini_program_jump_info", label="mini_program_jump_info")
        check_keys(
            info, ("appid", "path", "text"), field="mini_program_jump_info", what="mini_program_jump_info"
        )
        out["mini_program_jump_info"] = {
            key: text_field(info.get(key), field=f"mini_program_jump_info.{key}", label=f"mini program {key}")
            for key in ("appid", "path", "text")
        }
    return out


def _immediate(params: Mapping[str, Any]) -> dict[str, Any]:
    check_keys(
        params, ("blocks", "sender_identity", "custom_data"), field="", what="an immediate-service reply"
    )
    out: dict[str, Any] = {
        "blocks": validate_blocks(params.get("blocks")),
        "sender_identity": choice_field(
            params.get("sender_identity"),
            field="sender_identity",
            label="sender_identity",
            choices=SENDER_IDENTITIES,
            default="MANUAL",
        ),
    }
    custom = text_field(
        params.get("custom_data"),
        field="custom_data",
        label="custom_data",
        max_chars=MAX_CUSTOM_DATA,
        required=False,
        strip=False,
    )
    if custom is not None:
        out["custom_data"] = custom
    return out


def _remark(params: Mapping[str, Any], out: dict[str, Any]) -> None:
    remark = text_field(
        params.get("remark"), field="remark", label="remark", max_chars=MAX_REASON, required=False
    )
    if remark is not None:
        out["remark"] = remark


def _approve(params: Mapping[str, Any]) -> dict[str, Any]:
    for key in ("reject_reason", "reject_media"):
        if params.get(key) is not None:
            refuse(f"{key} only goes with REJECT (rejecting the refund)", key)
    check_keys(params, ("launch_refund_day", "remark"), field="", what="approving a refund")
    out: dict[str, Any] = {}
    day = params.get("launch_refund_day")
    if day is not None:
        if isinstance(day, bool) or not isinstance(day, int):
            refuse("launch_refund_day must be a whole number of working days", "launch_refund_day")
        if not 0 <= day <= MAX_LAUNCH_REFUND_DAY:
            refuse(
                f"launch_refund_day is {day}; it must be between 0 (today) and "
                f"{MAX_LAUNCH_REFUND_DAY} working days",
                "launch_refund_day",
            )
        out["launch_refund_day"] = day
    _remark(params, out)
    return out


def _reject(params: Mapping[str, Any]) -> dict[str, Any]:
    if params.get("launch_refund_day") is not None:
        refuse(
            "launch_refund_day only goes with APPROVE (WeChat Pay refuses it with REJECT)",
            "launch_refund_day",
        )
    check_keys(params, ("reject_reason", "reject_media", "remark"), field="", what="rejecting a refund")
    out: dict[str, Any] = {
        "reject_reason": text_field(
            params.get("reject_reason"), field="reject_reason", label="reject reason", max_chars=MAX_REASON
        ),
        "reject_media": image_refs_field(
            params.get("reject_media"), field="reject_media", label="evidence images"
        ),
    }
    _remark(params, out)
    return out


def validate_params(
    kind: ActionKind, params: Mapping[str, Any], *, reply_max_chars: int = DEFAULT_REPLY_MAX_CHARS
) -> dict[str, Any]:
    """Check and normalise the parameters of ``kind`` (no status guard); normalising twice changes nothing."""
    if not isinstance(params, Mapping):
        refuse("parameters must be an object", "")
    if kind is ActionKind.REPLY:
        return _reply(params, reply_max_chars)
    if kind is ActionKind.IMMEDIATE_REPLY:
        return _immediate(params)
    if kind is ActionKind.COMPLETE:
        check_keys(params, (), field="", what="marking the complaint complete")
        return {}
    if kind is ActionKind.REFUND_APPROVE:
        return _approve(params)
    if kind is ActionKind.REFUND_REJECT:
        return _reject(params)
    refuse(f"WeChat Pay has no action {str(kind)[:40]!r}", "kind")


def validate(
    kind: ActionKind,
    params: Mapping[str, Any],
    facts: ComplaintFacts,
    *,
    reply_max_chars: int = DEFAULT_REPLY_MAX_CHARS,
) -> dict[str, Any]:
    """The status guard first, then the parameters; return them normalised or raise ``ActionRefused``."""
    if kind not in allowed_actions(facts):
        raise ActionRefused(explain_refusal(kind, facts), field="status")
    return validate_params(kind, params, reply_max_chars=reply_max_chars)


def image_refs(kind: ActionKind, params: Mapping[str, Any]) -> list[str]:
    """Local image references that must be uploaded before ``kind`` can be sent (normalised params)."""
    if kind is ActionKind.REPLY:
        return list(params.get("images") or [])
    if kind is ActionKind.REFUND_REJECT:
        return list(params.get("reject_media") or [])
    if kind is ActionKind.IMMEDIATE_REPLY:
        return message_image_refs(params.get("blocks") or [])
    return []


# -- history ----------------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _same_text(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def applied_in_history(
    request: ActionRequest, history: list[HistoryEntry], *, known_refs: Collection[str] = ()
) -> bool:
    """Whether the negotiation history shows ``request`` applied (used after an uncertain send).

    A matching entry must lie after ``requested_at`` − 5 min. Replies match a ``MERCHANT_RESPONSE`` with the
    same text; an immediate-service reply also matches by ``log_id`` among ``known_refs`` (any time).
    A refund rejection matches ``MERCHANT_REFUSE_RERUND`` (sic) and the corrected spelling.
    """
    kinds = _APPLIED_KINDS.get(request.kind)
    if kinds is None:
        return False
    if request.kind is ActionKind.IMMEDIATE_REPLY and any(e.external_id in known_refs for e in history):
        return True
    since = _aware(request.requested_at) - APPLIED_WINDOW
    recent = [e for e in history if e.kind in kinds and _aware(e.occurred_at) >= since]
    if request.kind is ActionKind.REPLY:
        content = request.params.get("content")
        return isinstance(content, str) and any(_same_text(e.text, content) for e in recent)
    if request.kind is ActionKind.IMMEDIATE_REPLY:
        blocks = request.params.get("blocks")
        text = message_text(blocks) if isinstance(blocks, list) else ""
        return bool(text.strip()) and any(_same_text(e.text, text) for e in recent)
    return bool(recent)
