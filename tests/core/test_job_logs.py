"""A failed job's log line: JSON with its traceback and context (job id, complaint id), no phone number.

The failure is real: the outbox table is renamed away under a complaint's dispatch job, so the
job's first query fails in the database driver. The job runs through the very task function the
procrastinate worker calls (with a job context naming its id) and through the embedded runner.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from procrastinate import JobContext
from procrastinate.jobs import Job
from sqlalchemy import select, text
from tests.e2e.harness import Harness, build

from complaintdesk import logs
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.jobs import queue
from complaintdesk.jobs.runner import JobRunner
from complaintdesk.jobs.workers import build_app
from complaintdesk.sandbox.wechatpay import seed
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio
PHONE = "13912345678"


@pytest.fixture
async def wx(settings: Settings, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await build(settings, tmp_path)
    yield harness
    await harness.aclose()


@pytest.fixture(autouse=True)
def pytest_logging() -> Iterator[None]:
    """Put the root logger back as pytest had it (its capture handlers, its level) after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture
def log_lines() -> io.StringIO:
    stream = io.StringIO()
    logs.configure("INFO", json_lines=True, stream=stream)
    return stream


@pytest.fixture
def broken_outbox(wx: Harness) -> Iterator[None]:
    with wx.ctx.engine.begin() as connection:
        connection.execute(text("ALTER TABLE outbound_action RENAME TO outbound_action_away"))
    yield
    with wx.ctx.engine.begin() as connection:
        connection.execute(text("ALTER TABLE outbound_action_away RENAME TO outbound_action"))


async def a_complaint(wx: Harness) -> int:
    """A complaint with the payer's phone, processed into the desk; its id."""
    wx.state.create_complaint(wx.shop.mchid, payer_phone=PHONE)
    seed(wx.state, wx.shop.mchid, count=2, days=1)
    await wx.deliver()
    await wx.process()
    with wx.ctx.session() as s:
        complaint = s.scalars(select(Complaint).where(Complaint.payer_phone_masked == "139****5678")).one()
        return complaint.id


def failures(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["message"].startswith("job ") and line["level"] == "error"]


async def test_a_failed_procrastinate_job_logs_its_traceback_and_context(
    wx: Harness, log_lines: io.StringIO
) -> None:
    complaint_id = await a_complaint(wx)
    app = build_app(wx.ctx)
    task = app.tasks[queue.DISPATCH_COMPLAINT]
    job = Job(
        id=4242,
        queue="outbox",
        lock=f"complaint:{complaint_id}",
        queueing_lock=None,
        task_name=queue.DISPATCH_COMPLAINT,
        task_kwargs={"complaint_id": complaint_id},
    )
    context = JobContext(app=app, job=job, start_timestamp=0.0, abort_reason=lambda: None)
    with wx.ctx.engine.begin() as connection:
        connection.execute(text("ALTER TABLE outbound_action RENAME TO outbound_action_away"))
    try:
        with pytest.raises(Exception, match="outbound_action"):
            await task.func(context, complaint_id=complaint_id)
    finally:
        with wx.ctx.engine.begin() as connection:
            connection.execute(text("ALTER TABLE outbound_action_away RENAME TO outbound_action"))

    found = failures(log_lines)
    assert [x["message"] for x in found] == ["job dispatch_complaint failed"], log_lines.getvalue()[-3000:]
    [line] = found
    assert line["job_id"] == 4242
    assert line["complaint_id"] == complaint_id
    assert line["task"] == "dispatch_complaint"
    chain = line["exception"]  # the driver's error and SQLAlchemy's, each with its frames
    assert any("outbound_action" in e["exc_value"] for e in chain)
    frames = [(f["filename"].rsplit("/", 2)[-2:], f["name"]) for e in chain for f in e["frames"]]
    assert (["jobs", "dispatch.py"], "_dispatch") in frames
    assert PHONE not in log_lines.getvalue()
    assert "locals" not in json.dumps(chain)


async def test_a_failed_embedded_run_logs_its_traceback_and_run_id(
    wx: Harness, log_lines: io.StringIO, broken_outbox: None
) -> None:
    runner = JobRunner(wx.ctx, schedules=False)
    await runner._work_once()  # every step runs; the outbox's fails and is logged, the others go on
    [line] = failures(log_lines)
    assert line["message"] == "job dispatch_actions failed"
    assert line["task"] == "dispatch_actions"
    assert line["job_id"].startswith("embedded-")
    assert line["exception"][0]["frames"]


async def test_a_phone_number_in_a_failure_is_masked_everywhere(log_lines: io.StringIO) -> None:
    from complaintdesk.ops.context import job_run

    with pytest.raises(RuntimeError):
        async with job_run("process_complaint", job_id=7, complaint_id=11):
            raise RuntimeError(f"upstream said payer {PHONE} is unreachable")
    [line] = failures(log_lines)
    assert (line["job_id"], line["complaint_id"]) == (7, 11)
    assert line["exception"][0]["exc_value"] == "upstream said payer 139****5678 is unreachable"
    assert PHONE not in log_lines.getvalue()
