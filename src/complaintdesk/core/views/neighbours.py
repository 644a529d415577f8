"""The complaint before or after another one in an inbox view, in that view's order and filters.

An operator works through a view one complaint after the other; the neighbour is found from the current
complaint's place in the sort order (see :mod:`complaintdesk.core.views.query`), so it is right even
when the current complaint has just left the view (answered, reassigned) while the operator read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.orm import Session

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.views import search
from complaintdesk.core.views.query import InboxFilters, conditions

#: Query parameters that make an ad-hoc view (anything else names a built-in or saved view).
FILTER_KEYS = ("status", "channel", "account", "sla", "assignee", "needs", "from", "to", "tag", "q", "sort")
DEFAULT_VIEW = "todo"


def resolve(params: Mapping[str, str], views: Mapping[str, InboxFilters]) -> tuple[str, InboxFilters]:
    """The view a query string names: ``view=<key>`` alone, else its filters, else the default view."""
    active = params.get("view", "")
    filtered = any(k in params for k in FILTER_KEYS)
    if active in views and not filtered:
        return active, views[active]
    if filtered:
        return "", InboxFilters.from_params(dict(params))
    return DEFAULT_VIEW, views[DEFAULT_VIEW]


def _first(session: Session, where: list[ColumnElement[bool]], order: list[Any]) -> Complaint | None:
    return session.scalars(select(Complaint).where(*where).order_by(*order).limit(1)).first()


def neighbour(
    *,
    session: Session,
    filters: InboxFilters,
    scope: ColumnElement[bool],
    current: Complaint,
    forward: bool,
    user_id: int | None = None,
) -> Complaint | None:
    """The complaint after (``forward``) or before ``current`` in the view, or None at either end."""
    where = conditions(filters, scope=scope, user_id=user_id, session=session)
    where.append(Complaint.id != current.id)
    if filters.q:
        where.append(search.clause(session, filters.q))
    if filters.sort == "newest":  # complained_at, id descending
        key, here = tuple_(Complaint.complained_at, Complaint.id), tuple_(current.complained_at, current.id)
        if forward:
            return _first(
                session, [*where, key < here], [Complaint.complained_at.desc(), Complaint.id.desc()]
            )
        return _first(session, [*where, key > here], [Complaint.complained_at, Complaint.id])
    dated, undated = Complaint.sla_due_at.is_not(None), Complaint.sla_due_at.is_(None)
    ascending, descending = (
        [Complaint.sla_due_at, Complaint.id],
        [Complaint.sla_due_at.desc(), Complaint.id.desc()],
    )
    if current.sla_due_at is not None:  # among the rows with a deadline, which come first
        key, here = tuple_(Complaint.sla_due_at, Complaint.id), tuple_(current.sla_due_at, current.id)
        if not forward:
            return _first(session, [*where, dated, key < here], descending)
        return _first(session, [*where, dated, key > here], ascending) or _first(
            session, [*where, undated], [Complaint.id]
        )
    if forward:
        return _first(session, [*where, undated, Complaint.id > current.id], [Complaint.id])
    return _first(session, [*where, undated, Complaint.id < current.id], [Complaint.id.desc()]) or _first(
        session, [*where, dated], descending
    )
