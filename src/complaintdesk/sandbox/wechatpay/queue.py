"""Rate-limit windows and the notification queue of the WeChat Pay simulator."""

from __future__ import annotations

import uuid
from datetime import datetime

from complaintdesk.sandbox.common.delivery import DeliveryQueue
from complaintdesk.sandbox.common.windows import SlidingWindows
from complaintdesk.sandbox.wechatpay.model import Notification

__all__ = ["NotificationQueue", "SlidingWindows"]


class NotificationQueue(DeliveryQueue[Notification]):
    """Every notification decided (``log``) and the ones still to send (drop/duplicate/probe faults)."""

    def add(self, complaint_id: str, action_type: str, mchid: str, now: datetime) -> Notification:
        """Decide one notification for ``mchid``; may also add a SIGNTEST probe."""
        n = self._decide(Notification(self._uuid(), complaint_id, action_type, mchid, now))
        if self.rng.random() < self.faults.signtest_rate:
            probe = Notification(self._uuid(), complaint_id, action_type, mchid, now, probe=True)
            self.log.append(probe)
            self._pending.append(probe)
        return n

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
