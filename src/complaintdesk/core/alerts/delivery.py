"""Claim, confirm and settle a destination's deliveries: one sender per destination, never twice.

A send claims the **destination** (compare-and-set on its ``fence``, a lease until ``lease_until``)
and, in the same transaction, the deliveries it will carry (``sending``, ``claim_fence`` = the new
fence): every pending one up to ``batch_size`` for a chat or mailbox (one message, a digest when
there are several), one at a time for an endpoint. Right before the request leaves the claim is
confirmed and the lease renewed (``confirm``, run by ``jobs.lease.Lease``); only the current fence
may settle. Deliveries a dead sender left ``sending`` are taken over once its lease has expired.
Between two messages a destination waits ``min_interval_seconds`` (and its quiet hours): what
arrives meanwhile goes out as one digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from complaintdesk.core.alerts.models import (
    AlertAttempt,
    AlertDelivery,
    AlertDestination,
    DeliveryStatus,
    DestinationKind,
)
from complaintdesk.dbutil import take_sqlite_write_lock
from complaintdesk.jobs import queue
from complaintdesk.settings import AlertSettings


@dataclass(frozen=True)
class AlertClaim:
    """A sender's hold on a destination and the deliveries it carries."""

    destination_id: int
    fence: int
    delivery_ids: tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    """What the destination answered to one message."""

    ok: bool
    status_code: int | None = None
    answer: str = ""
    message_id: str = ""
    error: str = ""


def interval(destination: AlertDestination, settings: AlertSettings) -> float:
    """Least seconds between two messages to this destination."""
    if destination.min_interval_seconds is not None:
        return destination.min_interval_seconds
    return 0.0 if destination.kind == DestinationKind.ENDPOINT else settings.min_interval_seconds


def quiet_until(destination: AlertDestination, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The end of the destination's quiet hours when ``now`` is inside them, else None."""
    if not destination.quiet_start or not destination.quiet_end:
        return None
    local = now.astimezone(tz)
    start, end = time.fromisoformat(destination.quiet_start), time.fromisoformat(destination.quiet_end)
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(now.tzinfo)


def _waiting(session: Session, destination_id: int, fence: int) -> list[int]:
    return list(
        session.scalars(
            select(AlertDelivery.id)
            .where(AlertDelivery.destination_id == destination_id)
            .where(
                or_(
                    AlertDelivery.status == DeliveryStatus.PENDING,
                    and_(AlertDelivery.status == DeliveryStatus.SENDING, AlertDelivery.claim_fence < fence),
                )
            )
            .order_by(AlertDelivery.id)
        )
    )


def claim(
    *, session: Session, destination_id: int, now: datetime, lease: timedelta, settings: AlertSettings
) -> AlertClaim | None:
    """Claim the destination and its due deliveries; None when nothing is due or a live sender holds it.

    A destination that must wait (rate limit, quiet hours, retry backoff) gets a job deferred for then.
    """
    take_sqlite_write_lock(session)
    dest = session.get(AlertDestination, destination_id)
    if dest is None or not dest.enabled:
        return None
    if dest.lease_until is not None and dest.lease_until >= now:
        return None  # a live sender holds it; its settle defers what is left
    wait = max(
        [t for t in (dest.next_send_at, quiet_until(dest, now, ZoneInfo(settings.timezone))) if t],
        default=None,
    )
    if wait is not None and wait > now:
        if _waiting(session, destination_id, dest.fence + 1):
            queue.defer(session, queue.deliver_alerts(destination_id, at=wait))
        return None
    fence = dest.fence + 1
    ids = _waiting(session, destination_id, fence)
    if not ids:
        return None
    limit = 1 if dest.kind == DestinationKind.ENDPOINT else settings.batch_size
    ids = ids[:limit]
    taken = session.execute(
        update(AlertDestination)
        .where(AlertDestination.id == destination_id, AlertDestination.fence == dest.fence)
        .values(fence=fence, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None  # another sender claimed it between our read and our write
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id.in_(ids))
        .values(status=DeliveryStatus.SENDING, claim_fence=fence, attempts=AlertDelivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(dest)
    return AlertClaim(destination_id, fence, tuple(ids))


def confirm(*, session: Session, claim: AlertClaim, now: datetime, lease: timedelta) -> bool:
    """The send gate: renew the lease right before the request; False when the claim was taken over."""
    result = session.execute(
        update(AlertDestination)
        .where(AlertDestination.id == claim.destination_id, AlertDestination.fence == claim.fence)
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def backoff(failures: int, settings: AlertSettings) -> float:
    """Seconds before the next attempt after ``failures`` failures in a row."""
    return float(min(settings.backoff_max, settings.backoff_initial * 2 ** max(0, failures - 1)))


def settle(
    *,
    session: Session,
    claim: AlertClaim,
    outcome: Outcome,
    started_at: datetime,
    now: datetime,
    settings: AlertSettings,
) -> bool:
    """Record one attempt and its outcome; False (nothing changed) when the claim was taken over."""
    dest = session.get(AlertDestination, claim.destination_id, with_for_update=True)
    if dest is None or dest.fence != claim.fence:
        return False
    attempt = AlertAttempt(
        destination_id=dest.id,
        fence=claim.fence,
        delivery_ids=list(claim.delivery_ids),
        outcome="sent" if outcome.ok else "failed",
        status_code=outcome.status_code,
        answer=outcome.answer[:2000],
        message_id=outcome.message_id,
        started_at=started_at,
        finished_at=now,
    )
    session.add(attempt)
    session.flush()
    mine = and_(
        AlertDelivery.id.in_(claim.delivery_ids),
        AlertDelivery.claim_fence == claim.fence,
        AlertDelivery.status == DeliveryStatus.SENDING,
    )
    dest.lease_until = None
    if outcome.ok:
        session.execute(
            update(AlertDelivery)
            .where(mine)
            .values(status=DeliveryStatus.SENT, sent_at=now, last_attempt_id=attempt.id, error="")
            .execution_options(synchronize_session=False)
        )
        dest.failures = 0
        dest.last_sent_at = now
        gap = interval(dest, settings)
        dest.next_send_at = now + timedelta(seconds=gap) if gap > 0 else None
    else:
        final = AlertDelivery.attempts >= settings.max_attempts
        for status, extra in ((DeliveryStatus.FAILED, final), (DeliveryStatus.PENDING, ~final)):
            session.execute(
                update(AlertDelivery)
                .where(mine, extra)
                .values(status=status, last_attempt_id=attempt.id, error=outcome.error[:2000])
                .execution_options(synchronize_session=False)
            )
        dest.failures += 1
        dest.next_send_at = now + timedelta(seconds=backoff(dest.failures, settings))
    session.flush()
    if _waiting(session, dest.id, dest.fence + 1):
        queue.defer(session, queue.deliver_alerts(dest.id, at=dest.next_send_at))
    return True


def due_destinations(
    *, session: Session, now: datetime, settings: AlertSettings, limit: int = 50
) -> list[int]:
    """Destinations with deliveries to send now (embedded runner and sweep)."""
    open_ = (
        select(AlertDelivery.destination_id)
        .where(AlertDelivery.status.in_(DeliveryStatus.OPEN))
        .group_by(AlertDelivery.destination_id)
    )
    rows = session.scalars(
        select(AlertDestination)
        .where(AlertDestination.id.in_(open_), AlertDestination.enabled.is_(True))
        .where(or_(AlertDestination.next_send_at.is_(None), AlertDestination.next_send_at <= now))
        .where(or_(AlertDestination.lease_until.is_(None), AlertDestination.lease_until < now))
        .order_by(AlertDestination.id)
        .limit(limit)
    )
    tz = ZoneInfo(settings.timezone)
    return [d.id for d in rows if quiet_until(d, now, tz) is None]


def pending_count(*, session: Session, destination_id: int) -> int:
    """Deliveries of a destination not yet sent or failed."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(AlertDelivery)
            .where(
                AlertDelivery.destination_id == destination_id,
                AlertDelivery.status.in_(DeliveryStatus.OPEN),
            )
        )
        or 0
    )


def replay(*, session: Session, delivery_id: int, now: datetime) -> AlertDelivery:
    """Send a delivery again (manual replay): back to ``pending`` with fresh attempts, a job deferred.

    An endpoint gets the same ``webhook-id``, so a receiver that deduplicates recognises it.
    """
    row = session.get(AlertDelivery, delivery_id)
    if row is None:
        from complaintdesk.errors import NotFound

        raise NotFound(f"no alert delivery {delivery_id}")
    if row.status == DeliveryStatus.SENDING:
        from complaintdesk.errors import ActionRefused

        raise ActionRefused("this delivery is being sent right now", field="delivery")
    row.status = DeliveryStatus.PENDING
    row.attempts = 0
    row.error = ""
    session.flush()
    queue.defer(session, queue.deliver_alerts(row.destination_id))
    return row
