"""Rate-limit windows and the notification queue of the Huishouqian simulator."""

from __future__ import annotations

import itertools
import random
from datetime import datetime

from complaintdesk.sandbox.common.delivery import DeliveryQueue
from complaintdesk.sandbox.common.windows import SlidingWindows
from complaintdesk.sandbox.faults import Faults
from complaintdesk.sandbox.huishouqian.model import Notification

__all__ = ["NotificationQueue", "SlidingWindows"]


class NotificationQueue(DeliveryQueue[Notification]):
    """Every notification decided (``log``) and the ones still to send (drop/duplicate faults)."""

    def __init__(self, rng: random.Random, faults: Faults) -> None:
        super().__init__(rng, faults)
        self._ids = itertools.count(1)

    def add(self, complaint_id: str, action_type: str, merchant_no: str, now: datetime) -> Notification:
        """Decide one notification for ``merchant_no``."""
        return self._decide(Notification(next(self._ids), complaint_id, action_type, merchant_no, now))
