"""Timeline entries: upstream history, notifications, our actions, notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.db import Base, UTCDateTime


class TimelineEntry(Base):
    """One event in a complaint's story; ``dedupe_key`` makes merging idempotent.

    ``echo_of`` is set on an upstream history entry that records one of our own actions: it points at
    the action's entry, which is the one shown (the echo is kept for idempotent merging and the SLA).
    """

    __tablename__ = "timeline_entry"
    __table_args__ = (
        UniqueConstraint("complaint_id", "dedupe_key"),
        Index("ix_timeline_complaint_time", "complaint_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))  # history | notification | action | system | note
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(32))  # user | merchant | platform | system | operator
    actor_label: Mapped[str] = mapped_column(String(64), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text, default="")
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    known: Mapped[bool] = mapped_column(Boolean, default=True)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    echo_of: Mapped[int | None] = mapped_column(
        ForeignKey("timeline_entry.id", ondelete="SET NULL"), nullable=True, default=None
    )
