"""API bearer tokens, scoped to merchant accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.db import Base, UTCDateTime


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored. ``all_accounts`` or a list of ``account_ids``."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    all_accounts: Mapped[bool] = mapped_column(Boolean, default=False)
    account_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    can_write: Mapped[bool] = mapped_column(Boolean, default=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
