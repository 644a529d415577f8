"""Dependencies of the JSON API: the context, a database session, the caller's token scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.tokens import service as token_service
from complaintdesk.core.tokens.service import Scope
from complaintdesk.errors import ComplaintNotFound, Forbidden
from complaintdesk.runtime import AppContext
from complaintdesk.web.uow import DbSession


def get_ctx(request: Request) -> AppContext:
    """The application context."""
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


#: The request's unit of work, committed before the answer is sent (see ``web/uow.py``).
SessionDep = DbSession


def get_scope(request: Request, ctx: CtxDep, session: SessionDep) -> Scope:
    """Authenticate ``Authorization: Bearer cdk_…``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    scope = (
        token_service.authenticate(session=session, token=token.strip(), now=ctx.clock.now())
        if scheme.lower() == "bearer"
        else None
    )
    if scope is None:
        raise HTTPException(
            status_code=401, detail="a valid API token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return scope


ScopeDep = Annotated[Scope, Depends(get_scope)]


def writer(scope: ScopeDep) -> Scope:
    """A scope that may request actions."""
    if not scope.can_write:
        raise Forbidden("this API token is read-only")
    return scope


WriterDep = Annotated[Scope, Depends(writer)]


def complaint_in_scope(session: Session, scope: Scope, complaint_id: int) -> Complaint:
    """A complaint the caller may see; anything else is 'not found' (existence is not revealed)."""
    try:
        complaint = complaint_service.get(session=session, complaint_id=complaint_id)
    except ComplaintNotFound:
        raise ComplaintNotFound(f"no complaint with id {complaint_id}") from None
    if not scope.allows(complaint):
        raise ComplaintNotFound(f"no complaint with id {complaint_id}")
    return complaint
