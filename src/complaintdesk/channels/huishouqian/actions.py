"""Pure rules for merchant actions on Huishouqian complaints: status guard, parameters, images, history.

Huishouqian wraps WeChat Pay 消费者投诉2.0 and publishes no limits of its own; the seed's error texts
(130007–130009) match WeChat Pay's, so WeChat Pay's limits are used (spec B.6, ASSUMPTION):

* ``reply`` (COMPLAINT_COMMIT_RESPONSE): ``content`` (1–``reply_max_chars`` characters, default 200; only
  characters of up to 3 bytes in UTF-8, i.e. no emoji) and ``images`` (≤ 4 local image references);
* ``complete`` (COMPLAINT_COMMIT_COMPLETE): the same two parameters, and ``content`` is **required**: the
  method carries ``responseContent``, so the operator writes the closing message (we never invent one);
* images: JPG, PNG or BMP by content (magic bytes), 1 byte to 2 MB.

Both actions are allowed while the complaint is PENDING or PROCESSING.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from complaintdesk.channels.base import ActionKind, ActionRequest, ComplaintFacts, HistoryEntry
from complaintdesk.channels.common.images import check_image_size, image_name, sniff_jpg_png_bmp
from complaintdesk.channels.common.text import refuse, unsupported_character
from complaintdesk.channels.huishouqian.mapping import STATUS_LABELS
from complaintdesk.errors import ActionRefused

__all__ = [
    "ACTION_LABELS",
    "APPLIED_WINDOW",
    "DEFAULT_REPLY_MAX_CHARS",
    "IMAGE_TYPES",
    "MAX_IMAGES",
    "MAX_IMAGE_BYTES",
    "allowed_actions",
    "applied_in_history",
    "check_image",
    "content_type_of",
    "explain_refusal",
    "image_refs",
    "validate",
    "validate_params",
]

DEFAULT_REPLY_MAX_CHARS = 200
MAX_IMAGES = 4  # seed 130009 回复上传图片不能超过四张
MAX_IMAGE_BYTES = 2 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/bmp": "bmp"}
#: How far before ``requested_at`` a history entry may lie and still count as our action (clock skew).
APPLIED_WINDOW = timedelta(minutes=5)
ACTION_LABELS = {ActionKind.REPLY: "reply", ActionKind.COMPLETE: "mark as complete"}
_OPEN_STATES = ("PENDING", "PROCESSING")
_APPLIED_KINDS = {ActionKind.REPLY: "MERCHANT_RESPONSE", ActionKind.COMPLETE: "MERCHANT_CONFIRM_COMPLETE"}
_MAX_REF = 128


_refuse = refuse


# -- status guard -----------------------------------------------------------------------------------------


def allowed_actions(facts: ComplaintFacts) -> set[ActionKind]:
    """Which actions the complaint's upstream state allows (unknown states allow nothing)."""
    if facts.raw_status in _OPEN_STATES:
        return {ActionKind.REPLY, ActionKind.COMPLETE}
    return set()


def _status_text(raw_status: str) -> str:
    label = STATUS_LABELS.get(raw_status)
    return f"{label} ({raw_status})" if label else repr(raw_status[:40])


def explain_refusal(kind: ActionKind, facts: ComplaintFacts) -> str:
    """Say, for an operator, why ``kind`` is not allowed now and what is."""
    status = facts.raw_status
    if kind not in ACTION_LABELS:
        reason = "Huishouqian offers only reply and mark-as-complete"
    elif status not in STATUS_LABELS:
        reason = (
            f"the complaint status {status[:40]!r} is not one Huishouqian documents "
            "(PENDING, PROCESSING, PROCESSED), so nothing is sent until it is understood"
        )
    else:
        reason = f"the complaint is {_status_text(status)}: Huishouqian takes no further action on it"
    allowed = sorted(ACTION_LABELS[k] for k in allowed_actions(facts))
    label = ACTION_LABELS.get(kind, str(kind))
    return (
        f"cannot {label}: {reason}. Complaint status: {_status_text(status)}. "
        f"Allowed now: {', '.join(allowed) or 'nothing'}"
    )


# -- parameters -------------------------------------------------------------------------------------------


def _text(value: Any, *, field: str, label: str, max_chars: int) -> str:
    """Check required text: non-blank, ≤ ``max_chars``, only characters of 1–3 bytes in UTF-8."""
    if value is None:
        _refuse(f"{label} is required", field)
    if not isinstance(value, str):
        _refuse(f"{label} must be text, not {type(value).__name__}", field)
    bad = unsupported_character(value)
    if bad is not None:
        position, what = bad
        _refuse(
            f"{label} contains {what} at character {position}; Huishouqian (like WeChat Pay) accepts "
            "only characters of up to 3 bytes in UTF-8 (no emoji)",
            field,
        )
    text = value.strip()
    if not text:
        _refuse(f"{label} is empty", field)
    if len(text) > max_chars:
        _refuse(f"{label} is {len(text)} characters; Huishouqian accepts at most {max_chars}", field)
    return text


def _image_refs(value: Any, *, field: str) -> list[str]:
    """Check local image references (archive SHA-256 values); duplicates are dropped."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        _refuse("images must be a list of image references", field)
    refs: list[str] = []
    for index, item in enumerate(value):
        ref = item.strip() if isinstance(item, str) else ""
        if not ref or len(ref) > _MAX_REF or any(char.isspace() for char in ref):
            _refuse(f"images: item {index + 1} is not an image reference", f"{field}[{index}]")
        if ref not in refs:
            refs.append(ref)
    if len(refs) > MAX_IMAGES:
        _refuse(f"{len(refs)} images attached; Huishouqian accepts at most {MAX_IMAGES}", field)
    return refs


def validate_params(
    kind: ActionKind, params: Mapping[str, Any], *, reply_max_chars: int = DEFAULT_REPLY_MAX_CHARS
) -> dict[str, Any]:
    """Check and normalise the parameters of ``kind`` (no status guard); normalising twice changes nothing."""
    if not isinstance(params, Mapping):
        _refuse("parameters must be an object", "")
    if kind not in ACTION_LABELS:
        _refuse(f"Huishouqian has no action {str(kind)[:40]!r}; it offers reply and complete", "kind")
    unknown = sorted(str(key) for key in params if key not in ("content", "images"))
    if unknown:
        _refuse(
            f"{ACTION_LABELS[kind]} does not take {', '.join(unknown)}; it takes content, images", unknown[0]
        )
    label = "reply" if kind is ActionKind.REPLY else "completion message (sent to the user with 'complete')"
    return {
        "content": _text(params.get("content"), field="content", label=label, max_chars=reply_max_chars),
        "images": _image_refs(params.get("images"), field="images"),
    }


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
    """Local image references to upload before ``kind`` can be sent (normalised params)."""
    return list(params.get("images") or []) if kind in ACTION_LABELS else []


# -- images -----------------------------------------------------------------------------------------------


_sniff = sniff_jpg_png_bmp


def check_image(data: bytes, filename: str) -> str:
    """Check evidence for upload: non-empty, ≤ 2 MB, really JPG/PNG/BMP. Return its content type."""
    name = image_name(filename)
    check_image_size(
        data, name, max_bytes=MAX_IMAGE_BYTES, max_mb=MAX_IMAGE_BYTES // 1048576, upstream="Huishouqian"
    )
    content_type = _sniff(data)
    if content_type is None:
        _refuse(
            f"{name} is not a JPG, PNG or BMP image (by its content); Huishouqian accepts only those", "image"
        )
    return content_type


def content_type_of(data: bytes, suffix: str = "") -> str:
    """Content type of downloaded evidence: by content, then by the upstream ``suffix``."""
    sniffed = _sniff(data)
    if sniffed:
        return sniffed
    ext = suffix.lower().lstrip(".")
    by_suffix = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "bmp": "image/bmp"}
    by_suffix |= {"gif": "image/gif", "webp": "image/webp"}
    return by_suffix.get(ext, "application/octet-stream")


# -- history ----------------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _same_text(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def applied_in_history(request: ActionRequest, history: list[HistoryEntry]) -> bool:
    """Whether the history shows ``request`` applied (after an uncertain send).

    A matching entry lies after ``requested_at`` − 5 min: a reply matches a ``MERCHANT_RESPONSE`` with the
    same text; a completion matches any ``MERCHANT_CONFIRM_COMPLETE``.
    """
    kind = _APPLIED_KINDS.get(request.kind)
    if kind is None:
        return False
    since = _aware(request.requested_at) - APPLIED_WINDOW
    recent = [e for e in history if e.kind == kind and _aware(e.occurred_at) >= since]
    if request.kind is ActionKind.REPLY:
        content = request.params.get("content")
        return isinstance(content, str) and any(_same_text(e.text, content) for e in recent)
    return bool(recent)
