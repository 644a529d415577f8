"""Rate-limit windows and the notification queue of the Huishouqian simulator."""

from __future__ import annotations

import itertools
import random
from collections import deque
from datetime import datetime

from complaintdesk.sandbox.faults import Faults
from complaintdesk.sandbox.huishouqian.model import Notification


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
    """Every notification decided (``log``) and the ones still to send (drop/duplicate faults)."""

    def __init__(self, rng: random.Random, faults: Faults) -> None:
        self.rng = rng
        self.faults = faults
        self.log: list[Notification] = []
        self._pending: list[Notification] = []
        self._ids = itertools.count(1)

    def add(self, complaint_id: str, action_type: str, merchant_no: str, now: datetime) -> Notification:
        """Decide one notification for ``merchant_no``."""
        n = Notification(next(self._ids), complaint_id, action_type, merchant_no, now)
        if self.rng.random() < self.faults.drop_notification_rate:
            n.dropped = True
        elif self.rng.random() < self.faults.duplicate_rate:
            n.duplicate = True
        self.log.append(n)
        if not n.dropped:
            self._pending.append(n)
        return n

    def due(self, now: float) -> list[Notification]:
        """Queued notifications whose next attempt is due at ``now``."""
        return [n for n in self._pending if not n.finished and n.next_due <= now]

    def settle(self) -> None:
        """Forget finished notifications (they stay in ``log``)."""
        self._pending = [n for n in self._pending if not n.finished]

    def pending_count(self) -> int:
        """Notifications still to be (re)sent."""
        return sum(1 for n in self._pending if not n.finished)
