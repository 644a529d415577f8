"""Tags, read state and saved views; plus the composite indexes the console inbox relies on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.core.complaints.models import ACTIVE_STATUSES, Complaint
from complaintdesk.db import Base, UTCDateTime


class Tag(Base):
    """A label operators put on complaints."""

    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    color: Mapped[str] = mapped_column(String(16), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComplaintTag(Base):
    """A tag on a complaint (many-to-many)."""

    __tablename__ = "complaint_tag"
    __table_args__ = (Index("ix_complaint_tag_tag", "tag_id", "complaint_id"),)

    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaint.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(64), default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComplaintRead(Base):
    """When a user last read a complaint; it is unread again once ``complaint.updated_at`` moves past."""

    __tablename__ = "complaint_read"
    __table_args__ = (Index("ix_complaint_read_complaint", "complaint_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaint.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SavedView(Base):
    """A user's named inbox filter (validated ``InboxFilter`` JSON), in the user's order."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Inbox indexes on ``complaint`` (columns added for the console). The default view walks
# ``sla_due_at, id`` (finished complaints have no due time, so the walk meets open ones first);
# scoped, "mine" and SLA-state views have their own prefix; the schedule reads ``sla_next_check_at``.
INBOX_INDEXES = (
    Index("ix_complaint_sla_due", Complaint.sla_due_at, Complaint.id),
    Index("ix_complaint_merchant_due", Complaint.merchant_account_id, Complaint.sla_due_at, Complaint.id),
    Index("ix_complaint_assignee_due", Complaint.assignee_id, Complaint.sla_due_at, Complaint.id),
    Index("ix_complaint_state_due", Complaint.sla_state, Complaint.sla_due_at, Complaint.id),
    Index("ix_complaint_channel_due", Complaint.channel, Complaint.sla_due_at, Complaint.id),  # 0012s
    Index(  # 0012s
        "ix_complaint_channel_state_due",
        Complaint.channel,
        Complaint.sla_state,
        Complaint.sla_due_at,
        Complaint.id,
    ),
    Index("ix_complaint_status_due", Complaint.status, Complaint.sla_due_at, Complaint.id),
    Index("ix_complaint_complained", Complaint.complained_at, Complaint.id),
    Index(  # 0013c: a date range split by the deadline phases, from the index alone
        "ix_complaint_complained_due", Complaint.complained_at, Complaint.sla_due_at, Complaint.id
    ),
    Index("ix_complaint_next_check", Complaint.sla_next_check_at),
    # 0015b: "mine" and "unassigned" among the active complaints (their views and inbox badges) without
    # a bitmap of every active complaint; unassigned is ``COALESCE(assignee_id, 0) = 0`` (see views.query).
    Index(
        "ix_complaint_active_assignee",
        Complaint.assignee_id,
        Complaint.sla_due_at,
        Complaint.id,
        postgresql_where=Complaint.status.in_(ACTIVE_STATUSES),
        sqlite_where=Complaint.status.in_(ACTIVE_STATUSES),
    ),
    Index(
        "ix_complaint_active_unassigned",
        func.coalesce(Complaint.assignee_id, 0),
        Complaint.sla_due_at,
        Complaint.id,
        postgresql_where=Complaint.status.in_(ACTIVE_STATUSES),
        sqlite_where=Complaint.status.in_(ACTIVE_STATUSES),
    ),
    Index("ix_complaint_external", Complaint.external_id),
)
