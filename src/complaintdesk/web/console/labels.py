"""Display labels of channels and their codes (from ``code_tables``), and each channel's composer limits.

Every label function is total: an unknown channel or code gets a translated generic label with the value shown
as data (``<code translate="no">``), never a bare code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from complaintdesk.web.console import code_tables, core_labels
from complaintdesk.web.console.i18n import current_language
from complaintdesk.web.console.i18n import gettext as _

_CHANNELS = {
    "wechatpay": ("微信支付", "WeChat Pay"),
    "miniprogram": ("小程序交易投诉", "Mini Program"),
    "huishouqian": ("慧收钱", "Huishouqian"),
}


def _pick(pair: tuple[str, str]) -> str:
    return pair[1] if current_language() == "en" else pair[0]


def channel_label(channel: str) -> Markup:
    """The channel's name in the current language (an unknown channel: generic label + its name as data)."""
    pair = _CHANNELS.get(channel)
    return escape(_pick(pair)) if pair else core_labels.unknown(channel)


def channel_text(channel: str) -> str:
    """The channel's name as plain text."""
    pair = _CHANNELS.get(channel)
    return _pick(pair) if pair else channel


def code_label(channel: str, kind: str, code: object) -> Markup:
    """A channel code's label (``code_tables``) in the current language; total, like ``core_labels.label``."""
    found = code_tables.lookup(channel, kind, code)
    return escape(_pick((found.zh, found.en))) if found else core_labels.unknown(code)


def code_text(channel: str, kind: str, code: object) -> str:
    """Like :func:`code_label`, as plain text for attributes (unknown: the generic label alone)."""
    found = code_tables.lookup(channel, kind, code)
    return _pick((found.zh, found.en)) if found else _("Unrecognised value")


def raw_status_label(channel: str, raw: str) -> Markup:
    """The upstream status as the upstream names it, in the current language."""
    return code_label(channel, "status", raw) if raw else Markup("")


def raw_status_text(channel: str, raw: str) -> str:
    """The upstream status as plain text (for a title attribute)."""
    return code_text(channel, "status", raw) if raw else ""


def problem_label(channel: str, raw: str) -> Markup:
    """The problem type's label (empty when the complaint has none)."""
    return code_label(channel, "problem", raw) if raw else Markup("")


def problem_text(channel: str, raw: str) -> str:
    """The problem type's label as plain text (for the page title)."""
    return code_text(channel, "problem", raw) if raw else ""


def snippet(complaint: Any) -> str:
    """The inbox's one-line text of a complaint: its description, unless that repeats the problem label."""
    found = code_tables.lookup(complaint.channel, "problem", complaint.problem_type or "")
    description = complaint.problem_description or ""
    if not description or (found is not None and description == found.zh):
        return str(complaint.detail or "")
    return str(description)


def history_label(channel: str, kind: str, source: str = "history") -> Markup:
    """The label of a timeline entry's type: an upstream history or notification code, or one of ours."""
    if source in ("history", "notification"):
        if not kind:
            return escape(_("Upstream event"))
        return code_label(channel, source, kind)
    return core_labels.label(core_labels.SYSTEM_KINDS, kind)


def reply_limit(channel: str, settings: Any = None) -> int:
    """The longest reply the channel accepts (WeChat Pay: the configured ``reply_max_chars``)."""
    section = getattr(settings, channel, None) if settings is not None else None
    configured = getattr(section, "reply_max_chars", None)
    return int(configured) if isinstance(configured, int) else DEFAULT_REPLY_MAX_CHARS


@dataclass(frozen=True)
class ComposerLimits:
    """What a channel accepts in one reply: text length, images (count, size, types)."""

    max_chars: int
    max_images: int
    max_bytes: int
    types: tuple[str, ...]  # MIME types

    @property
    def type_names(self) -> str:
        """The accepted image types as people name them (JPG, PNG, …)."""
        return ", ".join(t.split("/")[1].replace("jpeg", "jpg").upper() for t in self.types)

    @property
    def max_mb(self) -> int:
        """The size limit in whole megabytes."""
        return max(1, self.max_bytes // (1024 * 1024))


DEFAULT_REPLY_MAX_CHARS = 200
_WECHAT_TYPES = ("image/jpeg", "image/png", "image/bmp")


def composer_limits(channel: str, settings: Any) -> ComposerLimits:
    """The reply composer's limits for ``channel``, from the same settings the channel validates with."""
    if channel == "miniprogram":
        mp = settings.miniprogram
        return ComposerLimits(
            mp.content_max_chars, mp.max_images, mp.image_max_bytes, ("image/jpeg", "image/png", "image/gif")
        )
    return ComposerLimits(reply_limit(channel, settings), 4, 2 * 1024 * 1024, _WECHAT_TYPES)
