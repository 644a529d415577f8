"""Deferring jobs: the names, arguments and locks of every queued job, and how they are written.

A job carries only keys (a complaint, an action's complaint, a media link); the state it works on
lives in the domain tables (inbox events, outbox actions, media links), which stay the truth.

* On **PostgreSQL** a job is a row of procrastinate's ``procrastinate_jobs``, inserted by its own
  SQL function ``procrastinate_defer_jobs_v1`` **in the caller's transaction**: an inbox batch, an
  action request or a settle commits together with the job that will act on it, or not at all. The
  insert trigger sends ``NOTIFY``, which wakes a listening worker at once.
* On **SQLite** (the embedded default, one job process) nothing is written: the embedded runner
  reads the same domain tables for due work (``jobs.embedded``), then calls the same job functions.

``lock`` is procrastinate's lock: jobs with the same lock run one at a time, in the order deferred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

#: procrastinate task names (``jobs.workers`` registers a task under each).
PROCESS_COMPLAINT = "complaintdesk.process_complaint"
DISPATCH_COMPLAINT = "complaintdesk.dispatch_complaint"
ARCHIVE_LINK = "complaintdesk.archive_link"
FAN_OUT_INBOX = "complaintdesk.fan_out_inbox"
DELIVER_ALERTS = "complaintdesk.deliver_alerts"

#: Queues, so that a deployment may give sends and downloads their own workers.
QUEUE_OF = {
    PROCESS_COMPLAINT: "inbox",
    FAN_OUT_INBOX: "inbox",
    DISPATCH_COMPLAINT: "outbox",
    ARCHIVE_LINK: "media",
    DELIVER_ALERTS: "alerts",
}

#: The inbox writer's job (driver SQL, in the batch's own transaction): "new notifications are stored".
#: At most one waits at a time (its queueing lock; a batch finding one waiting adds nothing, at the cost
#: of one index probe), and the worker that runs it defers one ``process_complaint`` job per complaint
#: with due notifications: the per-complaint work stays off the webhook's hot path.
FAN_OUT_SQL_DRIVER = (
    "INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args)"
    " VALUES ('inbox', 'complaintdesk.fan_out_inbox', 0, NULL, 'fan_out_inbox', '{}')"
    " ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING"
)

_SELECT = (
    "SELECT procrastinate_defer_jobs_v1(ARRAY(SELECT ROW(j.queue_name, j.task_name, j.priority, j.lock,"
    " j.queueing_lock, j.args, j.scheduled_at)::procrastinate_job_to_defer_v1"
    " FROM jsonb_to_recordset(JOBS) AS j(queue_name varchar, task_name varchar, priority int,"
    " lock text, queueing_lock text, args jsonb, scheduled_at timestamptz)))"
)
#: The statement for SQLAlchemy (named parameter) and for the driver (psycopg's ``%s``).
DEFER_SQL = _SELECT.replace("JOBS", "CAST(:jobs AS jsonb)")
DEFER_SQL_DRIVER = _SELECT.replace("JOBS", "%s::jsonb")


@dataclass(frozen=True)
class Job:
    """One job to defer."""

    task: str
    args: dict[str, Any]
    lock: str | None
    at: datetime | None = None
    priority: int = 0
    queue: str = field(default="")

    def row(self) -> dict[str, Any]:
        """The job as procrastinate's ``procrastinate_job_to_defer_v1`` fields."""
        return {
            "queue_name": self.queue or QUEUE_OF.get(self.task, "default"),
            "task_name": self.task,
            "priority": self.priority,
            "lock": self.lock,
            "queueing_lock": None,
            "args": self.args,
            "scheduled_at": self.at.isoformat() if self.at is not None else None,
        }


def process_complaint(account_id: int, external_id: str | None, at: datetime | None = None) -> Job:
    """Process every pending notification of one complaint (one run at a time per complaint)."""
    return Job(
        PROCESS_COMPLAINT,
        {"account_id": account_id, "external_id": external_id},
        f"complaint:{account_id}:{external_id or '-'}",
        at,
    )


def dispatch_complaint(complaint_id: int, at: datetime | None = None) -> Job:
    """Send the due actions of one complaint, in order (one sender at a time per complaint)."""
    return Job(DISPATCH_COMPLAINT, {"complaint_id": complaint_id}, f"send:{complaint_id}", at)


def archive_link(link_id: int, at: datetime | None = None) -> Job:
    """Download one evidence image while its link lives."""
    return Job(ARCHIVE_LINK, {"link_id": link_id}, f"media:{link_id}", at)


def deliver_alerts(destination_id: int, at: datetime | None = None) -> Job:
    """Send the due alerts of one destination (one sender at a time per destination: one digest)."""
    return Job(DELIVER_ALERTS, {"destination_id": destination_id}, f"alert:{destination_id}", at)


def payload(jobs: list[Job]) -> str:
    """The JSON array the defer statement reads."""
    return orjson.dumps([job.row() for job in jobs]).decode("utf-8")


def uses_procrastinate(session: Session) -> bool:
    """Whether jobs are procrastinate rows (PostgreSQL) rather than the embedded runner's scan."""
    return session.get_bind().dialect.name == "postgresql"


def defer(session: Session, *jobs: Job) -> None:
    """Defer ``jobs`` in the session's transaction (PostgreSQL); nothing to write on SQLite."""
    if jobs and uses_procrastinate(session):
        session.execute(text(DEFER_SQL), {"jobs": payload(list(jobs))})
