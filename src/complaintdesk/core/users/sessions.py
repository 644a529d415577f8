"""Console sessions on the server: started at sign-in, ended by sign-out, checked on every request.

The signed cookie carries a random session id; the database keeps only its SHA-256 in a
``console_session`` row. Signing out deletes that row, so a copy of the cookie taken earlier is
refused afterwards. The check is one primary-key lookup per request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from complaintdesk.core.users.models import ConsoleSessionRecord


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start(*, session: Session, user_id: int, now: datetime, lifetime: timedelta) -> str:
    """Record a new session of ``user_id`` and return its id (for the cookie); drop long-dead rows."""
    session.execute(delete(ConsoleSessionRecord).where(ConsoleSessionRecord.created_at < now - lifetime))
    session_id = secrets.token_urlsafe(32)
    session.add(ConsoleSessionRecord(id_hash=_hash(session_id), user_id=user_id, created_at=now))
    session.flush()
    return session_id


def is_live(*, session: Session, session_id: str, user_id: int) -> bool:
    """Whether the session was started for ``user_id`` and not ended since."""
    if not session_id:
        return False
    owner = session.scalar(
        select(ConsoleSessionRecord.user_id).where(ConsoleSessionRecord.id_hash == _hash(session_id))
    )
    return owner == user_id


def end(*, session: Session, session_id: str) -> None:
    """End one session (sign-out): its cookie, and every copy of it, stops working."""
    if session_id:
        session.execute(delete(ConsoleSessionRecord).where(ConsoleSessionRecord.id_hash == _hash(session_id)))


def end_all(*, session: Session, user_id: int) -> None:
    """End every session of a user (sign out everywhere, password change or reset, deactivation)."""
    session.execute(delete(ConsoleSessionRecord).where(ConsoleSessionRecord.user_id == user_id))
