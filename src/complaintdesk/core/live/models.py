"""The change feed the live console follows, and who has a complaint open."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.db import Base, UTCDateTime


class LiveKind:
    """What changed: the complaint's row, its timeline (entries, our actions), or who is on it."""

    COMPLAINT = "complaint"
    TIMELINE = "timeline"
    PRESENCE = "presence"


class LiveEvent(Base):
    """One change, written in the transaction that made it; every console process tails this table.

    Rows are short-lived (pruned after ``LIVE_RETENTION``): a browser that reconnects within that time
    resumes from its last event id, later ones reload.
    """

    __tablename__ = "live_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Presence(Base):
    """One open complaint page (a browser tab's live stream): viewing, or composing a reply."""

    __tablename__ = "console_presence"
    __table_args__ = (Index("ix_console_presence_complaint", "complaint_id", "seen_at"),)

    tab_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="viewing")
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
