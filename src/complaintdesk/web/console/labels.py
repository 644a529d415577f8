"""Display labels per channel, kept in one small registry so new channels need no console change.

A channel missing here is still shown: its name stands in for the label and raw values are shown raw.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from complaintdesk.web.console.i18n import current_language


@dataclass(frozen=True)
class ChannelLabels:
    """How the console names one channel and its raw values."""

    zh: str
    en: str
    reply_max_chars: int = 200
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)  # raw → (zh, en)
    problems: dict[str, tuple[str, str]] = field(default_factory=dict)
    history_kinds: dict[str, str] = field(default_factory=dict)  # raw → zh (upstream label)


def _wechatpay() -> ChannelLabels:
    mapping: Any = importlib.import_module("complaintdesk.channels.wechatpay.mapping")
    en_status = {"PENDING": "Pending", "PROCESSING": "In progress", "PROCESSED": "Processed"}
    en_problem = {"REFUND": "Refund request", "SERVICE_NOT_WORK": "Service not working", "OTHERS": "Other"}
    return ChannelLabels(
        zh="微信支付",
        en="WeChat Pay",
        statuses={k: (v, en_status.get(k, k)) for k, v in mapping.STATUS_LABELS.items()},
        problems={k: (v, en_problem.get(k, k)) for k, v in mapping.PROBLEM_TYPE_LABELS.items()},
        history_kinds={**mapping.ACTION_TYPE_LABELS, **mapping.OPERATE_TYPE_LABELS},
    )


_BUILDERS = {"wechatpay": _wechatpay}
_FALLBACK = {"miniprogram": ("小程序交易投诉", "Mini Program"), "huishouqian": ("慧收钱", "Huishouqian")}
_cache: dict[str, ChannelLabels] = {}


def for_channel(channel: str) -> ChannelLabels:
    """The labels of a channel (its name when unknown)."""
    labels = _cache.get(channel)
    if labels is None:
        builder = _BUILDERS.get(channel)
        try:
            labels = builder() if builder else None
        except ImportError:
            labels = None
        if labels is None:
            zh, en = _FALLBACK.get(channel, (channel, channel))
            labels = ChannelLabels(zh=zh, en=en)
        _cache[channel] = labels
    return labels


def _pick(pair: tuple[str, str] | None, raw: str) -> str:
    if pair is None:
        return raw
    return pair[1] if current_language() == "en" else pair[0]


def channel_label(channel: str) -> str:
    """The channel's name in the current language."""
    labels = for_channel(channel)
    return _pick((labels.zh, labels.en), channel)


def raw_status_label(channel: str, raw: str) -> str:
    """The upstream status as the upstream names it (raw value when unknown)."""
    return _pick(for_channel(channel).statuses.get(raw), raw)


def problem_label(channel: str, raw: str) -> str:
    """The problem type's label (raw value when unknown)."""
    return _pick(for_channel(channel).problems.get(raw), raw) if raw else ""


def history_label(channel: str, kind: str) -> str:
    """The upstream's label of a history entry kind (Chinese, as the upstream writes it), or the kind."""
    label = for_channel(channel).history_kinds.get(kind)
    return f"{label} · {kind}" if label and current_language() == "en" else (label or kind)


def reply_limit(channel: str, settings: Any = None) -> int:
    """The longest reply the channel accepts (WeChat Pay: the configured ``reply_max_chars``)."""
    section = getattr(settings, channel, None) if settings is not None else None
    configured = getattr(section, "reply_max_chars", None)
    return int(configured) if isinstance(configured, int) else for_channel(channel).reply_max_chars


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


_WECHAT_TYPES = ("image/jpeg", "image/png", "image/bmp")


def composer_limits(channel: str, settings: Any) -> ComposerLimits:
    """The reply composer's limits for ``channel``, from the same settings the channel validates with."""
    if channel == "miniprogram":
        mp = settings.miniprogram
        return ComposerLimits(
            mp.content_max_chars, mp.max_images, mp.image_max_bytes, ("image/jpeg", "image/png", "image/gif")
        )
    return ComposerLimits(reply_limit(channel, settings), 4, 2 * 1024 * 1024, _WECHAT_TYPES)
