"""The embedded job runner (SQLite): the same job functions, run in-process from the domain tables.

The inbox, the outbox and the media links are the durable queue: the runner reads what is due from
them (``process_inbox``, ``dispatch_actions``, ``archive_media``) and calls the job functions that
procrastinate runs on PostgreSQL (``jobs.workers``). One process per database runs it: the one holding
an exclusive lock on ``<database>-jobs`` (with ``serve --workers N`` or several ``worker`` commands,
the others wait and take over if it dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from complaintdesk.dbutil import ProcessRole
from complaintdesk.jobs.alerts import deliver_due
from complaintdesk.jobs.archive import archive_media
from complaintdesk.jobs.dispatch import dispatch_actions
from complaintdesk.jobs.process import process_inbox
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
#: How often a process that does not run the jobs checks whether the one that does is gone.
ROLE_RETRY_SECONDS = 2.0


class JobRunner:
    """Runs the inbox processor continuously and the scheduled jobs on their intervals."""

    def __init__(self, ctx: AppContext, *, schedules: bool = True) -> None:
        self.ctx = ctx
        self.schedules = schedules
        self.wakeup = asyncio.Event()
        ctx.inbox_wakeup = self.wakeup
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._role = ProcessRole(ctx.engine, "jobs")
        self._runs = 0

    def start(self) -> None:
        """Start the loops on the running event loop."""
        self._tasks.append(asyncio.create_task(self._inbox_loop(), name="jobs-queues"))
        if self.schedules:
            if self.ctx.settings.sync.enabled:
                self._tasks.append(
                    asyncio.create_task(
                        self._every(
                            self.ctx.settings.sync.interval_seconds,
                            sync_all,
                            "sync",
                            initial_delay=min(self.ctx.settings.sync.interval_seconds, 30),
                        ),
                        name="jobs-sync",
                    )
                )
            sla_every = self.ctx.settings.sla.evaluate_interval_seconds
            self._tasks.append(
                asyncio.create_task(self._every(sla_every, evaluate_sla, "sla"), name="jobs-sla")
            )
            self._tasks.append(asyncio.create_task(self._every(60, prune_live, "live"), name="jobs-live"))
            self._tasks.append(
                asyncio.create_task(
                    self._every(REPORTS_EVERY, refresh_reports, "reports", initial_delay=30),
                    name="jobs-reports",
                )
            )
            hours = self.ctx.settings.wechatpay.certificate_refresh_hours
            self._tasks.append(
                asyncio.create_task(self._every(hours * 3600, refresh_all_certificates, "certificates"))
            )

    async def stop(self) -> None:
        """Stop every loop and wait for them."""
        self._stop.set()
        self.wakeup.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._role.release()

    async def drain(self, *, timeout: float = 30.0) -> None:
        """Run every queue until nothing is due (tests and the CLI use this)."""
        async with asyncio.timeout(timeout):
            while await self._work_once():
                pass

    async def _work_once(self) -> int:
        handled = 0
        for step in (process_inbox, dispatch_actions, archive_media, evaluate_sla, deliver_due):
            with contextlib.suppress(Exception):  # logged and counted by job_run; retried shortly
                async with job_run(step.__name__, job_id=self._run_id()):
                    handled += await step(self.ctx)
        return handled

    def _run_id(self) -> str:
        """An id for one run of a step (the embedded runner has no job rows): ``embedded-<pid>-<n>``."""
        self._runs += 1
        return f"embedded-{os.getpid()}-{self._runs}"

    async def _inbox_loop(self) -> None:
        while not self._stop.is_set():
            if not await asyncio.to_thread(self._role.held):
                with contextlib.suppress(TimeoutError):  # another process runs the jobs; wait our turn
                    await asyncio.wait_for(self._stop.wait(), timeout=ROLE_RETRY_SECONDS)
                continue
            if await self._work_once():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=self.ctx.settings.job_poll_seconds)
            self.wakeup.clear()

    async def _every(
        self,
        seconds: float,
        job: Callable[[AppContext], Awaitable[object]],
        name: str,
        *,
        initial_delay: float = 0.0,
    ) -> None:
        """Run ``job`` every ``seconds``, the first time after ``initial_delay``."""
        if initial_delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=initial_delay)
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # logged and counted by job_run
                if self._role.held():
                    async with job_run(name, job_id=self._run_id()):
                        await job(self.ctx)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, 1.0))
