"""The web edge's unit of work: one transaction per request, committed before the answer is sent.

FastAPI runs the code after ``yield`` of a dependency declared with ``scope="function"`` once the path
operation has returned (its answer built) but before that answer is sent; with the default
``scope="request"`` it runs after the answer has left, so a client could be told "done" about a write
that a crash or a failing commit then loses. Every route of the API and the console reaches the
database through :data:`DbSession` (``tests/web/test_unit_of_work.py`` walks the routes to keep it so).

- the route returns: commit, then the answer is sent; a failing commit answers :class:`WriteFailed`
  (500: JSON for the API, the error page for the console) and nothing of the request is kept;
- the route raises (a domain error, 401, a bug): roll back, then the exception handlers answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from complaintdesk.db import unit_of_work
from complaintdesk.errors import WriteFailed
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)


def transaction(request: Request) -> Iterator[Session]:
    """The request's session; committed when the route returns, before its answer is sent."""
    ctx: AppContext = request.app.state.ctx
    committing = False
    try:
        with unit_of_work(ctx.sessions) as session:
            yield session
            committing = True  # reached only when the route returned: leaving the block commits
    except SQLAlchemyError as exc:
        if not committing:
            raise
        log.exception("commit failed, nothing of %s %s was saved", request.method, request.url.path)
        raise WriteFailed("the change could not be saved (nothing was changed); try again") from exc


#: The only way a route (or a dependency of one) gets a database session.
DbSession = Annotated[Session, Depends(transaction, scope="function")]
