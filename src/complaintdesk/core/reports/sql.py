"""The few SQL expressions that differ between SQLite and PostgreSQL: days, durations, percentiles."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, case, cast, func, literal_column, select
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
    # SQLite: one sort, numbering the rows, then the nearest ranks picked from it
    inner = (
        select(
            expr.label("v"),
            func.row_number().over(order_by=expr).label("rn"),
            func.count().over().label("n"),
        )
        .where(*present)
        .subquery()
    )
    n_col, rn, v = inner.c.n, inner.c.rn, inner.c.v
    wanted = [func.max(n_col)]
    for p in ranks:  # ceil(p * n) without a ceil function: the first rank whose share reaches p
        rank = (n_col * literal_column(str(p)) + literal_column("0.999999999")).cast(Integer)
        wanted.append(func.max(case((rn == func.max(literal_column("1"), rank), v))))
    row = session.execute(select(*wanted)).one()
    n = int(row[0] or 0)
    return n, [None if n == 0 or value is None else float(value) for value in row[1:]]
