"""Alert texts in the recipient's language (zh-CN or en): key facts, deadline, a console link.

Only what ``events.complaint_facts`` put in an event is ever shown: no phone numbers, openids or the
consumer's own words. A digest names up to ``digest_lines`` events and counts the rest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from complaintdesk.core.alerts.events import EventKind

_TITLES: dict[str, dict[str, str]] = {
    "zh-CN": {
        EventKind.NEW_COMPLAINT: "新投诉",
        EventKind.CONSUMER_MESSAGE: "用户有新留言",
        EventKind.SLA_WARNING: "投诉即将超时",
        EventKind.SLA_BREACH: "投诉已超时",
        EventKind.PLATFORM_MEDIATING: "平台介入处理",
        EventKind.EVIDENCE_REQUESTED: "平台要求补充凭证",
        EventKind.ACTION_FAILED: "操作发送失败",
        EventKind.ASSIGNED: "投诉已分配给你",
        EventKind.MENTION: "有人在备注中提到了你",
        EventKind.SYNC_UNANNOUNCED: "同步发现未通知的投诉（请检查回调配置）",
        EventKind.SIGNATURES_REFUSED: "大量通知签名校验失败（请检查密钥配置）",
        EventKind.COMPLAINT_UPDATED: "投诉已更新",
        EventKind.ACTION_SENT: "操作已发送",
        "test": "测试消息",
        "digest": "投诉提醒汇总",
    },
    "en": {
        EventKind.NEW_COMPLAINT: "New complaint",
        EventKind.CONSUMER_MESSAGE: "Consumer message waiting",
        EventKind.SLA_WARNING: "Complaint deadline approaching",
        EventKind.SLA_BREACH: "Complaint deadline missed",
        EventKind.PLATFORM_MEDIATING: "Platform is mediating",
        EventKind.EVIDENCE_REQUESTED: "Platform requests evidence",
        EventKind.ACTION_FAILED: "Action failed",
        EventKind.ASSIGNED: "Complaint assigned to you",
        EventKind.MENTION: "You were mentioned in a note",
        EventKind.SYNC_UNANNOUNCED: "Sync found complaints no notification announced (check the callback)",
        EventKind.SIGNATURES_REFUSED: "Many notifications refused for bad signatures (check the keys)",
        EventKind.COMPLAINT_UPDATED: "Complaint updated",
        EventKind.ACTION_SENT: "Action sent",
        "test": "Test message",
        "digest": "Complaint alerts digest",
    },
}
_LABELS = {
    "zh-CN": {
        "complaint": "投诉单号",
        "channel": "渠道",
        "status": "状态",
        "amount": "金额",
        "deadline": "处理期限",
        "open": "查看",
        "error": "上游返回",
        "count": "数量",
        "more": "另有 {n} 条",
        "lead": "剩余约 {h} 小时",
    },
    "en": {
        "complaint": "Complaint",
        "channel": "Channel",
        "status": "Status",
        "amount": "Amount",
        "deadline": "Deadline",
        "open": "Open",
        "error": "Upstream said",
        "count": "Count",
        "more": "and {n} more",
        "lead": "about {h} h left",
    },
}
_CHANNELS = {
    "zh-CN": {"wechatpay": "微信支付", "miniprogram": "小程序", "huishouqian": "慧收钱"},
    "en": {"wechatpay": "WeChat Pay", "miniprogram": "Mini Program", "huishouqian": "Huishouqian"},
}


@dataclass(frozen=True)
class Message:
    """One message: a title, plain-text lines, and the console link of its subject."""

    title: str
    lines: tuple[str, ...]
    link: str

    def text(self) -> str:
        """Title, lines and link as plain text."""
        return "\n".join([self.title, *self.lines, *([self.link] if self.link else [])])

    def markdown(self) -> str:
        """Title, lines and link as the chats' markdown."""
        body = "\n".join(f"> {line}" for line in self.lines)
        link = f"\n[{self.link}]({self.link})" if self.link else ""
        return f"### {self.title}\n{body}{link}"


def _lang(language: str) -> str:
    return "en" if language.lower().startswith("en") else "zh-CN"


def _time(value: Any, tz: ZoneInfo) -> str:
    if not isinstance(value, str) or not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def link_for(facts: dict[str, Any], base_url: str) -> str:
    """The console page of the event's complaint (or the inbox)."""
    base = base_url.rstrip("/")
    cid = facts.get("complaint_id")
    return f"{base}/complaints/{cid}" if cid else f"{base}/"


def lines_for(kind: str, facts: dict[str, Any], language: str, tz: ZoneInfo) -> list[str]:
    """The key facts of one event, one per line."""
    lang = _lang(language)
    label = _LABELS[lang]
    lines: list[str] = []
    if facts.get("external_id"):
        channel = _CHANNELS[lang].get(str(facts.get("channel")), str(facts.get("channel")))
        lines.append(f"{label['complaint']}: {facts['external_id']} ({channel})")
        lines.append(f"{label['status']}: {facts.get('status')} / {facts.get('raw_status')}")
    if isinstance(facts.get("amount_fen"), int):
        lines.append(f"{label['amount']}: ¥{facts['amount_fen'] / 100:.2f}")
    due = facts.get("due_at") or facts.get("deadline")
    if due:
        lines.append(f"{label['deadline']}: {_time(due, tz)}")
    if kind == EventKind.SLA_WARNING and facts.get("lead_hours"):
        lines.append(label["lead"].format(h=f"{facts['lead_hours']:g}"))
    if facts.get("error"):
        lines.append(f"{label['error']}: {str(facts['error'])[:200]}")
    if facts.get("count"):
        lines.append(f"{label['count']}: {facts['count']}")
    return lines


def single(kind: str, facts: dict[str, Any], *, language: str, base_url: str, tz: ZoneInfo) -> Message:
    """The message for one event."""
    title = _TITLES[_lang(language)].get(kind, kind)
    return Message(f"【{title}】", tuple(lines_for(kind, facts, language, tz)), link_for(facts, base_url))


def digest(
    events: list[tuple[str, dict[str, Any]]], *, language: str, base_url: str, tz: ZoneInfo, lines: int
) -> Message:
    """One message for several events: counts by kind, then one line per event up to ``lines``."""
    if len(events) == 1:
        return single(events[0][0], events[0][1], language=language, base_url=base_url, tz=tz)
    lang = _lang(language)
    titles = _TITLES[lang]
    counts = Counter(kind for kind, _ in events)
    body = [f"{titles.get(kind, kind)}: {n}" for kind, n in sorted(counts.items())]
    for kind, facts in events[:lines]:
        due = facts.get("due_at") or facts.get("deadline")
        when = f" · {_time(due, tz)}" if due else ""
        body.append(f"- {titles.get(kind, kind)} · {facts.get('external_id', '-')}{when}")
    if len(events) > lines:
        body.append(_LABELS[lang]["more"].format(n=len(events) - lines))
    title = f"【{titles['digest']}】{len(events)}"
    return Message(title, tuple(body), f"{base_url.rstrip('/')}/")
