"""Import every ORM module so ``Base.metadata`` is complete (Alembic and tests use this)."""

from complaintdesk.core.accounts.models import MerchantAccount, PlatformCertificate
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.inbox.models import InboxEvent, InboxStatus
from complaintdesk.core.sync.models import SyncRun
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.db import Base

__all__ = [
    "Base",
    "Complaint",
    "InboxEvent",
    "InboxStatus",
    "MerchantAccount",
    "PlatformCertificate",
    "SyncRun",
    "TimelineEntry",
]
