"""Job ``deliver_alerts``: send a destination's due alerts, one sender per destination, never twice.

claim (destination fence + 1, lease; deliveries ``sending``) → build the message (a digest when
several) → renew the lease in the database → the send gate in the HTTP hook → the destination →
settle with the fence (``sent``, or ``pending`` with backoff and a job deferred for the retry, or
``failed`` after ``alerts.max_attempts``). A claim taken over changes nothing and sends nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaintdesk.channels.common.gate import send_gate
from complaintdesk.core.alerts import delivery as alert_delivery
from complaintdesk.core.alerts import messages
from complaintdesk.core.alerts import service as alert_service
from complaintdesk.core.alerts.delivery import AlertClaim, Outcome
from complaintdesk.core.alerts.models import (
    AlertAttempt,
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    DestinationKind,
)
from complaintdesk.core.alerts.senders import EndpointEvent, Target, send_chat, send_endpoint
from complaintdesk.errors import LeaseLost
from complaintdesk.jobs.lease import Lease
from complaintdesk.ops.metrics import ALERT_DELIVERIES
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)
#: Sends per job run (endpoints send one event per message); more continue in the next job.
_MAX_SENDS = 50


async def deliver_due(ctx: AppContext) -> int:
    """Embedded runner: run the job of every destination with due alerts; returns messages sent."""
    due = await ctx.db(
        lambda s: alert_delivery.due_destinations(
            session=s, now=ctx.clock.now(), settings=ctx.settings.alerts
        )
    )
    total = 0
    for destination_id in due:
        total += await deliver_alerts(ctx, destination_id)
    return total


def _claim(session: Session, ctx: AppContext, destination_id: int) -> AlertClaim | None:
    lease = timedelta(seconds=ctx.settings.jobs.lease_seconds)
    return alert_delivery.claim(
        session=session,
        destination_id=destination_id,
        now=ctx.clock.now(),
        lease=lease,
        settings=ctx.settings.alerts,
    )


def _load(
    session: Session, ctx: AppContext, claim: AlertClaim
) -> tuple[AlertDestination, Target, list[tuple[int, AlertEvent]]]:
    destination = alert_service.get_destination(session=session, destination_id=claim.destination_id)
    target = alert_service.target(destination, ctx.cipher, ctx.clock.now())
    rows = session.execute(
        select(AlertDelivery.id, AlertEvent)
        .join(AlertEvent, AlertEvent.id == AlertDelivery.event_id)
        .where(AlertDelivery.id.in_(claim.delivery_ids))
        .order_by(AlertDelivery.id)
    ).all()
    events = [(delivery_id, event) for delivery_id, event in rows]
    for _, event in events:
        session.expunge(event)
    session.expunge(destination)
    return destination, target, events


def endpoint_event(delivery_id: int, event: AlertEvent) -> EndpointEvent:
    """The Standard Webhooks message of one delivery (its id stays the same on retry and replay)."""
    body = {
        "type": f"complaint.{event.kind}",
        "timestamp": event.occurred_at.isoformat(),
        "data": {"event_id": event.id, **event.facts},
    }
    return EndpointEvent(f"msg_cd_{delivery_id}", orjson.dumps(body))


def chat_message(
    ctx: AppContext, destination: AlertDestination, events: list[AlertEvent]
) -> messages.Message:
    """The message (or digest) for a chat or mailbox, in the destination's language."""
    tz = ZoneInfo(ctx.settings.alerts.timezone)
    pairs: list[tuple[str, dict[str, Any]]] = [(e.kind, e.facts) for e in events]
    message = messages.digest(
        pairs,
        language=destination.language,
        base_url=ctx.settings.public_base_url,
        tz=tz,
        lines=ctx.settings.alerts.digest_lines,
    )
    template = destination.options.get("template")
    if template and len(events) == 1:
        line = alert_service.render_template(str(template), events[0].kind, events[0].facts)
        message = messages.Message(message.title, (line, *message.lines), message.link)
    return message


def _lease(ctx: AppContext, claim: AlertClaim) -> Lease:
    def confirm(session: Session, now: datetime, lease: timedelta) -> bool:
        return alert_delivery.confirm(session=session, claim=claim, now=now, lease=lease)

    return Lease(ctx, confirm, f"alert destination {claim.destination_id}")


async def deliver_alerts(ctx: AppContext, destination_id: int) -> int:
    """Job: send what is due for one destination; returns how many messages went out."""
    sent = 0
    for _ in range(_MAX_SENDS):
        claim = await ctx.db(lambda s: _claim(s, ctx, destination_id))
        if claim is None:
            return sent
        started = ctx.clock.now()
        outcome = await _send(ctx, claim)
        if outcome is None:
            return sent  # the claim was taken over: the new holder owns these deliveries

        def settle(
            session: Session,
            outcome: Outcome = outcome,
            claim: AlertClaim = claim,
            started: datetime = started,
        ) -> bool:
            return alert_delivery.settle(
                session=session,
                claim=claim,
                outcome=outcome,
                started_at=started,
                now=ctx.clock.now(),
                settings=ctx.settings.alerts,
            )

        if not await ctx.db(settle):
            log.warning("alert destination %s: claim taken over before settling", destination_id)
            return sent
        ALERT_DELIVERIES.labels("delivered" if outcome.ok else "failed").inc(len(claim.delivery_ids))
        if not outcome.ok:
            log.warning("alert destination %s refused or unreachable: %s", destination_id, outcome.error)
            return sent
        sent += 1
    return sent


async def _send(ctx: AppContext, claim: AlertClaim) -> Outcome | None:
    destination, target, events = await ctx.db(lambda s: _load(s, ctx, claim))
    lease = _lease(ctx, claim)
    token = send_gate.set(lease.gate())
    try:
        await lease.renew()  # the last database check; the HTTP hook checks the lease's time left
        if destination.kind == DestinationKind.ENDPOINT:
            delivery_id, event = events[0]
            return await send_endpoint(target, endpoint_event(delivery_id, event), ctx.settings.alerts)
        message = chat_message(ctx, destination, [e for _, e in events])
        return await send_chat(target, message, ctx.settings.alerts)
    except LeaseLost as exc:
        log.warning("%s", exc)
        return None
    finally:
        send_gate.reset(token)


async def send_test(ctx: AppContext, destination_id: int) -> Outcome:
    """ "Send test": a test message now (no rule, rate limit or quiet hours), logged as a ``test`` attempt."""

    def load(session: Session) -> tuple[AlertDestination, Target]:
        destination = alert_service.get_destination(session=session, destination_id=destination_id)
        session.expunge(destination)
        return destination, alert_service.target(destination, ctx.cipher, ctx.clock.now())

    destination, target = await ctx.db(load)
    started = ctx.clock.now()
    facts = {"channel": "wechatpay", "external_id": "TEST-0000"}
    if destination.kind == DestinationKind.ENDPOINT:
        body = {"type": "test", "timestamp": started.isoformat(), "data": facts}
        event = EndpointEvent(f"msg_cd_test_{int(started.timestamp())}", orjson.dumps(body))
        outcome = await send_endpoint(target, event, ctx.settings.alerts)
    else:
        tz = ZoneInfo(ctx.settings.alerts.timezone)
        message = messages.single(
            "test", facts, language=destination.language, base_url=ctx.settings.public_base_url, tz=tz
        )
        outcome = await send_chat(target, message, ctx.settings.alerts)

    def log_attempt(session: Session) -> None:
        session.add(
            AlertAttempt(
                destination_id=destination_id,
                fence=0,
                delivery_ids=[],
                outcome="test" if outcome.ok else "failed",
                status_code=outcome.status_code,
                answer=(outcome.answer or outcome.error)[:2000],
                message_id=outcome.message_id,
                started_at=started,
                finished_at=ctx.clock.now(),
            )
        )

    await ctx.db(log_attempt)
    return outcome
