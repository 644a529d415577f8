"""The daily roll-up the dashboard reads for past days (migration ``0010r``; design in docs/reports.md).

Each table keeps one row per Asia/Shanghai day and *key*: the merchant account complained about, the
credentialed account and the channel — and, once more, the whole day under the :data:`ALL` key
(``merchant_account_id = 0``, ``channel = '*'``), read when nothing narrows the report.

* ``report_day``: counts of what happened that day (complaints received and their outcomes, and
  complaints finished that day).
* ``report_day_problem``: complaints received per problem type.
* ``report_day_duration``: first-response and time-to-finish histograms (fixed log-spaced buckets,
  with the smallest and largest value of each bucket so a bucket of equal values reads exactly).
* ``report_day_operator``: actions requested per operator (the day the action was requested).
* ``report_rollup_state``: every day before ``complete_until`` has been rolled up …
* ``report_stale_day``: … except these, changed since (read live until the next refresh).

The ``(merchant_account_id, day, …)`` indexes cover what a report sums, so it reads no table rows.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.db import Base

#: The key of the rows covering every account and channel of a day.
ALL_MERCHANT = 0
ALL_CHANNEL = "*"
#: The count columns of ``report_day`` (``times_N``: upstream complaint count bucket starting at N).
COUNTS = (
    "received", "finished", "breached", "warned", "requested", "approved", "rejected",
    "requested_fen", "approved_fen", "rejected_fen",
    "times_1", "times_2", "times_3", "times_4", "times_6", "returning_payer",
)  # fmt: skip


class _Keyed:
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    merchant_account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)


class ReportDay(_Keyed, Base):
    """What happened on one day for one key."""

    __tablename__ = "report_day"
    __table_args__ = (Index("ix_report_day_merchant", "merchant_account_id", "day"),)

    received: Mapped[int] = mapped_column(Integer, default=0)
    finished: Mapped[int] = mapped_column(Integer, default=0)
    breached: Mapped[int] = mapped_column(Integer, default=0)
    warned: Mapped[int] = mapped_column(Integer, default=0)
    requested: Mapped[int] = mapped_column(Integer, default=0)
    approved: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    requested_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    approved_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    times_1: Mapped[int] = mapped_column(Integer, default=0)
    times_2: Mapped[int] = mapped_column(Integer, default=0)
    times_3: Mapped[int] = mapped_column(Integer, default=0)
    times_4: Mapped[int] = mapped_column(Integer, default=0)
    times_6: Mapped[int] = mapped_column(Integer, default=0)
    returning_payer: Mapped[int] = mapped_column(Integer, default=0)


class ReportDayProblem(_Keyed, Base):
    """Complaints received on one day for one key, per problem type."""

    __tablename__ = "report_day_problem"
    __table_args__ = (
        Index("ix_report_day_problem_merchant", "merchant_account_id", "day", "problem_type", "n"),
    )

    problem_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class ReportDayDuration(_Keyed, Base):
    """How many durations of a metric fell in a bucket, and their extremes (seconds)."""

    __tablename__ = "report_day_duration"
    __table_args__ = (
        Index(
            "ix_report_day_duration_merchant",
            *("merchant_account_id", "day", "metric", "bucket", "n", "min_seconds", "max_seconds"),
        ),
    )

    metric: Mapped[str] = mapped_column(String(16), primary_key=True)  # first_response | finish
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    min_seconds: Mapped[float] = mapped_column(Float)
    max_seconds: Mapped[float] = mapped_column(Float)


class ReportDayOperator(_Keyed, Base):
    """Actions requested on one day for one key, per operator (``requested_by``)."""

    __tablename__ = "report_day_operator"
    __table_args__ = (
        Index("ix_report_day_operator_merchant", "merchant_account_id", "day", "operator", "n"),
    )

    operator: Mapped[str] = mapped_column(String(128), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class ReportRollupState(Base):
    """One row: every day before ``complete_until`` was rolled up (None: nothing yet)."""

    __tablename__ = "report_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complete_until: Mapped[date | None] = mapped_column(Date, default=None)


class ReportStaleDay(Base):
    """A rolled-up day whose complaints or actions changed since; read live until refreshed."""

    __tablename__ = "report_stale_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
