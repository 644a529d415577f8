"""The few SQL expressions that differ between SQLite and PostgreSQL: days, durations, percentiles."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Float, cast, func, literal_column, select
from sqlalchemy.orm import Session

#: Asia/Shanghai has kept UTC+8 all year since 1991, so a fixed offset buckets days exactly.
_SQLITE_SHIFT = "+8 hours"


def dialect(session: Session) -> str:
    """``sqlite`` or ``postgresql``."""
    return session.get_bind().dialect.name


def local_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The Asia/Shanghai day of a UTC instant column."""
    if dialect(session) == "sqlite":
        return func.date(column, _SQLITE_SHIFT)
    return func.date(func.timezone("Asia/Shanghai", column))


def as_date(value: Any) -> date:
    """A day as the database returned it (PostgreSQL: a date; SQLite: ``YYYY-MM-DD`` text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """``end - start`` in seconds (a float)."""
    if dialect(session) == "sqlite":
        # julianday() is a float of days: rounded to the millisecond, whole hours stay whole
        days = func.julianday(end) - func.julianday(start)
        return cast(func.round(days * literal_column("86400.0"), 3), Float)
    return cast(func.extract("epoch", end - start), Float)


def percentiles(
    session: Session, expr: ColumnElement[float], where: list[ColumnElement[bool]], ranks: tuple[float, ...]
) -> tuple[int, list[float | None]]:
    """How many rows have ``expr``, and its nearest-rank percentiles (the smallest value with at least
    that share of the rows at or below it; PostgreSQL's ``percentile_disc``)."""
    present = [*where, expr.is_not(None)]
    if dialect(session) == "postgresql":
        row = session.execute(
            select(func.count(), *(func.percentile_disc(p).within_group(expr) for p in ranks)).where(*present)
        ).one()
        return int(row[0]), [None if v is None else float(v) for v in row[1:]]
    n = int(session.scalar(select(func.count()).where(*present)) or 0)
    values: list[float | None] = []
    for p in ranks:
        if n == 0:
            values.append(None)
            continue
        k = max(1, math.ceil(p * n))
        value = session.scalar(select(expr).where(*present).order_by(expr).offset(k - 1).limit(1))
        values.append(None if value is None else float(value))
    return n, values
