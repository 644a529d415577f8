"""The job path on PostgreSQL: jobs deferred with the writes that need them, run by procrastinate workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.e2e.harness import Harness, build
from tests.e2e.test_api import token

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.inbox.models import InboxEvent, InboxStatus
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.jobs import workers
from complaintdesk.jobs.workers import build_app, cron_every, sweep, worker_options
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pg(settings: Settings, tmp_path: Path) -> AsyncIterator[Harness]:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("procrastinate runs on PostgreSQL only (SQLite uses the embedded runner)")
    harness = await build(settings, tmp_path)
    yield harness
    await harness.aclose()


def _jobs(wx: Harness, task: str) -> list[tuple[str, str | None, dict[str, object]]]:
    with wx.ctx.session() as s:
        rows = s.execute(
            text("SELECT status::text, lock, args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"),
            {"t": task},
        ).all()
    return [(status, lock, args) for status, lock, args in rows]


def _ready(wx: Harness) -> int:
    with wx.ctx.session() as s:
        return int(
            s.execute(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'"
                    " AND (scheduled_at IS NULL OR scheduled_at <= now())"
                )
            ).scalar_one()
        )


def _dead_worker(session: Session) -> int:
    """A worker row whose heartbeat stopped an hour ago (killed, its machine gone); its id."""
    return int(
        session.execute(
            text(
                "INSERT INTO procrastinate_workers (last_heartbeat)"
                " VALUES (now() - interval '1 hour') RETURNING id"
            )
        ).scalar_one()
    )


async def _run_until_idle(wx: Harness) -> None:
    """A procrastinate worker (the real one) run until no job is ready.

    With ``wait=False`` a worker stops when a fetch finds nothing, which a job waiting behind another
    of the same lock also causes: so run it again while jobs are ready.
    """
    app = build_app(wx.ctx)
    async with app.open_async():
        for _ in range(20):
            await app.run_worker_async(**worker_options(wx.ctx, wait=False, install_signal_handlers=False))
            if not _ready(wx):
                return
    raise AssertionError("jobs still ready after 20 worker runs")


async def test_a_notification_commits_with_its_job_and_a_worker_processes_it(pg: Harness) -> None:
    external = pg.state.create_complaint(pg.shop.mchid)
    await pg.deliver()
    assert [status for status, _, _ in _jobs(pg, "complaintdesk.fan_out_inbox")] == ["todo"]
    pg.state.create_complaint(pg.shop.mchid)
    await pg.deliver()  # a second batch while the first's job still waits: no second job
    assert len(_jobs(pg, "complaintdesk.fan_out_inbox")) == 1
    await _run_until_idle(pg)
    with pg.ctx.session() as s:
        assert s.query(Complaint).filter_by(external_id=external).count() == 1
        assert s.query(Complaint).count() == 2
        assert {e.status for e in s.query(InboxEvent)} == {InboxStatus.DONE}
    assert _jobs(pg, "complaintdesk.process_complaint") == []  # succeeded jobs are deleted
    assert _jobs(pg, "complaintdesk.fan_out_inbox") == []


async def test_actions_requested_through_the_api_are_sent_once_each_in_order(pg: Harness) -> None:
    external = pg.state.create_complaint(pg.shop.mchid)
    await pg.deliver()
    await _run_until_idle(pg)
    with pg.ctx.session() as s:
        cid = s.query(Complaint).filter_by(external_id=external).one().id
    headers = token(pg, "ops", all_accounts=True)
    for i in range(3):
        answer = await pg.desk.post(
            f"/api/v1/complaints/{cid}/actions",
            headers=headers,
            json={"kind": "reply", "params": {"content": f"回复{i}"}},
        )
        assert answer.status_code == 202
    pending = _jobs(pg, "complaintdesk.dispatch_complaint")
    assert [lock for _, lock, _ in pending] == [f"send:{cid}"] * 3  # committed with each action
    await _run_until_idle(pg)
    with pg.ctx.session() as s:
        assert {a.status for a in s.query(OutboundAction)} == {ActionStatus.SENT}
    replies = [
        e.get("operate_details", "")
        for e in pg.state.merchant_actions(external, api_only=True)
        if e["operate_type"] == "MERCHANT_RESPONSE"
    ]
    assert replies == ["回复0", "回复1", "回复2"]
    assert pg.state.stats.applied["reply"] == 3


async def test_the_sweep_gives_due_work_without_a_job_a_job_and_recovers_a_dead_workers_jobs(
    pg: Harness,
) -> None:
    external = pg.state.create_complaint(pg.shop.mchid)
    await pg.deliver()
    with pg.ctx.session() as s:  # as if the job had failed for good: the notification has no job left
        s.execute(text("DELETE FROM procrastinate_jobs"))
        # and a worker died while running another job: its heartbeat is long gone
        worker_id = _dead_worker(s)
        s.execute(
            text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args, status, worker_id)"
                " VALUES ('media', 'complaintdesk.archive_link', 'media:999',"
                " '{\"link_id\": 999}', 'doing', :w)"
            ),
            {"w": worker_id},
        )
    app = build_app(pg.ctx)
    async with app.open_async():
        assert await sweep(pg.ctx, app) == 1  # one job for the notification that had none
        assert await sweep(pg.ctx, app) == 0  # its queueing lock keeps the next sweep from piling on
    assert [status for status, _, _ in _jobs(pg, "complaintdesk.archive_link")] == ["todo"]  # handed over
    await _run_until_idle(pg)
    with pg.ctx.session() as s:
        assert s.query(Complaint).filter_by(external_id=external).count() == 1


async def test_the_sweep_leaves_due_work_to_a_job_of_its_lock_that_a_live_worker_runs(pg: Harness) -> None:
    """A slow job still running when the next sweep comes: a second job beside it would share its
    queueing lock, and a retry of the first (back to ``todo``) would then stop procrastinate's worker."""
    external = pg.state.create_complaint(pg.shop.mchid)
    await pg.deliver()
    with pg.ctx.session() as s:
        account_id = s.query(InboxEvent).one().account_id
        s.execute(text("DELETE FROM procrastinate_jobs"))
        worker_id = int(
            s.execute(
                text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id")
            ).scalar_one()
        )
        lock = f"complaint:{account_id}:{external}"
        s.execute(
            text(
                "INSERT INTO procrastinate_jobs"
                " (queue_name, task_name, lock, queueing_lock, args, status, worker_id) VALUES"
                " ('inbox', 'complaintdesk.process_complaint', :lock, :qlock, :args, 'doing', :w)"
            ),
            {
                "lock": lock,
                "qlock": f"sweep:{lock}",
                "args": f'{{"account_id": {account_id}, "external_id": "{external}"}}',
                "w": worker_id,
            },
        )
    app = build_app(pg.ctx)
    async with app.open_async():
        assert await sweep(pg.ctx, app) == 0  # the running job will read the due notification
        with pg.ctx.session() as s:
            s.execute(text("DELETE FROM procrastinate_jobs"))  # it ended without processing it
        assert await sweep(pg.ctx, app) == 1
    assert [status for status, _, _ in _jobs(pg, "complaintdesk.process_complaint")] == ["todo"]


async def test_a_dead_workers_job_whose_queueing_lock_has_a_waiting_job_gives_way_to_it(pg: Harness) -> None:
    """The sweep deferred a job; a worker died running it; the next sweep deferred another (same
    queueing lock, allowed while the first is ``doing``). Retrying the first would break the queueing
    lock's uniqueness: it used to stay ``doing`` for ever, holding the complaint's lock (cluster test)."""
    external = pg.state.create_complaint(pg.shop.mchid)
    await pg.deliver()
    with pg.ctx.session() as s:
        account_id = s.query(InboxEvent).one().account_id
        s.execute(text("DELETE FROM procrastinate_jobs"))
        worker_id = _dead_worker(s)
        lock = f"complaint:{account_id}:{external}"
        for status, worker in (("doing", worker_id), ("todo", None)):
            s.execute(
                text(
                    "INSERT INTO procrastinate_jobs"
                    " (queue_name, task_name, lock, queueing_lock, args, status, worker_id)"
                    " VALUES ('inbox', 'complaintdesk.process_complaint', :lock, :qlock, :args, :status, :w)"
                ),
                {
                    "lock": lock,
                    "qlock": f"sweep:{lock}",
                    "args": f'{{"account_id": {account_id}, "external_id": "{external}"}}',
                    "status": status,
                    "w": worker,
                },
            )
    app = build_app(pg.ctx)
    async with app.open_async():
        await sweep(pg.ctx, app)
    assert [status for status, _, _ in _jobs(pg, "complaintdesk.process_complaint")] == ["todo"]
    await _run_until_idle(pg)
    with pg.ctx.session() as s:
        assert s.query(Complaint).filter_by(external_id=external).count() == 1
        assert {e.status for e in s.query(InboxEvent)} == {InboxStatus.DONE}
    assert _jobs(pg, "complaintdesk.process_complaint") == []


async def test_a_fan_out_failing_while_the_next_one_waits_is_not_retried_and_the_worker_goes_on(
    pg: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database went away during a fan-out, and meanwhile the inbox writer deferred the next one
    (allowed while the first is ``doing``). Retrying the first would set it back to ``todo`` beside
    that one, which the queueing lock forbids: procrastinate's worker stopped on that error (seen in
    the database-restart test). The failed fan-out is left failed; the waiting one does its work."""
    first = pg.state.create_complaint(pg.shop.mchid)
    await pg.deliver()
    original = workers.fan_out_inbox
    runs: list[str] = []

    async def fails_the_first_time(ctx: AppContext) -> int:
        runs.append("run")
        if len(runs) == 1:
            pg.state.create_complaint(pg.shop.mchid)
            await pg.deliver()  # committed with the next fan-out job, while this one is doing
            raise ConnectionResetError("the database went away")
        return await original(ctx)

    monkeypatch.setattr(workers, "fan_out_inbox", fails_the_first_time)
    await _run_until_idle(pg)
    assert len(runs) == 2
    assert [status for status, _, _ in _jobs(pg, "complaintdesk.fan_out_inbox")] == ["failed"]
    with pg.ctx.session() as s:
        assert s.query(Complaint).filter_by(external_id=first).count() == 1
        assert s.query(Complaint).count() == 2
        assert {e.status for e in s.query(InboxEvent)} == {InboxStatus.DONE}


@pytest.mark.parametrize("newer_ready_job", [True, False], ids=["with a ready job", "alone"])
async def test_the_sweep_releases_a_job_waiting_for_later_that_holds_back_due_work_of_its_lock(
    pg: Harness, newer_ready_job: bool
) -> None:
    external = pg.state.create_complaint(pg.shop.mchid)
    await pg.deliver()
    with pg.ctx.session() as s:
        account_id = s.query(InboxEvent).one().account_id
        s.execute(text("DELETE FROM procrastinate_jobs"))
        # A job of this complaint's lock retried with a long backoff (an unexpected error, attempts ago),
        # then a newer, ready job for the notification: procrastinate would run neither for an hour.
        # Alone, the waiting job does not keep the sweep from giving the due notification a ready job.
        for scheduled in ("now() + interval '1 hour'", "NULL")[: 2 if newer_ready_job else 1]:
            s.execute(
                text(
                    "INSERT INTO procrastinate_jobs"
                    " (queue_name, task_name, lock, args, attempts, scheduled_at)"
                    f" VALUES ('inbox', 'complaintdesk.process_complaint', :lock, :args, 3, {scheduled})"
                ),
                {
                    "lock": f"complaint:{account_id}:{external}",
                    "args": f'{{"account_id": {account_id}, "external_id": "{external}"}}',
                },
            )
    with pg.ctx.sessions() as s:  # procrastinate's own fetch: the ready job is held back (rolled back)
        assert _ready(pg) == (1 if newer_ready_job else 0)
        assert s.execute(text("SELECT id FROM procrastinate_fetch_job_v2(NULL, NULL)")).scalar() is None
    app = build_app(pg.ctx)
    async with app.open_async():
        assert await sweep(pg.ctx, app) == (0 if newer_ready_job else 1)
    await _run_until_idle(pg)
    with pg.ctx.session() as s:
        assert s.query(Complaint).filter_by(external_id=external).count() == 1
        assert {e.status for e in s.query(InboxEvent)} == {InboxStatus.DONE}
        left = s.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE '%process%'"))
        assert left.scalar_one() == 0


async def test_periodic_jobs_run_once_per_period_however_many_workers(pg: Harness) -> None:
    pg.ctx.settings.sync.enabled = False
    apps = [build_app(pg.ctx) for _ in range(3)]

    async def run(app: object) -> None:
        async with app.open_async():  # type: ignore[attr-defined]
            worker = asyncio.create_task(
                app.run_worker_async(**worker_options(pg.ctx, install_signal_handlers=False))  # type: ignore[attr-defined]
            )
            await asyncio.sleep(2.5)
            worker.cancel()
            with pytest.raises(asyncio.CancelledError):
                await worker

    await asyncio.gather(*(run(app) for app in apps))
    with pg.ctx.session() as s:
        defers = s.execute(
            text(
                "SELECT task_name, defer_timestamp, count(*) FROM procrastinate_periodic_defers"
                " GROUP BY task_name, defer_timestamp HAVING count(*) > 1"
            )
        ).all()
    assert defers == []  # never two jobs of one task for one period


def test_intervals_become_cron_expressions() -> None:
    assert cron_every(30) == "* * * * * */30"
    assert cron_every(60) == "*/1 * * * *"
    assert cron_every(900) == "*/15 * * * *"
    assert cron_every(12 * 3600) == "0 */12 * * *"
