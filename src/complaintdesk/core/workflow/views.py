"""Saved views: a user's named inbox filters, stored as small validated JSON, ordered, capped in number.

The filter keys mean what the inbox query (``core/views/query.py``) reads; here they are only checked
to be a flat JSON object of short scalars or lists of scalars, never anything executable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from complaintdesk.core.users.permissions import Permission, Principal
from complaintdesk.core.workflow.models import SavedView
from complaintdesk.errors import ActionRefused, AlreadyExists, NotFound

MAX_VIEWS = 50
MAX_KEYS = 30
MAX_TEXT = 200
MAX_LIST = 50


def _name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 64:
        raise ActionRefused("a view name is 1-64 characters", field="name")
    return cleaned


def check_filters(filters: Any) -> dict[str, Any]:
    """A copy of ``filters`` if it is a flat JSON object of short values; ActionRefused otherwise."""
    if not isinstance(filters, dict) or len(filters) > MAX_KEYS:
        raise ActionRefused(f"a view's filters are a JSON object of at most {MAX_KEYS} keys", field="filters")
    checked: dict[str, Any] = {}
    for key, value in filters.items():
        if not isinstance(key, str) or not key or len(key) > 32:
            raise ActionRefused("a filter name is 1-32 characters", field="filters")
        if isinstance(value, list):
            if len(value) > MAX_LIST or not all(_scalar(v) for v in value):
                raise ActionRefused(f"filter {key!r} is not a short list of values", field="filters")
            checked[key] = list(value)
        elif _scalar(value):
            checked[key] = value
        else:
            raise ActionRefused(
                f"filter {key!r} must be text, a number, true/false or a list", field="filters"
            )
    return checked


def _scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    return value is None or isinstance(value, bool | int | float)


def _clash(session: Session, user_id: int, name: str, view_id: int | None = None) -> None:
    query = select(SavedView.id).where(SavedView.user_id == user_id, SavedView.name == name)
    if view_id is not None:
        query = query.where(SavedView.id != view_id)
    if session.scalar(query) is not None:
        raise AlreadyExists(f"you already have a view named {name!r}")


def create_view(
    *, session: Session, principal: Principal, name: str, filters: dict[str, Any], now: datetime
) -> SavedView:
    """Save a view at the end of the user's list."""
    principal.require(Permission.VIEW_SAVE)
    cleaned = _name(name)
    stored = check_filters(filters)
    count, last = session.execute(
        select(func.count(), func.max(SavedView.position)).where(SavedView.user_id == principal.user_id)
    ).one()
    if count >= MAX_VIEWS:
        raise ActionRefused(f"at most {MAX_VIEWS} saved views per user", field="name")
    _clash(session, principal.user_id, cleaned)
    view = SavedView(
        user_id=principal.user_id,
        name=cleaned,
        filters=stored,
        position=(last if last is not None else -1) + 1,
        created_at=now,
        updated_at=now,
    )
    session.add(view)
    session.flush()
    return view


def list_views(*, session: Session, principal: Principal) -> list[SavedView]:
    """The user's views in their order."""
    return list(
        session.scalars(
            select(SavedView)
            .where(SavedView.user_id == principal.user_id)
            .order_by(SavedView.position, SavedView.id)
        )
    )


def get_view(*, session: Session, principal: Principal, view_id: int) -> SavedView:
    """One of the user's views, or NotFound (other users' views do not exist for them)."""
    view = session.get(SavedView, view_id)
    if view is None or view.user_id != principal.user_id:
        raise NotFound(f"no saved view with id {view_id}")
    return view


def update_view(
    *,
    session: Session,
    principal: Principal,
    view_id: int,
    now: datetime,
    name: str | None = None,
    filters: dict[str, Any] | None = None,
) -> SavedView:
    """Rename a view or replace its filter."""
    view = get_view(session=session, principal=principal, view_id=view_id)
    if name is not None:
        cleaned = _name(name)
        _clash(session, principal.user_id, cleaned, view.id)
        view.name = cleaned
    if filters is not None:
        view.filters = check_filters(filters)
    view.updated_at = now
    session.flush()
    return view


def delete_view(*, session: Session, principal: Principal, view_id: int) -> None:
    """Delete one of the user's views."""
    session.delete(get_view(session=session, principal=principal, view_id=view_id))
    session.flush()


def reorder_views(*, session: Session, principal: Principal, view_ids: list[int]) -> list[SavedView]:
    """Put the user's views in this order (every one of their views, each once)."""
    views = {v.id: v for v in list_views(session=session, principal=principal)}
    if sorted(view_ids) != sorted(views):
        raise ActionRefused("give every one of your views exactly once", field="view_ids")
    for position, view_id in enumerate(view_ids):
        views[view_id].position = position
    session.flush()
    return [views[i] for i in view_ids]
