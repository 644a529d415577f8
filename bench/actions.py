"""Benchmark: outbound actions dispatched by two worker processes against the simulator's limits.

Seeds complaints in the WeChat Pay simulator (served over loopback HTTP), imports them, queues
``--count`` replies through the outbox, then starts two ``complaintdesk worker`` processes that share
the database budgets. Prints actions per minute, the simulator's 429 count (target 0: our own pacing
never trips the limit), and whether every reply reached the simulator exactly once.

    .venv/bin/python bench/actions.py --count 240 --reply-per-minute 120
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_merchant_account, database, table

from complaintdesk.channels.base import ActionKind
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.outbox import service as outbox_service
from complaintdesk.core.outbox.models import ActionStatus, OutboundAction
from complaintdesk.jobs.scheduled import sync_account
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox.wechatpay import (
    SimulatorState,
    create_app,
    generate_merchant,
    generate_platform,
    seed,
)
from complaintdesk.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_simulator(state: SimulatorState) -> tuple[uvicorn.Server, str]:
    port = free_port()
    config = uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


def write_config(workdir: Path, db_url: str, per_minute: int) -> Path:
    key_file = workdir / "data_key"
    key_file.write_text("b" * 48, encoding="utf-8")
    config = workdir / "complaintdesk.toml"
    config.write_text(
        "\n".join(
            [
                f'database_url = "{db_url}"',
                f'data_key_file = "{key_file}"',
                f'data_dir = "{workdir}"',
                "job_poll_seconds = 0.2",
                "[wechatpay]",
                f"reply_per_minute = {per_minute}",
                "[sync]",
                "enabled = false",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return config


def queue_replies(ctx: AppContext, count: int) -> None:
    with ctx.session() as session:
        complaints = list(
            session.query(Complaint).filter(Complaint.raw_status != "PROCESSED").order_by(Complaint.id)
        )
        runtime = ctx.runtime_for("shop")
        for i in range(count):
            complaint = complaints[i % len(complaints)]
            outbox_service.request_action(
                session=session,
                complaint=complaint,
                kind=ActionKind.REPLY,
                params={"content": f"您好，第{i}条回复已收到"},
                channel=runtime.adapter,
                data_dir=ctx.settings.data_dir,
                requested_by="bench",
                now=ctx.clock.now(),
            )


def status_counts(ctx: AppContext) -> Counter[str]:
    with ctx.session() as session:
        return Counter(status for (status,) in session.query(OutboundAction.status))


def run(count: int, per_minute: int, workers: int, complaints: int) -> None:
    platform = generate_platform()
    shop = generate_merchant("1900000001")
    state = SimulatorState(platform=platform, limits={"reply": per_minute})
    state.register_merchant(shop)
    server, url = serve_simulator(state)
    try:
        with tempfile.TemporaryDirectory() as tmp, database("sqlite", Path(tmp)) as db:
            workdir = Path(tmp)
            add_merchant_account(db.url, "shop", shop, platform, workdir / "shop", api_base_url=url)
            config = write_config(workdir, db.url, per_minute)
            os.environ["COMPLAINTDESK_CONFIG"] = str(config)
            ctx = AppContext(Settings())
            ids = seed(state, shop.mchid, count=complaints, days=10, notify=False)
            asyncio.run(sync_account(ctx, "shop"))
            before = sum(len(state.merchant_actions(cid, api_only=True)) for cid in ids)
            queue_replies(ctx, count)
            env = {**os.environ, "COMPLAINTDESK_CONFIG": str(config)}
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "complaintdesk.cli.main", "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                for _ in range(workers)
            ]
            start = time.monotonic()
            try:
                while True:
                    counts = status_counts(ctx)
                    done = counts[ActionStatus.SENT] + counts[ActionStatus.FAILED]
                    sent = counts[ActionStatus.SENT]
                    print(f"\r{time.monotonic() - start:6.1f} s  sent {sent:4d}/{count}", end="")
                    if done >= count:
                        break
                    time.sleep(1.0)
            finally:
                for proc in procs:
                    os.killpg(proc.pid, signal.SIGTERM)
                for proc in procs:
                    proc.wait(timeout=20)
            elapsed = time.monotonic() - start
            print()
            replies = sum(len(state.merchant_actions(cid, api_only=True)) for cid in ids) - before
            counts = status_counts(ctx)
            rows = [
                ["actions queued", str(count)],
                ["worker processes", str(workers)],
                ["simulator reply limit", f"{per_minute}/min"],
                ["our reply budget", f"{per_minute}/min over 61 s windows, shared via the database"],
                ["sent / failed", f"{counts[ActionStatus.SENT]} / {counts[ActionStatus.FAILED]}"],
                ["wall time", f"{elapsed:.1f} s"],
                ["actions per minute", f"{counts[ActionStatus.SENT] / elapsed * 60:.1f}"],
                ["429 FREQUENCY_LIMITED received", str(state.stats.rate_limited)],
                ["replies applied in the simulator", f"{replies} (each exactly once: {replies == count})"],
            ]
            print(table(["measure", "value"], rows))
            ctx.engine.dispose()
    finally:
        server.should_exit = True


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--count", type=int, default=240, help="replies to send")
    parser.add_argument("--reply-per-minute", type=int, default=120, help="simulator limit = our budget")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--complaints", type=int, default=60, help="complaints the replies are spread over")
    args = parser.parse_args()
    run(args.count, args.reply_per_minute, args.workers, args.complaints)


if __name__ == "__main__":
    main()
