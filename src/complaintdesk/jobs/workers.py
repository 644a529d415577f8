"""procrastinate on PostgreSQL: the job functions as tasks, periodic jobs once per cluster, recovery.

Every task calls the same job function the embedded runner calls (``jobs.process``, ``jobs.dispatch``,
``jobs.archive``, ``jobs.sla``, ``jobs.scheduled``); only the executor differs.

* Jobs are deferred in the writer's own transaction (``jobs.queue``); procrastinate's insert trigger
  NOTIFYs, and a worker LISTENing wakes at once. Jobs scheduled for later are found by a slow poll.
* Jobs with the same ``lock`` run one at a time, oldest first: one processing run per complaint,
  one sender per complaint, one download per link, one sync / SLA pass in the cluster.
* Periodic jobs are deferred by every worker's periodic deferrer, and procrastinate stores one job
  per task and period: with any number of workers each runs once per period.
* ``sweep`` (periodic) hands the running jobs of a worker whose heartbeat stopped (killed, frozen)
  to the others, and defers a job for due work that has none (a job that failed on an unexpected
  error, such as the database restarting). Fencing in the outbox and the media links makes a
  frozen worker that wakes up harmless.
* Unexpected exceptions (database gone, a bug) are retried with exponential backoff, except in
  ``fan_out_inbox``, whose queueing lock a retry could violate (see its task).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
from procrastinate import JobContext
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from procrastinate.jobs import Job, Status
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from complaintdesk.core.alerts import delivery as alert_delivery
from complaintdesk.core.inbox import service as inbox_service
from complaintdesk.core.media import links as media_links
from complaintdesk.core.outbox import claims as outbox_claims
from complaintdesk.jobs import queue
from complaintdesk.jobs.alerts import deliver_alerts
from complaintdesk.jobs.archive import archive_link
from complaintdesk.jobs.dispatch import dispatch_complaint
from complaintdesk.jobs.process import process_complaint
from complaintdesk.jobs.scheduled import (
    REPORTS_EVERY,
    prune_live,
    refresh_all_certificates,
    refresh_reports,
    sync_all,
)
from complaintdesk.jobs.sla import evaluate_sla
from complaintdesk.ops.context import job_run
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)

#: Seconds before a worker that stopped (the database went away) starts again; doubled up to the max.
RESTART_DELAY = 1.0
RESTART_DELAY_MAX = 30.0
#: Complaints one fan-out defers jobs for (a larger backlog is fanned out in further rounds).
FAN_OUT_LIMIT = 2000
#: Unexpected failures (not our own errors, which the job functions handle) are retried this way.
RETRY = procrastinate.RetryStrategy(max_attempts=12, exponential_wait=2)
#: A job of this queueing lock waiting to run.
WAITING_SQL = text(
    "SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = :queueing_lock AND status = 'todo'"
)
#: The locks among ``:locks`` with a job running or ready to run: the sweep leaves their due work to it.
#: (A job waiting for later, a retry's backoff, does not count: the sweep's job makes it run now.)
BUSY_LOCKS_SQL = text(
    "SELECT DISTINCT lock FROM procrastinate_jobs WHERE lock = ANY(:locks) AND (status = 'doing'"
    " OR (status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())))"
)
#: procrastinate runs a lock's jobs in order, so a job waiting for a later time (a retry's backoff)
#: holds back every newer job of its lock, however due their work is. When a newer one is ready, the
#: older one runs now instead: a job reads what is due from the domain tables, so running it early
#: does only the due work (the notifications in backoff stay in backoff).
RELEASE_HELD_BACK_SQL = text(
    "UPDATE procrastinate_jobs AS held SET scheduled_at = NULL"
    " WHERE held.status = 'todo' AND held.lock IS NOT NULL AND held.scheduled_at > now()"
    " AND EXISTS (SELECT 1 FROM procrastinate_jobs AS ready WHERE ready.lock = held.lock"
    " AND ready.status = 'todo' AND ready.id > held.id"
    " AND (ready.scheduled_at IS NULL OR ready.scheduled_at <= now()))"
    " RETURNING held.id, held.task_name"
)


def conninfo(database_url: str) -> str:
    """A libpq connection string from our SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def cron_every(seconds: float) -> str:
    """A cron expression (procrastinate's, with an optional 6th field for seconds) for an interval."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"* * * * * */{whole}"
    minutes = max(1, whole // 60)
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return f"0 */{max(1, min(minutes // 60, 23))} * * *"


def build_app(ctx: AppContext) -> procrastinate.App:
    """A procrastinate app whose tasks run the job functions with ``ctx``."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(ctx.settings.database_url))
    )
    jobs = ctx.settings.jobs

    @app.task(name=queue.PROCESS_COMPLAINT, queue="inbox", retry=RETRY, pass_context=True)
    async def process_task(jc: JobContext, account_id: int, external_id: str | None) -> None:
        async with job_run(
            "process_complaint", job_id=_id(jc), account_id=account_id, external_id=external_id
        ):
            await process_complaint(ctx, account_id, external_id)

    # Never retried: procrastinate retries a failed job by setting it back to ``todo``, which violates
    # the queueing lock when the inbox writer has deferred a new one meanwhile, and that error stops the
    # worker (procrastinate issues #1446, #1543). A failed fan-out loses nothing: the writer's next batch
    # defers a new one, and ``sweep`` defers the due complaints' jobs itself.
    @app.task(name=queue.FAN_OUT_INBOX, queue="inbox", queueing_lock="fan_out_inbox", pass_context=True)
    async def fan_out_task(jc: JobContext) -> None:
        async with job_run("fan_out_inbox", job_id=_id(jc)):
            await fan_out_inbox(ctx)

    @app.task(name=queue.DISPATCH_COMPLAINT, queue="outbox", retry=RETRY, pass_context=True)
    async def dispatch_task(jc: JobContext, complaint_id: int) -> None:
        async with job_run("dispatch_complaint", job_id=_id(jc), complaint_id=complaint_id):
            await dispatch_complaint(ctx, complaint_id)

    @app.task(name=queue.ARCHIVE_LINK, queue="media", retry=RETRY, pass_context=True)
    async def archive_task(jc: JobContext, link_id: int) -> None:
        async with job_run("archive_link", job_id=_id(jc), link_id=link_id):
            await archive_link(ctx, link_id)

    @app.task(name=queue.DELIVER_ALERTS, queue="alerts", retry=RETRY, pass_context=True)
    async def alerts_task(jc: JobContext, destination_id: int) -> None:
        async with job_run("deliver_alerts", job_id=_id(jc), destination_id=destination_id):
            await deliver_alerts(ctx, destination_id)

    def periodic(
        name: str, seconds: float, job: Callable[[], Awaitable[object]], *, exclusive: bool = True
    ) -> None:
        async def run(jc: JobContext, timestamp: int) -> None:
            async with job_run(name, job_id=_id(jc)):
                await job()

        lock = name if exclusive else None
        task = app.task(
            name=f"complaintdesk.{name}", queue="periodic", lock=lock, queueing_lock=name, pass_context=True
        )(run)
        app.periodic(cron=cron_every(seconds), periodic_id=name)(task)

    periodic("evaluate_sla", ctx.settings.sla.evaluate_interval_seconds, lambda: evaluate_sla(ctx))
    if ctx.settings.sync.enabled:
        periodic("sync", ctx.settings.sync.interval_seconds, lambda: sync_all(ctx))
    hours = ctx.settings.wechatpay.certificate_refresh_hours
    periodic("certificates", hours * 3600, lambda: refresh_all_certificates(ctx))
    periodic("prune_live", 60, lambda: prune_live(ctx))
    periodic("refresh_reports", REPORTS_EVERY, lambda: refresh_reports(ctx))
    # Not exclusive: a sweep left running on a dead worker must not keep the next one from recovering it
    # (with a lock it would wait behind itself forever, and every stalled job with it).
    periodic("sweep", jobs.sweep_seconds, lambda: sweep(ctx, app), exclusive=False)
    return app


def _id(jc: JobContext) -> int | None:
    """The procrastinate job id of the running task."""
    return jc.job.id


async def fan_out_inbox(ctx: AppContext) -> int:
    """Job: one ``process_complaint`` job per complaint with due notifications; returns how many."""

    def fan_out(session: Session) -> int:
        keys = inbox_service.due_keys(session=session, now=ctx.clock.now(), limit=FAN_OUT_LIMIT)
        queue.defer(session, *(queue.process_complaint(a, e) for a, e in keys))
        if len(keys) == FAN_OUT_LIMIT:  # more than one round's worth: the next round follows
            session.execute(text(queue.FAN_OUT_SQL_DRIVER.replace("%", "%%")))
        return len(keys)

    return await ctx.db(fan_out)


async def sweep(ctx: AppContext, app: procrastinate.App) -> int:
    """Hand stalled workers' jobs to others; defer a job for due work that has none; release jobs held
    back behind a retry waiting on their lock. Returns the jobs deferred."""
    manager = app.job_manager
    silent = ctx.settings.jobs.stalled_after_seconds
    for stalled in await manager.get_stalled_jobs(seconds_since_heartbeat=silent):
        await _hand_over(ctx, manager, stalled)

    def due(session: Session) -> list[queue.Job]:
        now = ctx.clock.now()
        found = [queue.process_complaint(a, e) for a, e in inbox_service.due_keys(session=session, now=now)]
        found += [queue.dispatch_complaint(c) for c in outbox_claims.due_complaints(session=session, now=now)]
        found += [queue.archive_link(i) for i in media_links.due_ids(session=session, now=now)]
        found += [
            queue.deliver_alerts(d)
            for d in alert_delivery.due_destinations(session=session, now=now, settings=ctx.settings.alerts)
        ]
        return found

    found = await ctx.db(due)
    # Work whose lock has a job running or ready gets none: that job reads what is due when it runs.
    # A second sweep job beside a running one would, should the running one fail and be retried, meet
    # the queueing lock that procrastinate's retry does not expect, and stop the worker.
    locks = [job.lock for job in found if job.lock is not None]
    busy = await ctx.db(lambda s: set(s.scalars(BUSY_LOCKS_SQL, {"locks": locks}))) if locks else set()
    deferred = 0
    for job in found:
        if job.lock in busy:
            continue
        try:
            await manager.defer_job_async(_as_procrastinate_job(job))
            deferred += 1
        except AlreadyEnqueued:
            pass  # the sweep's job from last time is still waiting
    if deferred:
        log.info("sweep deferred %d jobs for due work", deferred)
    released = await ctx.db(lambda s: s.execute(RELEASE_HELD_BACK_SQL).all())
    for job_id, task_name in released:
        log.warning(
            "job %s (%s) waited for later while newer jobs of its lock were ready: runs now",
            job_id,
            task_name,
        )
    return deferred


async def _hand_over(ctx: AppContext, manager: procrastinate.manager.JobManager, stalled: Job) -> None:
    """Give a silent worker's job back to the queue, or close it when a job of its queueing lock waits.

    A job is only ever ``todo`` once per queueing lock. While the stalled one was ``doing``, another of
    its queueing lock (the next sweep's, fan-out's or period's) may have been deferred: that one does
    the same work (jobs carry keys, the domain tables say what is due), so the stalled job is deleted
    rather than retried, which the queueing lock would refuse, leaving it ``doing`` and its lock held.
    """
    if stalled.queueing_lock is not None and await ctx.db(
        lambda s: s.execute(WAITING_SQL, {"queueing_lock": stalled.queueing_lock}).first() is not None
    ):
        log.warning(
            "job %s (%s) of a silent worker is closed: a job of its queueing lock waits to do its work",
            stalled.id,
            stalled.task_name,
        )
        with contextlib.suppress(ConnectorException):  # the worker, back from a pause, finished it
            await manager.finish_job(stalled, status=Status.FAILED, delete_job=True)
        return
    log.warning("job %s (%s) of a silent worker goes to another worker", stalled.id, stalled.task_name)
    try:
        await manager.retry_job(stalled)
    except ConnectorException:  # another sweep (or the worker, back from a pause) got there first
        log.warning("job %s was not handed over (finished meanwhile, or another sweep's turn)", stalled.id)


def _as_procrastinate_job(job: queue.Job) -> procrastinate.jobs.Job:
    return procrastinate.jobs.Job(
        id=None,
        queue=queue.QUEUE_OF.get(job.task, "default"),
        lock=job.lock,
        queueing_lock=f"sweep:{job.lock}",
        task_name=job.task,
        task_kwargs=job.args,
    )


def worker_options(ctx: AppContext, **overrides: Any) -> dict[str, Any]:
    """procrastinate worker options from our settings."""
    jobs = ctx.settings.jobs
    return {
        "concurrency": jobs.concurrency,
        "update_heartbeat_interval": jobs.heartbeat_seconds,
        "stalled_worker_timeout": jobs.stalled_after_seconds,
        "fetch_job_polling_interval": jobs.scheduled_poll_seconds,
        "listen_notify": True,
        "delete_jobs": "successful",
        **overrides,
    }


async def run_worker(ctx: AppContext, stop: asyncio.Event | None = None, **overrides: Any) -> None:
    """Run a procrastinate worker until ``stop`` is set or the task is cancelled.

    procrastinate stops its worker when the database goes away (its LISTEN connection fails); this
    starts it again, with backoff, once the database answers: jobs are in the database, so nothing
    is lost meanwhile, and jobs that were running are handed over by the sweep.
    """
    stop = stop or asyncio.Event()
    delay = RESTART_DELAY
    while not stop.is_set():
        app = build_app(ctx)
        started = time.monotonic()
        try:
            async with app.open_async():
                await app.run_worker_async(**worker_options(ctx, **overrides))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database is unreachable: try again shortly
            log.warning("job worker could not run (%s); starting again in %.0f s", type(exc).__name__, delay)
        else:
            if stop.is_set():
                return
            log.warning("job worker stopped (database connection lost?); starting again in %.0f s", delay)
        if time.monotonic() - started > RESTART_DELAY_MAX:
            delay = RESTART_DELAY  # it ran for a while: the next failure starts the backoff over
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, RESTART_DELAY_MAX)
