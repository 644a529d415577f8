"""Rate-limit windows and the notification queue of the WeChat Pay simulator."""

from __future__ import annotations

import random
import uuid
from collections import deque
from datetime import datetime

from complaintdesk.sandbox.faults import Faults
from complaintdesk.sandbox.wechatpay.model import Notification


class SlidingWindows:
    """Per-key sliding 60-second windows with per-name limits."""

    def __init__(self, limits: dict[str, int], span: float = 60.0) -> None:
        self.limits = limits
        self.span = span
        self._windows: dict[tuple[str, str], deque[float]] = {}

    def admit(self, key: str, name: str, now: float) -> bool:
        """Record a call at ``now``; False (and not recorded) when the window is full."""
        limit = self.limits.get(name)
        if limit is None:
            return True
        window = self._windows.setdefault((key, name), deque())
        while window and window[0] <= now - self.span:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True


class NotificationQueue:
    """Every notification decided (``log``) and the ones still to send (drop/duplicate/probe faults)."""

    def __init__(self, rng: random.Random, faults: Faults) -> None:
        self.rng = rng
        self.faults = faults
        self.log: list[Notification] = []
        self._pending: list[Notification] = []

    def add(self, complaint_id: str, action_type: str, mchid: str, now: datetime) -> Notification:
        """Decide one notification for ``mchid``; may also add a SIGNTEST probe."""
        n = Notification(self._uuid(), complaint_id, action_type, mchid, now)
        if self.rng.random() < self.faults.drop_notification_rate:
            n.dropped = True
        elif self.rng.random() < self.faults.duplicate_rate:
            n.duplicate = True
        self.log.append(n)
        if not n.dropped:
            self._pending.append(n)
        if self.rng.random() < self.faults.signtest_rate:
            probe = Notification(self._uuid(), complaint_id, action_type, mchid, now, probe=True)
            self.log.append(probe)
            self._pending.append(probe)
        return n

    def due(self, now: float) -> list[Notification]:
        """Queued notifications whose next attempt is due at ``now``."""
        return [n for n in self._pending if not n.finished and n.next_due <= now]

    def settle(self) -> None:
        """Drop finished notifications from the queue (they stay in ``log``)."""
        self._pending = [n for n in self._pending if not n.finished]

    def pending_count(self) -> int:
        """Notifications still to be (re)sent."""
        return sum(1 for n in self._pending if not n.finished)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
