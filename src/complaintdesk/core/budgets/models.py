"""Budget grants shared by every process that talks to an upstream."""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.db import Base


class BudgetGrant(Base):
    """One granted upstream call (seconds since the epoch); old rows are deleted as windows slide."""

    __tablename__ = "budget_grant"
    __table_args__ = (Index("ix_budget_grant_key_at", "key", "granted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[float] = mapped_column(Float)
