"""The one complaint model for every channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.core.users import models as _users  # noqa: F401 - registers app_user (assignee FK)
from complaintdesk.db import Base, UTCDateTime

#: Unified statuses of a complaint still to be worked on (the inbox's default view, partial indexes).
ACTIVE_STATUSES = ("open", "responded", "in_platform", "unknown")


def _due_on_insert(context: Any) -> datetime:
    """A new complaint is due for SLA evaluation when it is stored."""
    value = context.get_current_parameters().get("updated_at")
    return value if isinstance(value, datetime) else utcnow()


class Complaint(Base):
    """A consumer complaint: unified fields, raw upstream status and payload kept."""

    __tablename__ = "complaint"
    __table_args__ = (
        UniqueConstraint("channel", "account_id", "external_id"),
        Index("ix_complaint_status_complained", "status", "complained_at"),
        Index("ix_complaint_account_complained", "merchant_account_id", "complained_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int] = mapped_column(ForeignKey("merchant_account.id"))  # the credentials used
    merchant_account_id: Mapped[int] = mapped_column(
        ForeignKey("merchant_account.id")
    )  # who is complained about
    merchant_id: Mapped[str] = mapped_column(String(64))  # upstream id of that merchant
    external_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    raw_status: Mapped[str] = mapped_column(String(64))
    problem_type: Mapped[str] = mapped_column(String(64), default="")
    problem_description: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    amount_fen: Mapped[int | None] = mapped_column(Integer, default=None)
    refund_amount_fen: Mapped[int | None] = mapped_column(Integer, default=None)
    orders: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    payer_phone_enc: Mapped[str | None] = mapped_column(String(512), default=None)
    payer_phone_masked: Mapped[str | None] = mapped_column(String(32), default=None)
    payer_openid: Mapped[str | None] = mapped_column(String(128), default=None)
    complained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The upstream's own deadline for the current status (Mini Program ``expire_time``), if it gives one.
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    user_message_waiting: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    immediate_service: Mapped[bool] = mapped_column(Boolean, default=False)
    platform_assistance: Mapped[bool] = mapped_column(Boolean, default=False)
    fully_refunded: Mapped[bool] = mapped_column(Boolean, default=False)
    complaint_times: Mapped[int] = mapped_column(Integer, default=1)
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    unknown_values: Mapped[list[str]] = mapped_column(JSON, default=list)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raw_hash: Mapped[str] = mapped_column(String(64), default="")
    discovered_by: Mapped[str] = mapped_column(String(16), default="notification")  # notification | sync
    announced: Mapped[bool] = mapped_column(Boolean, default=False)  # a notification named it
    history_count: Mapped[int] = mapped_column(Integer, default=0)
    history_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: When an upstream snapshot was last applied; a sync that finds the complaint unchanged writes nothing
    #: (``sync_run`` says when the account was last reconciled).
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Console and SLA fields (written by core/sla and core/workflow; indexes in core/workflow/models.py).
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), default=None
    )
    sla_state: Mapped[str] = mapped_column(
        String(16), default="ok", server_default="ok"
    )  # ok|warning|breached
    sla_due_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=None
    )  # next deadline that matters
    #: When the SLA engine must look next. An insert, or an update that does not set it, makes it due
    #: at once (``updated_at`` before the update: never later than now), so every change is re-evaluated.
    sla_next_check_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=_due_on_insert, onupdate=literal_column("updated_at", UTCDateTime())
    )
    sla_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
