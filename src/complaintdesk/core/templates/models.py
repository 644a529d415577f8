"""Reply templates (canned responses) with variables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.db import Base, UTCDateTime


class ReplyTemplate(Base):
    """A reply text with ``{{ variables }}``, for one channel or all, and some merchant accounts or all."""

    __tablename__ = "reply_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(32), default=None)  # None: every channel
    all_accounts: Mapped[bool] = mapped_column(Boolean, default=True)
    account_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
