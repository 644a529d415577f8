"""PostgreSQL goes away under load (every connection cut, new ones refused for a while): nothing is lost.

The database is "restarted" as its clients see a restart: connections to the test database are
refused (``ALLOW_CONNECTIONS false``) and every open one is terminated, then it comes back. Only the
test's own database is touched, so other work on the same server goes on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from tests.conftest import PG_ADMIN_URL
from tests.e2e.harness import Harness, build

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.inbox.models import InboxEvent, InboxStatus
from complaintdesk.jobs.workers import run_worker
from complaintdesk.sandbox.wechatpay import Notifier
from complaintdesk.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _restart(database: str, downtime: float) -> None:
    """Refuse new connections to ``database``, cut the open ones, and let them back after ``downtime``."""
    import time

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": database},
            )
            time.sleep(downtime)
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
    finally:
        admin.dispose()


def _counts(wx: Harness) -> tuple[int, int, int]:
    with wx.ctx.session() as s:
        complaints = int(s.scalar(select(func.count()).select_from(Complaint)) or 0)
        events = int(s.scalar(select(func.count()).select_from(InboxEvent)) or 0)
        done = int(
            s.scalar(
                select(func.count()).select_from(InboxEvent).where(InboxEvent.status == InboxStatus.DONE)
            )
            or 0
        )
    return complaints, events, done


async def _settle(wx: Harness, expected: int) -> tuple[int, int, int]:
    counts = (0, 0, 0)
    for _ in range(600):  # bounded: 60 s
        try:
            await wx.deliver()  # the notifier retries whatever was refused while the database was away
            counts = _counts(wx)
        except Exception:
            await asyncio.sleep(0.1)
            continue
        if counts[0] == expected and counts[1] == counts[2]:
            return counts
        await asyncio.sleep(0.1)
    return counts


async def test_a_database_restart_under_load_loses_nothing_and_workers_carry_on(
    settings: Settings, tmp_path: Path
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("restarts a PostgreSQL database (SQLite has no server to restart)")
    settings.jobs.heartbeat_seconds = 1
    settings.jobs.stalled_after_seconds = 4
    settings.jobs.sweep_seconds = 2
    settings.jobs.scheduled_poll_seconds = 0.5
    wx = await build(settings, tmp_path)
    # WeChat Pay retries a refused notification for hours; here as often as the test delivers
    wx.notifier = Notifier(wx.state, client=wx.desk, retry_delays=(0.0,) * 400)
    worker = asyncio.create_task(run_worker(wx.ctx, install_signal_handlers=False))
    database = settings.database_url.rsplit("/", 1)[-1]
    try:
        first = [wx.state.create_complaint(wx.shop.mchid) for _ in range(20)]
        await wx.deliver()
        restart = asyncio.create_task(asyncio.to_thread(_restart, database, 2.0))
        second = [wx.state.create_complaint(wx.shop.mchid) for _ in range(20)]
        while not restart.done():  # notifications keep arriving while the database is away
            await wx.deliver()  # refused with 5xx while it is: WeChat Pay keeps them for later
            await asyncio.sleep(0.05)
        await restart
        third = [wx.state.create_complaint(wx.shop.mchid) for _ in range(20)]
        complaints, events, done = await _settle(wx, len(first) + len(second) + len(third))
        assert complaints == 60  # every complaint notified before, during and after the restart
        assert events == done  # every stored notification processed
        assert not worker.done()  # the worker reconnected and is still serving
        with wx.ctx.session() as s:
            stored = set(s.scalars(select(Complaint.external_id)))
        assert stored == set(first + second + third)
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        await wx.aclose()
