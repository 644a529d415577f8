"""Bounded integer parameters, shared by the API and the console.

Every integer a route takes from its path or query string uses one of these types, so a value past
what the database can bind (``offset=2**63``, a 20-digit id) is refused as invalid input (422 for the
API, a 404/400 page for the console) before any query runs; ``tests/web/test_integer_params.py``
walks the routes to keep it so. Form fields go through :func:`form_id` / :func:`form_ids`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from complaintdesk.db import MAX_ID, as_id

#: The deepest offset a list may be read from (far beyond any real inbox; fits every backend).
MAX_OFFSET = 10_000_000
#: The last audit page (100 events a page).
MAX_PAGE = 100_000

#: A row id in the path (``/complaints/{complaint_id}``).
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
#: How many rows to skip.
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
#: A 0-based page number.
PageQuery = Annotated[int, Query(ge=0, le=MAX_PAGE)]


def form_id(form: Any, name: str) -> int | None:
    """A row id from a form field, or None when absent, malformed or out of range."""
    return as_id(form.get(name))


def form_ids(form: Any, name: str) -> list[int]:
    """Every valid row id among a form's repeated field (the others are dropped)."""
    return [i for i in (as_id(v) for v in form.getlist(name)) if i is not None]
