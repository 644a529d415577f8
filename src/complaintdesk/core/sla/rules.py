"""Pure SLA rules: which deadlines a complaint has, and what state they put it in.

    wechatpay, huishouqian   first_reply  complained_at + 24 h while nobody answered (open / in platform)
                             finish       complained_at + 72 h until resolved or closed
    miniprogram              status       the upstream ``expireTime`` while the merchant must act
                             appeal       entering 待商家申诉 (``appealState`` 401) + 72 h
    any channel              status       an upstream deadline (``deadline_at``) while open

A deadline is ``warning`` from ``warning_lead_hours`` before it, ``breached`` from its due time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from complaintdesk.channels.base import UnifiedStatus
from complaintdesk.settings import SlaSettings

FINISHED = frozenset({UnifiedStatus.RESOLVED.value, UnifiedStatus.CLOSED.value})
_AWAITING_FIRST_REPLY = frozenset(
    {UnifiedStatus.OPEN.value, UnifiedStatus.IN_PLATFORM.value, UnifiedStatus.UNKNOWN.value}
)
_CLOCKED_CHANNELS = ("wechatpay", "huishouqian")


class SlaState(StrEnum):
    """How close the most urgent pending deadline is."""

    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


class DeadlineKind(StrEnum):
    """Which clock a deadline belongs to."""

    FIRST_REPLY = "first_reply"
    FINISH = "finish"
    STATUS = "status"  # the upstream's own deadline for the current status
    APPEAL = "appeal"


_SEVERITY = {SlaState.OK: 0, SlaState.WARNING: 1, SlaState.BREACHED: 2}


@dataclass(frozen=True)
class SlaFacts:
    """What the rules need to know about a complaint."""

    channel: str
    status: str
    raw_status: str
    complained_at: datetime
    deadline_at: datetime | None = None
    first_response_at: datetime | None = None
    appeal_started_at: datetime | None = None  # set while a Mini Program appeal window is open


@dataclass(frozen=True)
class Deadline:
    """One pending deadline."""

    kind: DeadlineKind
    due_at: datetime

    def state(self, now: datetime, lead: timedelta) -> SlaState:
        """ok, warning (within ``lead`` of the due time) or breached (due time passed)."""
        if now >= self.due_at:
            return SlaState.BREACHED
        if now >= self.due_at - lead:
            return SlaState.WARNING
        return SlaState.OK

    def next_change(self, now: datetime, lead: timedelta) -> datetime | None:
        """When :meth:`state` will change next (None once breached)."""
        if now < self.due_at - lead:
            return self.due_at - lead
        if now < self.due_at:
            return self.due_at
        return None


@dataclass(frozen=True)
class Assessment:
    """The overall state of a set of deadlines at one instant."""

    state: SlaState
    due_at: datetime | None  # the earliest pending deadline (overdue ones included)
    next_check_at: datetime | None  # when the state of some deadline changes next


def _hours(settings: SlaSettings, channel: str, what: str) -> float:
    value: float = getattr(settings, f"{channel}_{what}_hours")
    return value


def deadlines(facts: SlaFacts, settings: SlaSettings) -> list[Deadline]:
    """Every deadline still pending for ``facts``, earliest first."""
    found: list[Deadline] = []
    finished = facts.status in FINISHED
    if facts.channel in _CLOCKED_CHANNELS:
        if facts.first_response_at is None and facts.status in _AWAITING_FIRST_REPLY:
            hours = _hours(settings, facts.channel, "first_reply")
            found.append(Deadline(DeadlineKind.FIRST_REPLY, facts.complained_at + timedelta(hours=hours)))
        if not finished:
            hours = _hours(settings, facts.channel, "finish")
            found.append(Deadline(DeadlineKind.FINISH, facts.complained_at + timedelta(hours=hours)))
    if facts.deadline_at is not None and not finished and _merchant_must_act(facts, settings):
        found.append(Deadline(DeadlineKind.STATUS, facts.deadline_at))
    if facts.appeal_started_at is not None:
        due = facts.appeal_started_at + timedelta(hours=settings.miniprogram_appeal_hours)
        found.append(Deadline(DeadlineKind.APPEAL, due))
    return sorted(found, key=lambda d: (d.due_at, d.kind.value))


def _merchant_must_act(facts: SlaFacts, settings: SlaSettings) -> bool:
    if facts.channel != "miniprogram":
        return True
    return (
        facts.raw_status in settings.miniprogram_merchant_statuses
        or facts.status == UnifiedStatus.UNKNOWN.value
    )


def assess(found: list[Deadline], now: datetime, lead: timedelta) -> Assessment:
    """Combine deadlines: the worst state, the earliest due time, the next instant worth a look."""
    state = SlaState.OK
    for deadline in found:
        current = deadline.state(now, lead)
        if _SEVERITY[current] > _SEVERITY[state]:
            state = current
    changes = [c for c in (d.next_change(now, lead) for d in found) if c is not None]
    return Assessment(
        state=state,
        due_at=min((d.due_at for d in found), default=None),
        next_check_at=min(changes, default=None),
    )
