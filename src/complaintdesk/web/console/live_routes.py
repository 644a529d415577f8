"""The live console: a server-sent event stream per open page, and what the page says it is doing.

``GET /live`` streams changes to the inbox (complaints in the user's scope) or, with ``complaint``, to
one complaint page, which is then shown to colleagues as viewing it (``POST /live/presence`` switches
it to composing and back). The browser's ``EventSource`` reconnects by itself with ``Last-Event-ID``;
the hub replays what it still keeps. The stream ends when the user's session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse

from complaintdesk.core.live import feed
from complaintdesk.core.live.models import LiveKind
from complaintdesk.core.users import sessions as session_service
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import Principal
from complaintdesk.db import MAX_ID
from complaintdesk.errors import DomainError
from complaintdesk.runtime import AppContext
from complaintdesk.web.console.deps import (
    CsrfDep,
    CtxDep,
    DbDep,
    PrincipalDep,
    SessionDep,
    complaint_for,
    form_text,
)
from complaintdesk.web.console.live_hub import Subscriber, hub_for

router = APIRouter(include_in_schema=False)

PRESENCE_STATES = ("viewing", "composing")


def _resume_after(request: Request) -> int | None:
    value = request.headers.get("last-event-id", "")
    return int(value) if value.isdigit() and len(value) < 19 else None


@router.get("/live")
def live(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    principal: PrincipalDep,
    session: SessionDep,
    complaint: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """An event stream of the inbox, or of one complaint (``?complaint=ID``) with its presence."""
    tab: Tab | None = None
    if complaint is not None:
        complaint_for(request, ctx, db, principal, complaint)
        name = getattr(request.state, "console_user_name", "") or principal.username
        tab = Tab(str(uuid.uuid4()), complaint, name)
        feed.arrive(
            db, tab_id=tab.tab_id, complaint_id=complaint, user_id=principal.user_id, name=name,
            now=ctx.clock.now(),
        )  # fmt: skip
    signed_in = (principal.user_id, session.session_id, session.version)
    stream = _stream(ctx, principal, tab, signed_in, _resume_after(request))
    return EventSourceResponse(stream, ping=15, headers={"Cache-Control": "no-store"})


async def _stream(
    ctx: AppContext,
    principal: Principal,
    tab: Tab | None,
    signed_in: tuple[int, str, int],
    resume_after: int | None,
) -> AsyncIterator[dict[str, Any]]:
    complaint_id = tab.complaint_id if tab is not None else None
    hub = hub_for(ctx)
    subscriber = Subscriber(scope=principal.scope, complaint_id=complaint_id)
    await hub.subscribe(subscriber, resume_after=resume_after)
    try:
        yield {"event": "hello", "data": json.dumps({"tab": tab.tab_id if tab else None})}
        if complaint_id is not None:
            yield await _presence(ctx, complaint_id, principal.user_id, None)
        while True:
            try:
                item = await asyncio.wait_for(
                    subscriber.queue.get(), timeout=ctx.settings.live_heartbeat_seconds
                )
            except TimeoutError:
                if not await ctx.db(lambda s: _heartbeat(s, ctx, tab, signed_in)):
                    yield {"event": "ended", "data": "{}"}
                    return
                continue
            batch = [item]
            while not subscriber.queue.empty():
                batch.append(subscriber.queue.get_nowait())
            for event in await _messages(ctx, batch, principal.user_id):
                yield event
    finally:
        hub.unsubscribe(subscriber)
        if tab is not None:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await ctx.db(lambda s: feed.leave(s, tab_id=tab.tab_id))


async def _messages(ctx: AppContext, batch: list[feed.FeedEvent], user_id: int) -> list[dict[str, Any]]:
    """One message per changed complaint and kind (a burst of events becomes one refresh each)."""
    newest: dict[tuple[int, str], int] = {}
    for item in batch:
        newest[(item.complaint_id, item.kind)] = item.id
    messages = []
    for (complaint_id, kind), event_id in sorted(newest.items(), key=lambda pair: pair[1]):
        if kind == LiveKind.PRESENCE:
            messages.append(await _presence(ctx, complaint_id, user_id, event_id))
        else:
            data = json.dumps({"complaint": complaint_id})
            messages.append({"event": kind, "id": str(event_id), "data": data})
    return messages


async def _presence(ctx: AppContext, complaint_id: int, user_id: int, event_id: int | None) -> dict[str, Any]:
    """Who else has the complaint open (the user's own tabs are left out)."""
    now = ctx.clock.now()
    found = await ctx.db(lambda s: feed.people(s, complaint_id=complaint_id, now=now))
    others: dict[int, dict[str, str]] = {}
    for _tab, person in found:
        if person.user_id == user_id:
            continue
        known = others.get(person.user_id)
        if known is None or person.state == "composing":
            others[person.user_id] = {"name": person.name, "state": person.state}
    message: dict[str, Any] = {"event": "presence", "data": json.dumps({"people": list(others.values())})}
    if event_id is not None:
        message["id"] = str(event_id)
    return message


@dataclass(frozen=True)
class Tab:
    """An open complaint page's presence."""

    tab_id: str
    complaint_id: int
    name: str


def _heartbeat(db: Session, ctx: AppContext, tab: Tab | None, signed_in: tuple[int, str, int]) -> bool:
    """Renew the tab's presence; False once the user's session has ended (signed out, deactivated…)."""
    user_id, session_id, version = signed_in
    user = db.get(User, user_id)
    if (
        user is None
        or not user.active
        or user.session_version != version
        or not session_service.is_live(session=db, session_id=session_id, user_id=user_id)
    ):
        return False
    now = ctx.clock.now()
    if tab is not None and not feed.renew(db, tab_id=tab.tab_id, user_id=user_id, now=now):
        # pruned while this process was paused past the TTL: the page is still open, so it is back
        feed.arrive(
            db, tab_id=tab.tab_id, complaint_id=tab.complaint_id, user_id=user_id, name=tab.name, now=now
        )
    return True


@router.post("/live/presence", dependencies=[CsrfDep])
async def presence(request: Request, ctx: CtxDep, db: DbDep, principal: PrincipalDep) -> Response:
    """The page's operator started or stopped composing (``tab``, ``state``); 204 once stored."""
    form = await request.form()
    tab_id, state = form_text(form, "tab", 36), form_text(form, "state", 16)
    if state not in PRESENCE_STATES:
        raise DomainError(f"state must be one of {', '.join(PRESENCE_STATES)}")
    now = ctx.clock.now()
    if not await asyncio.to_thread(
        lambda: feed.renew(db, tab_id=tab_id, user_id=principal.user_id, now=now, state=state)
    ):
        raise DomainError("this page is no longer live; reload it")
    return Response(status_code=204)
