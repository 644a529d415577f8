"""A burst of refused webhook signatures: a key or configuration problem worth one alert per window.

Refusals are counted per merchant account in fixed windows of ``alerts.signature_window_seconds`` in
``alert_counter`` (one row per account and window, incremented by an atomic upsert, so every process
adds to the same count). The call whose increment reaches ``alerts.signature_refusals`` records the
event; its key names the window, so it fires exactly once per window however many processes count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from complaintdesk.core.alerts import events
from complaintdesk.core.alerts.events import EventKind
from complaintdesk.core.alerts.models import AlertCounter
from complaintdesk.settings import AlertSettings

#: Counter rows older than this are deleted as new ones are written.
_KEEP = timedelta(days=1)


def window_of(now: datetime, seconds: float) -> datetime:
    """The start of the fixed window ``now`` falls in."""
    start = int(now.timestamp() // seconds * seconds)
    return datetime.fromtimestamp(start, UTC)


def count_refusals(
    *, session: Session, account_id: int, refused: int, now: datetime, settings: AlertSettings
) -> bool:
    """Add ``refused`` refusals to the account's window; True when this call recorded the alert."""
    start = window_of(now, settings.signature_window_seconds)
    key = f"signatures:{account_id}:{int(start.timestamp())}"
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(AlertCounter).values(key=key, count=refused, window_start=start)
    upsert = stmt.on_conflict_do_update(
        index_elements=["key"], set_={"count": AlertCounter.count + stmt.excluded.count}
    ).returning(AlertCounter.count)
    total = int(session.execute(upsert).scalar_one())
    before = total - refused
    if before >= settings.signature_refusals or total < settings.signature_refusals:
        return False
    session.execute(delete(AlertCounter).where(AlertCounter.window_start < now - _KEEP))
    window = int(settings.signature_window_seconds)
    return events.record(
        session=session,
        kind=EventKind.SIGNATURES_REFUSED,
        key=f"{account_id}:{int(start.timestamp())}",
        now=now,
        account_id=account_id,
        facts={"count": total, "window_seconds": window, "window_start": start.isoformat()},
    )
