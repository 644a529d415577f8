"""The evidence archive: image bytes stored once by SHA-256, linked to complaints by upstream URL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.db import Base, UTCDateTime


class MediaFile(Base):
    """One stored file (its bytes live in the evidence store, ``ctx.media_storage``)."""

    __tablename__ = "media_file"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaLink(Base):
    """An upstream image URL seen on a complaint; ``sha256`` is set once it is archived."""

    __tablename__ = "media_link"
    __table_args__ = (
        UniqueConstraint("complaint_id", "url"),
        Index("ix_media_link_pending", "sha256", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str | None] = mapped_column(ForeignKey("media_file.sha256"), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    #: Claims so far; only the holder of the current fence downloads and records the file.
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaUpload(Base):
    """Who uploaded a file and for which merchant accounts: an action may use an uploaded image only
    on a complaint of those accounts (see ``outbox.service.request_action``)."""

    __tablename__ = "media_upload"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("media_file.sha256"), index=True)
    uploaded_by: Mapped[str] = mapped_column(String(128))  # "token:<name>", "user:<name>", "cli"
    all_accounts: Mapped[bool] = mapped_column(Boolean, default=False)
    account_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
