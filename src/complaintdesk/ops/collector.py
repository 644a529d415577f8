"""Gauges read from the database at scrape time: inbox lag, outbox, job queues, SLA risk, alerts.

Every process sees the same database, so these are computed by the process that is scraped (never
written to the multiprocess files) and cached for ``metrics.cache_seconds``: Prometheus servers
scraping several processes, or a dashboard refreshing, cost one set of queries per interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from complaintdesk.core.alerts.models import AlertDelivery, DeliveryStatus
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.inbox.models import InboxEvent, InboxStatus
from complaintdesk.core.media.models import MediaLink
from complaintdesk.core.media.service import MAX_DOWNLOAD_ATTEMPTS
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)


class DatabaseGauges(Collector):
    """A prometheus-client collector of gauges computed from the database, cached a few seconds."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._cached: list[GaugeMetricFamily] = []
        self._at = -1e9

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges, read again when the cached ones are older than ``cache_seconds``."""
        with self._lock:
            if time.monotonic() - self._at >= self.ctx.settings.metrics.cache_seconds:
                self._cached = self._read()
                self._at = time.monotonic()
            families = list(self._cached)
        yield from families

    def _read(self) -> list[GaugeMetricFamily]:
        up = GaugeMetricFamily("complaintdesk_database_up", "Whether the scrape could read the database.")
        try:
            with self.ctx.session() as session:
                families = self._families(session, self.ctx.clock.now())
        except Exception as exc:  # a scrape never fails on the database: it says so instead
            log.warning("metrics: database gauges unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    def _families(self, session: Session, now: datetime) -> list[GaugeMetricFamily]:
        postgres = session.get_bind().dialect.name == "postgresql"
        return [
            *_inbox(session, now),
            _grouped(
                "complaintdesk_outbox_actions",
                "Outbound actions (replies, completions, refunds) by state.",
                ["state"],
                session.execute(select(OutboundAction.status, func.count()).group_by(OutboundAction.status)),
            ),
            _procrastinate(session) if postgres else _due_work(session, now),
            _grouped(
                "complaintdesk_complaints_at_sla_risk",
                "Complaints whose SLA state is warning or breached, by channel.",
                ["channel", "state"],
                session.execute(
                    select(Complaint.channel, Complaint.sla_state, func.count())
                    .where(Complaint.sla_state.in_(("warning", "breached")))
                    .group_by(Complaint.channel, Complaint.sla_state)
                ),
            ),
            _grouped(
                "complaintdesk_alert_deliveries_open",
                "Alert deliveries waiting or being sent, and those that failed for good, by state.",
                ["state"],
                session.execute(
                    select(AlertDelivery.status, func.count())
                    .where(AlertDelivery.status.in_((*DeliveryStatus.OPEN, DeliveryStatus.FAILED)))
                    .group_by(AlertDelivery.status)
                ),
            ),
        ]


def _grouped(name: str, doc: str, labels: list[str], rows: Iterator[Sequence[object]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for *keys, count in rows:
        family.add_metric([str(k) for k in keys], float(count))  # type: ignore[arg-type]
    return family


def _inbox(session: Session, now: datetime) -> list[GaugeMetricFamily]:
    pending = InboxEvent.status == InboxStatus.PENDING
    rows = session.execute(
        select(InboxEvent.channel, func.count(), func.min(InboxEvent.received_at))
        .where(pending)
        .group_by(InboxEvent.channel)
    ).all()
    count = GaugeMetricFamily(
        "complaintdesk_inbox_pending",
        "Stored notifications not processed yet, by channel.",
        labels=["channel"],
    )
    lag = GaugeMetricFamily(
        "complaintdesk_inbox_lag_seconds",
        "Age of the oldest stored notification not processed yet, by channel (0: none waiting).",
        labels=["channel"],
    )
    for channel, n, oldest in rows:
        count.add_metric([channel], float(n))
        age = (now - oldest).total_seconds() if isinstance(oldest, datetime) else 0.0
        lag.add_metric([channel], max(0.0, age))
    return [count, lag]


def _procrastinate(session: Session) -> GaugeMetricFamily:
    """PostgreSQL: procrastinate's jobs by queue and state (failed: retries exhausted)."""
    family = GaugeMetricFamily(
        "complaintdesk_jobs",
        "Background jobs by queue and state (PostgreSQL: procrastinate).",
        labels=["queue", "state"],
    )
    rows = session.execute(
        text(
            "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs"
            " WHERE status::text IN ('todo', 'doing', 'failed') GROUP BY 1, 2"
        )
    )
    for queue_name, state, count in rows:
        family.add_metric([queue_name, state], float(count))
    return family


def _due_work(session: Session, now: datetime) -> GaugeMetricFamily:
    """SQLite: the embedded runner's due work per queue (its queue is the domain tables themselves)."""
    family = GaugeMetricFamily(
        "complaintdesk_jobs",
        "Background jobs by queue and state (SQLite: due work of the embedded runner).",
        labels=["queue", "state"],
    )
    inbox = session.scalar(
        select(func.count())
        .select_from(InboxEvent)
        .where(
            InboxEvent.status == InboxStatus.PENDING,
            or_(InboxEvent.next_attempt_at.is_(None), InboxEvent.next_attempt_at <= now),
        )
    )
    outbox = session.scalar(
        select(func.count())
        .select_from(OutboundAction)
        .where(
            OutboundAction.status.in_(ActionStatus.OPEN),
            or_(OutboundAction.next_attempt_at.is_(None), OutboundAction.next_attempt_at <= now),
        )
    )
    media = session.scalar(
        select(func.count())
        .select_from(MediaLink)
        .where(
            MediaLink.sha256.is_(None),
            MediaLink.attempts < MAX_DOWNLOAD_ATTEMPTS,
            or_(MediaLink.next_attempt_at.is_(None), MediaLink.next_attempt_at <= now),
        )
    )
    failed_media = session.scalar(
        select(func.count())
        .select_from(MediaLink)
        .where(MediaLink.sha256.is_(None), MediaLink.attempts >= MAX_DOWNLOAD_ATTEMPTS)
    )
    failed_inbox = session.scalar(
        select(func.count()).select_from(InboxEvent).where(InboxEvent.status == InboxStatus.FAILED)
    )
    for queue_name, state, count in (
        ("inbox", "todo", inbox),
        ("outbox", "todo", outbox),
        ("media", "todo", media),
        ("inbox", "failed", failed_inbox),
        ("media", "failed", failed_media),
    ):
        family.add_metric([queue_name, state], float(count or 0))
    return family
