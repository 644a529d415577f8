"""Import every ORM module so ``Base.metadata`` is complete (Alembic and tests use this)."""

from complaintdesk.core.accounts.models import MerchantAccount, PlatformCertificate
from complaintdesk.core.accounts.token_cache import CachedToken
from complaintdesk.core.alerts.models import (
    AlertAttempt,
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    AlertRule,
)
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.budgets.models import BudgetGrant
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.inbox.models import InboxEvent, InboxStatus
from complaintdesk.core.live.models import LiveEvent, Presence
from complaintdesk.core.media.models import MediaFile, MediaLink, MediaUpload
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction, UploadedMedia
from complaintdesk.core.reports import models as _reports  # noqa: F401 - report indexes
from complaintdesk.core.reports import rollup_models as _rollup  # noqa: F401 - daily roll-up
from complaintdesk.core.sync.models import SyncRun
from complaintdesk.core.templates.models import ReplyTemplate
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.core.tokens.models import ApiToken
from complaintdesk.core.users.models import ConsoleSessionRecord, LoginThrottle, User
from complaintdesk.core.workflow.models import ComplaintRead, ComplaintTag, SavedView, Tag
from complaintdesk.db import Base

__all__ = [
    "ActionStatus",
    "AlertAttempt",
    "AlertDelivery",
    "AlertDestination",
    "AlertEvent",
    "AlertRule",
    "ApiToken",
    "AuditEvent",
    "Base",
    "BudgetGrant",
    "CachedToken",
    "Complaint",
    "ComplaintRead",
    "ComplaintTag",
    "ConsoleSessionRecord",
    "InboxEvent",
    "InboxStatus",
    "LiveEvent",
    "LoginThrottle",
    "MediaFile",
    "MediaLink",
    "MediaUpload",
    "MerchantAccount",
    "OutboundAction",
    "PlatformCertificate",
    "Presence",
    "ReplyTemplate",
    "SavedView",
    "SyncRun",
    "Tag",
    "TimelineEntry",
    "UploadedMedia",
    "User",
]
