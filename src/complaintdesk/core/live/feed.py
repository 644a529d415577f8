"""Record what the live console must show, in the transaction that changes it, and read it back.

Every unit of work of an :class:`~complaintdesk.runtime.AppContext` is watched (:func:`record_changes`):
after each flush, the complaints whose row, timeline entries or actions changed get a ``live_event``
row in the same transaction, so an event exists exactly when its change is committed, whichever
process or worker made it. On PostgreSQL the transaction also NOTIFYs :data:`CHANNEL` (delivered at
commit), so followers wake at once; on SQLite they poll the table.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, select, text
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.live.models import LiveEvent, LiveKind, Presence
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.core.workflow.models import ComplaintTag

#: The PostgreSQL NOTIFY channel of the feed.
CHANNEL = "complaintdesk_live"
#: How long events are kept for browsers that reconnect.
LIVE_RETENTION = timedelta(minutes=10)
#: A presence not renewed for this long is gone (its process died, or the network did).
PRESENCE_TTL = timedelta(seconds=30)
_NOTIFIED = "live_notified"


@dataclass(frozen=True)
class FeedEvent:
    """A committed change, with the accounts that may see it (None: the complaint is gone)."""

    id: int
    complaint_id: int
    kind: str
    account_id: int | None
    merchant_account_id: int | None


def _changes(session: Session) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Complaint):
            if obj.id is not None and (obj in session.new or session.is_modified(obj)):
                found.add((obj.id, LiveKind.COMPLAINT))
        elif isinstance(obj, (TimelineEntry, OutboundAction)):
            if obj.complaint_id is not None and (obj in session.new or session.is_modified(obj)):
                found.add((obj.complaint_id, LiveKind.TIMELINE))
        elif isinstance(obj, ComplaintTag) and obj.complaint_id is not None:
            found.add((obj.complaint_id, LiveKind.COMPLAINT))
    return found


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    emit(session, _changes(session))


def _forget_notified(session: Session, *_: Any) -> None:
    session.info.pop(_NOTIFIED, None)


#: Factories already watched (dropped with them).
_WATCHED: weakref.WeakSet[sessionmaker[Session]] = weakref.WeakSet()


def record_changes(factory: sessionmaker[Session]) -> None:
    """Watch every session of ``factory`` (idempotent).

    Watched factories are remembered weakly here: ``event.contains`` keys its registry by ``id()``, so a new
    factory at the address of a collected one looked watched already and got no listeners (a flaky test).
    """
    if factory not in _WATCHED:
        _WATCHED.add(factory)
        event.listen(factory, "after_flush", _after_flush)
        event.listen(factory, "after_commit", _forget_notified)
        event.listen(factory, "after_rollback", _forget_notified)


def emit(session: Session, changes: Iterable[tuple[int, str]]) -> None:
    """Add events for ``(complaint_id, kind)`` pairs to the session's transaction."""
    rows = [{"complaint_id": c, "kind": k} for c, k in sorted(set(changes))]
    if not rows:
        return
    connection = session.connection()
    connection.execute(insert(LiveEvent), rows)
    if connection.dialect.name == "postgresql" and not session.info.get(_NOTIFIED):
        connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
        session.info[_NOTIFIED] = True


def last_id(session: Session) -> int:
    """The newest event's id (0 when there is none)."""
    return int(session.scalar(select(func.max(LiveEvent.id))) or 0)


def read_since(session: Session, after: int, *, limit: int = 500) -> list[FeedEvent]:
    """Events after ``after``, oldest first, with their complaint's accounts."""
    rows = session.execute(
        select(
            LiveEvent.id,
            LiveEvent.complaint_id,
            LiveEvent.kind,
            Complaint.account_id,
            Complaint.merchant_account_id,
        )
        .outerjoin(Complaint, Complaint.id == LiveEvent.complaint_id)
        .where(LiveEvent.id > after)
        .order_by(LiveEvent.id)
        .limit(limit)
    )
    return [FeedEvent(*row) for row in rows]


def prune(session: Session, *, now: datetime) -> int:
    """Forget events past their retention and presences past their TTL; returns events removed."""
    removed = session.execute(delete(LiveEvent).where(LiveEvent.at < now - LIVE_RETENTION))
    session.execute(delete(Presence).where(Presence.seen_at < now - PRESENCE_TTL))
    return int(removed.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Person:
    """Someone with the complaint open."""

    user_id: int
    name: str
    state: str


def arrive(
    session: Session, *, tab_id: str, complaint_id: int, user_id: int, name: str, now: datetime
) -> None:
    """A tab opened the complaint."""
    session.add(
        Presence(
            tab_id=tab_id, complaint_id=complaint_id, user_id=user_id, name=name, state="viewing", seen_at=now
        )
    )
    session.flush()
    emit(session, [(complaint_id, LiveKind.PRESENCE)])


def renew(session: Session, *, tab_id: str, user_id: int, now: datetime, state: str | None = None) -> bool:
    """Keep a tab's presence alive (and change its state); False when it is not this user's tab."""
    found = session.get(Presence, tab_id)
    if found is None or found.user_id != user_id:
        return False
    found.seen_at = now
    if state is not None and state != found.state:
        found.state = state
        session.flush()
        emit(session, [(found.complaint_id, LiveKind.PRESENCE)])
    return True


def leave(session: Session, *, tab_id: str) -> None:
    """A tab closed the complaint (or its stream ended)."""
    found = session.get(Presence, tab_id)
    if found is not None:
        complaint_id = found.complaint_id
        session.delete(found)
        session.flush()
        emit(session, [(complaint_id, LiveKind.PRESENCE)])


def people(session: Session, *, complaint_id: int, now: datetime) -> Sequence[tuple[str, Person]]:
    """``(tab_id, person)`` of every live tab on the complaint."""
    rows = session.scalars(
        select(Presence)
        .where(Presence.complaint_id == complaint_id, Presence.seen_at >= now - PRESENCE_TTL)
        .order_by(Presence.seen_at)
    )
    return [(p.tab_id, Person(p.user_id, p.name, p.state)) for p in rows]
