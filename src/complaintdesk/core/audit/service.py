"""Record, search and export audit events; denials are committed even when the caller rolls back."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, Select, event, func, select
from sqlalchemy.orm import Session

from complaintdesk.clock import utcnow
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.security import redact

log = logging.getLogger(__name__)
SYSTEM = "system"
CLI_ACTOR = "cli"  # the operator at the server's command line
_REPLAY = "complaintdesk.detached_replay"
_SECRET_KEY = re.compile(
    r"(^|_)(password|passwd|secret|token|api_?key|apiv3_key|private_key|key|phone|payer_phone|hash"
    r"|cookie|authorization|signature|otp)$",
    re.IGNORECASE,
)
_MAX_TEXT = 500
_CSV_COLUMNS = ("at", "actor", "actor_ip", "action", "target_type", "target_id", "details")


class AuditAction(StrEnum):
    """Actions written by complaintdesk itself (callers may record others)."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    LOGOUT_EVERYWHERE = "logout_everywhere"
    USER_LOCKED = "user_locked"
    ADDRESS_LOCKED = "address_locked"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name
    ROLE_CHANGED = "role_changed"
    SCOPE_CHANGED = "scope_changed"
    USER_CREATED = "user_created"
    USER_ACTIVATED = "user_activated"
    USER_DEACTIVATED = "user_deactivated"
    CREDENTIAL_CHANGED = "credential_changed"
    SETTINGS_CHANGED = "settings_changed"
    TOKEN_CREATED = "token_created"  # noqa: S105 - an event name
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - an event name
    PHONE_REVEALED = "phone_revealed"
    COMPLAINT_DENIED = "complaint_denied"
    TEMPLATE_CREATED = "template_created"
    TEMPLATE_CHANGED = "template_changed"
    TEMPLATE_DELETED = "template_deleted"
    TAG_CREATED = "tag_created"
    TAG_CHANGED = "tag_changed"
    TAG_DELETED = "tag_deleted"
    COMPLAINT_TAGGED = "complaint_tagged"
    ACCOUNT_ADDED = "account_added"
    ACCOUNT_CHANGED = "account_changed"
    ACCOUNT_ENABLED = "account_enabled"
    ACCOUNT_DISABLED = "account_disabled"
    ACTION_REQUESTED = "action_requested"
    COMPLAINT_ASSIGNED = "complaint_assigned"
    NOTE_ADDED = "note_added"
    EXPORT = "export"


@dataclass(frozen=True)
class AuditFilter:
    """Search criteria; every field is optional."""

    actor: str | None = None
    actions: Sequence[str] = ()
    target_type: str | None = None
    target_id: str | None = None
    actor_ip: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def scrub(value: Any, *, depth: int = 0) -> Any:
    """A copy of ``value`` with secret-named keys redacted, phone numbers masked and long text cut."""
    if depth > 5:
        return "…"
    if isinstance(value, dict):
        return {
            str(k): "[redacted]" if _SECRET_KEY.search(str(k)) else scrub(v, depth=depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(v, depth=depth + 1) for v in list(value)[:100]]
    if isinstance(value, str):
        return redact(value[:_MAX_TEXT])
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value)[:_MAX_TEXT])


#: How an outbound action names a console user who requested it (``token:<name>`` for API tokens).
USER_PREFIX = "user:"


def actor_of(requested_by: str) -> str:
    """The audit log's name for whoever requested an action: a console user by their username (as
    at sign-in and in every other console entry), an API token as ``token:<name>``, the CLI as ``cli``."""
    return requested_by.removeprefix(USER_PREFIX)


def _event(
    *,
    action: str,
    actor: str,
    ip: str,
    target_type: str,
    target_id: str | int,
    details: dict[str, Any] | None,
    at: datetime | None,
) -> AuditEvent:
    return AuditEvent(
        at=at or utcnow(),
        actor=(actor or SYSTEM)[:128],
        actor_ip=(ip or "")[:64],
        action=str(action)[:64],
        target_type=target_type[:32],
        target_id=str(target_id)[:128],
        details=scrub(details or {}),
    )


def record(
    *,
    session: Session,
    action: str,
    actor: str,
    ip: str = "",
    target_type: str = "",
    target_id: str | int = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add an audit event to the caller's unit of work (it lands with the change it describes)."""
    event = _event(
        action=action,
        actor=actor,
        ip=ip,
        target_type=target_type,
        target_id=target_id,
        details=details,
        at=at,
    )
    session.add(event)
    session.flush()
    return event


def record_committed(
    *,
    session: Session,
    action: str,
    actor: str,
    ip: str = "",
    target_type: str = "",
    target_id: str | int = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Record an event in its own transaction, so a refusal is kept although the caller rolls back."""
    when = at or utcnow()

    def write(own: Session) -> None:
        record(
            session=own,
            action=action,
            actor=actor,
            ip=ip,
            target_type=target_type,
            target_id=target_id,
            details=details,
            at=when,
        )

    run_detached(session, write)


def run_detached(session: Session, work: Callable[[Session], None]) -> None:
    """Run ``work`` in its own committed transaction on the same database, whatever ``session`` does."""
    # SQLite allows one writer: when ``session`` already holds the write lock, ``work`` runs inside it
    # and is run again in a fresh transaction should ``session`` roll back (so it lands exactly once).
    bind = session.get_bind()
    if not isinstance(bind, Engine):  # bound to a connection: nothing independent is possible
        work(session)
        session.flush()
        return
    if not _holds_sqlite_write_lock(session):
        with Session(bind, expire_on_commit=False) as own, own.begin():
            work(own)
        return
    work(session)
    session.flush()
    _replay_on_rollback(session, bind, work)


def _replay_on_rollback(session: Session, engine: Engine, work: Callable[[Session], None]) -> None:
    pending: list[Callable[[Session], None]] | None = session.info.get(_REPLAY)
    if pending is None:
        pending = session.info[_REPLAY] = []

        def committed(_: Session) -> None:
            pending.clear()

        def rolled_back(_: Session) -> None:
            jobs, pending[:] = list(pending), []
            for job in jobs:
                try:
                    with Session(engine, expire_on_commit=False) as own, own.begin():
                        job(own)
                except Exception:  # never raise from a rollback hook; the log says what was lost
                    log.exception("a detached write (audit or sign-in counter) could not be replayed")

        event.listen(session, "after_commit", committed)
        event.listen(session, "after_rollback", rolled_back)
    pending.append(work)


def _holds_sqlite_write_lock(session: Session) -> bool:
    if session.get_bind().dialect.name != "sqlite" or not session.in_transaction():
        return False
    dbapi = session.connection().connection.dbapi_connection
    return bool(getattr(dbapi, "in_transaction", False))  # pysqlite begins only before a write


def _filtered(query: Select[Any], f: AuditFilter) -> Select[Any]:
    if f.actor:  # entries written before actor_of named a console user ``user:<name>`` are found too
        name = actor_of(f.actor)
        query = query.where(AuditEvent.actor.in_([name, USER_PREFIX + name]))
    if f.actions:
        query = query.where(AuditEvent.action.in_(list(f.actions)))
    if f.target_type:
        query = query.where(AuditEvent.target_type == f.target_type)
    if f.target_id:
        query = query.where(AuditEvent.target_id == f.target_id)
    if f.actor_ip:
        query = query.where(AuditEvent.actor_ip == f.actor_ip)
    if f.since:
        query = query.where(AuditEvent.at >= f.since)
    if f.until:
        query = query.where(AuditEvent.at < f.until)
    return query


def search(
    *, session: Session, filters: AuditFilter | None = None, limit: int = 100, offset: int = 0
) -> list[AuditEvent]:
    """Events matching ``filters``, newest first."""
    query = _filtered(select(AuditEvent), filters or AuditFilter())
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    return list(session.scalars(query.limit(max(1, min(limit, 10_000))).offset(max(0, offset))))


def iter_csv(
    *,
    session: Session,
    filters: AuditFilter | None = None,
    limit: int = 100_000,
    labels: Callable[[str], str] | None = None,
    batch: int = 500,
) -> Iterator[str]:
    """Matching events as CSV text in chunks, newest first, read ``batch`` rows at a time.

    Times are UTC ISO 8601; ``labels`` adds a column naming each action (the reader's language); cells
    a spreadsheet would evaluate are quoted and phone numbers are masked again, whatever older rows hold.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS + (("action_label",) if labels else ()))
    query = _filtered(select(AuditEvent), filters or AuditFilter())
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(max(0, limit))
    for row_event in session.scalars(query.execution_options(yield_per=batch)):
        details = json.dumps(scrub(row_event.details or {}), ensure_ascii=False, sort_keys=True)
        row = [
            row_event.at.isoformat(),
            row_event.actor,
            row_event.actor_ip,
            row_event.action,
            row_event.target_type,
            row_event.target_id,
            details,
        ]
        if labels:
            row.append(labels(row_event.action))
        writer.writerow([_cell(redact(str(v))) for v in row])
        if out.tell() >= 16_384:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def export_csv(*, session: Session, filters: AuditFilter | None = None, limit: int = 100_000) -> str:
    """Matching events as one CSV text (see :func:`iter_csv`, which streams them)."""
    return "".join(iter_csv(session=session, filters=filters, limit=limit))


def count(*, session: Session, filters: AuditFilter | None = None) -> int:
    """How many events match ``filters``."""
    query = _filtered(select(func.count()).select_from(AuditEvent), filters or AuditFilter())
    return int(session.scalar(query) or 0)


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
