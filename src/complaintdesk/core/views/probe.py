"""Walking the inbox's sort order with a search term checked row by row (used by ``query.list_page``).

A common term fills a page within the first rows of the sort order, so the walk goes in windows of the
sort order (:data:`FIRST_WINDOW` rows, then doubling) and gives up (:class:`Inconclusive`) after a budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.orm import Session

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.views import search

FIRST_WINDOW = 1000


class Inconclusive(Exception):
    """The probe walked its budget of rows without filling the page."""


@dataclass(frozen=True)
class Sort:
    """Key columns of a sort order and its direction."""

    columns: tuple[Any, ...]
    descending: bool = False

    def order(self) -> list[Any]:
        return [c.desc() if self.descending else c for c in self.columns]

    def after(self, key: Any) -> ColumnElement[bool]:
        row, value = tuple_(*self.columns), tuple_(*key)
        return row < value if self.descending else row > value

    def up_to(self, key: Any) -> ColumnElement[bool]:
        row, value = tuple_(*self.columns), tuple_(*key)
        return row >= value if self.descending else row <= value


DEADLINE = Sort((Complaint.sla_due_at, Complaint.id))
BY_ID = Sort((Complaint.id,))
NEWEST = Sort((Complaint.complained_at, Complaint.id), descending=True)


@dataclass(frozen=True)
class Probe:
    """Look for ``term`` along the sort order, in at most ``rows`` rows."""

    term: str
    rows: int


def fetch(
    session: Session, where: list[ColumnElement[bool]], sort: Sort, limit: int, probe: Probe | None
) -> list[Complaint]:
    """Rows in ``sort`` order; with ``probe``, only those containing its term, looked for in windows of
    the sort order (:data:`FIRST_WINDOW` rows, then doubling) up to ``probe.rows`` rows (then
    :class:`Inconclusive`)."""
    if probe is None:
        return list(session.scalars(select(Complaint).where(*where).order_by(*sort.order()).limit(limit)))
    like = search.like_clause(probe.term)
    budget = probe.rows
    found: list[Complaint] = []
    start: Any = None
    walked, window = 0, min(FIRST_WINDOW, budget)
    while True:
        bounds = [*where, sort.after(start)] if start is not None else list(where)
        edge = session.execute(
            select(*sort.columns).where(*bounds).order_by(*sort.order()).offset(window - 1).limit(1)
        ).first()
        upto = [*bounds, sort.up_to(tuple(edge))] if edge is not None else bounds
        query = select(Complaint).where(*upto, like).order_by(*sort.order()).limit(limit - len(found))
        found += session.scalars(query)
        if len(found) >= limit or edge is None:
            return found
        walked += window
        if walked >= budget:
            raise Inconclusive
        start, window = tuple(edge), min(window * 2, budget - walked)
