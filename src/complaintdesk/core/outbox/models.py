"""The durable outbox: every merchant action, written before anything is sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.db import Base, UTCDateTime


class ActionStatus:
    """States of an outbound action.

    pending → sending → sent
                      ↘ uncertain (timeout after sending: history is checked before any retry)
                      ↘ pending (safe retry later) → … → failed (final; upstream code and message kept)
    """

    PENDING = "pending"
    SENDING = "sending"
    UNCERTAIN = "uncertain"
    SENT = "sent"
    FAILED = "failed"

    FINAL = ("sent", "failed")
    OPEN = ("pending", "sending", "uncertain")


class OutboundAction(Base):
    """One action an operator or the API asked for."""

    __tablename__ = "outbound_action"
    __table_args__ = (
        Index("ix_outbound_action_complaint_status", "complaint_id", "status"),
        UniqueConstraint("complaint_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid, also the idempotency key
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3… per complaint: the order actions are sent in
    account_id: Mapped[int] = mapped_column(ForeignKey("merchant_account.id"))
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    image_refs: Mapped[list[str]] = mapped_column(JSON, default=list)  # archive SHA-256s to upload first
    status: Mapped[str] = mapped_column(String(16), default=ActionStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Claims so far; only the holder of the current fence may send or settle (see ``outbox.service``).
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Until when the current claim holds; past it, another sender may take the action over.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    error_code: Mapped[str] = mapped_column(String(64), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    upstream_ref: Mapped[str | None] = mapped_column(String(128), default=None)
    requested_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class UploadedMedia(Base):
    """An archived image already uploaded upstream for an account (its media id is reused)."""

    __tablename__ = "uploaded_media"
    __table_args__ = (UniqueConstraint("account_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("merchant_account.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    media_id: Mapped[str] = mapped_column(String(512))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
