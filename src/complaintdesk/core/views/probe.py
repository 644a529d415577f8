"""Walking the inbox's sort order with a search term checked row by row (used by ``query.list_page``).

A term is first checked on each row of a narrow filter (:func:`search.within`). Otherwise a common term
fills a page within the first rows of the sort order, so the walk reads growing windows of the sort
order (:data:`FIRST_WINDOW` rows, then 4 times as many, each from the start), stops checking once the
page is full, and gives up (:class:`Inconclusive`) after a budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

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


DEADLINE = Sort((Complaint.sla_due_at, Complaint.id))
#: The rows without a deadline, in id order: ``sla_due_at`` (NULL in all of them) leads so that an index
#: ``(filter column, sla_due_at, id)`` gives the order (PostgreSQL walked the primary key for ``id`` alone).
BY_ID = Sort((Complaint.sla_due_at, Complaint.id))
NEWEST = Sort((Complaint.complained_at, Complaint.id), descending=True)


class Join:
    """The term's condition through the full-text index (None: too many matches to join), decided once
    by ``decide`` when a phase of the sort needs it; the later phases use it without walking."""

    def __init__(self, decide: Callable[[], ColumnElement[bool] | None]) -> None:
        self._decide = decide
        self.decided = False
        self._clause: ColumnElement[bool] | None = None

    def clause(self) -> ColumnElement[bool] | None:
        if not self.decided:
            self._clause = self._decide()
            self.decided = True
        return self._clause


@dataclass(frozen=True)
class Probe:
    """Look for ``term`` along the sort order, in at most ``rows`` rows, ``first`` of them at first."""

    term: str
    rows: int
    first: int = 0
    narrow: bool = True  # the filter may be narrow: try :func:`search.within` first
    joined: Join | None = None  # after the walk: the term's condition through its index


def fetch(
    session: Session, where: list[ColumnElement[bool]], sort: Sort, limit: int, probe: Probe | None
) -> list[Complaint]:
    """Rows in ``sort`` order; with ``probe``, only those containing its term: in a narrow filter
    (:func:`search.within`) by checking each of its rows, otherwise looked for in the first
    ``probe.first`` rows of the sort order (default :data:`FIRST_WINDOW`), then 4 times as many, … up
    to ``probe.rows`` rows; then the term's condition through the full-text index (``probe.joined``,
    used at once by the later phases), else :class:`Inconclusive`.

    Each read takes the sort keys of the rows from the start (in a subquery, so that a database sorting
    the filter checks the term only on the rows kept), checks the term on those rows in order until the
    page is full, and loads the matching rows. Reads restart from the start rather than after the last
    key: a row-value bound makes PostgreSQL misjudge how many rows remain and sort the whole filter.
    """
    if probe is None:
        return list(session.scalars(select(Complaint).where(*where).order_by(*sort.order()).limit(limit)))
    if probe.joined and probe.joined.decided and probe.joined.clause() is not None:
        return _joined(session, where, sort, limit, probe.joined)  # an earlier phase walked in vain
    window = min(probe.first or FIRST_WINDOW, probe.rows)
    walked = False
    with _walking(session):
        narrow = search.within(session, where, probe.term) if probe.narrow else None
        # A filter found wider than ``search.NARROW_CAP`` rows is not read whole by a smaller window.
        wider = search.NARROW_CAP if probe.narrow else 0
        while narrow is None:
            ids, complete = _read(session, where, sort, window, probe.term, limit, window < wider)
            if complete or len(ids) >= limit:
                return _load(session, ids[:limit])
            if window >= probe.rows:
                walked = True
                break
            window = min(window * 4, probe.rows)
    if walked:  # outside ``_walking``: the trigram index is read by bitmap scans only
        if probe.joined is None or probe.joined.clause() is None:
            raise Inconclusive
        return _joined(session, where, sort, limit, probe.joined)
    if not narrow:
        return []
    page = select(Complaint).where(Complaint.id.in_(narrow)).order_by(*sort.order()).limit(limit)
    return list(session.scalars(page))


def _joined(
    session: Session, where: list[ColumnElement[bool]], sort: Sort, limit: int, join: Join
) -> list[Complaint]:
    """The page through the term's index condition, planned for the actual values with bitmap scans."""
    clause = join.clause()
    assert clause is not None
    with _walking(session, bitmaps="on"):
        return fetch(session, [*where, clause], sort, limit, None)


def _read(
    session: Session,
    where: list[ColumnElement[bool]],
    sort: Sort,
    window: int,
    term: str,
    limit: int,
    wider: bool = False,
) -> tuple[list[int], bool]:
    """Ids of the first ``limit`` rows containing ``term`` among the first ``window`` of the sort order
    (the check stops once the page is full), and whether those were all the filter's rows (not counted
    when the filter is known to be ``wider`` than the window)."""
    keys = select(*sort.columns).where(*where).order_by(*sort.order()).limit(window).subquery()
    row = aliased(Complaint)
    ordered = [c.desc() if sort.descending else c for c in keys.c]
    found = (
        select(keys.c.id)
        .join_from(keys, row, row.id == keys.c.id)
        .where(search.like_clause(term, row))
        .order_by(*ordered)
        .limit(limit)
    )
    ids = [int(i) for i in session.scalars(found)]
    if len(ids) >= limit or wider:
        return ids, False
    return ids, int(session.scalar(select(func.count()).select_from(keys)) or 0) < window


@contextmanager
def _walking(session: Session, bitmaps: str = "off") -> Iterator[None]:
    """PostgreSQL: no bitmap scans while probing. It takes "active" and "has a deadline" as independent
    (they are the same rows), expects a tenth of the real row count and prefers a bitmap of every active
    complaint (100,000 at 1,000,000 rows) to a filter's own index, or to the walk along the sort index
    that the probe is built for. Plans are made for the actual values (psycopg prepares a statement run
    five times, and PostgreSQL's generic plan for it would guess the filter's size). With ``bitmaps``
    "on", only the plans for the actual values (the join through the trigram index: a generic plan
    cannot know the pattern's trigrams)."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    off = text(
        "SELECT current_setting('enable_bitmapscan'), current_setting('plan_cache_mode'),"
        " set_config('enable_bitmapscan', :bitmaps, true),"
        " set_config('plan_cache_mode', 'force_custom_plan', true)"
    )
    bitmap, cache, *_ = session.execute(off, {"bitmaps": bitmaps}).one()
    failed = False
    try:
        yield
    except DBAPIError:  # the transaction is aborted: its rollback undoes the local setting
        failed = True
        raise
    finally:
        if not failed:
            restore = text(
                "SELECT set_config('enable_bitmapscan', :b, true), set_config('plan_cache_mode', :c, true)"
            )
            session.execute(restore, {"b": bitmap, "c": cache})


def _load(session: Session, ids: list[int]) -> list[Complaint]:
    """The complaints of ``ids``, in that order."""
    if not ids:
        return []
    found = {c.id: c for c in session.scalars(select(Complaint).where(Complaint.id.in_(ids)))}
    return [found[i] for i in ids if i in found]
