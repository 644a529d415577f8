"""Benchmark: 1, 2 and 4 ``complaintdesk worker`` processes on PostgreSQL against the simulator.

For each worker count: a fresh PostgreSQL database, the WeChat Pay simulator served on loopback with
``--latency-ms`` per API call (its rate limits set out of the way: this measures the workers, not
WeChat Pay's budgets), one ``complaintdesk serve`` process taking the notifications, the workers, and
a sync every ``--sync-seconds``. Phase 1 notifies ``--complaints`` new complaints at once; phase 2
requests ``--actions`` replies through the API. Prints, per worker count:

* notifications delivered per second (the simulator's notifier, first to last complaint's first send)
  and complaints fully processed per second (first notification sent → last complaint visible): when
  the two are close, the workers kept up and the delivery was the limit;
* p50 / p95 from a complaint's notification leaving the simulator to the complaint being visible in
  the inbox with details and history (polled every 0.1 s: figures are up to ~0.1 s late);
* replies sent per second (first request → last one settled), and duplicate sends according to the
  simulator's own history (must be 0);
* the simulator's list calls (periodic sync: one per period for the cluster, whatever the workers).

    .venv/bin/python bench/workers.py --workers 1,2,4 --complaints 500 --actions 150 --latency-ms 50,150
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # the harness of the end-to-end tests
from common import BackendUnavailable, database, parse_list, percentile, table
from tests.e2e.cluster import SUB_MCHID, Cluster, Keys, Spec

from complaintdesk.sandbox.wechatpay import Faults, generate_merchant, generate_platform

UNLIMITED = dict.fromkeys(("list", "detail", "history", "reply", "upload", "images"), 10**9)
VISIBLE = (
    "SELECT c.external_id FROM complaint c WHERE c.history_fetched_at IS NOT NULL AND c.detail <> ''"
    " AND EXISTS (SELECT 1 FROM timeline_entry t WHERE t.complaint_id = c.id AND t.source = 'history')"
)


def spec(workers: int, latency: tuple[float, float], concurrency: int, sync_seconds: int) -> Spec:
    """Production-like job timings (leases and heartbeats) with the simulator's limits out of the way."""
    return Spec(
        serves=1,
        workers=workers,
        concurrency=concurrency,
        latency=latency,
        faults=Faults(),
        limits=UNLIMITED,
        limit_span=60.0,
        sync_interval=sync_seconds,
        jobs={
            "lease_seconds": 30,
            "heartbeat_seconds": 5,
            "stalled_after_seconds": 20,
            "sweep_seconds": 10,
            "scheduled_poll_seconds": 1,
        },
    )


async def visible_times(c: Cluster, ids: set[str], deadline: float) -> dict[str, float]:
    """Poll until every complaint of ``ids`` is visible (or the deadline); first time each was seen."""
    seen: dict[str, float] = {}
    while len(seen) < len(ids) and time.monotonic() < deadline:
        rows = await asyncio.to_thread(c.rows, VISIBLE)
        now = time.time()
        for (external,) in rows:
            if external in ids:
                seen.setdefault(external, now)
        await asyncio.sleep(0.1)
    return seen


async def request_replies(c: Cluster, targets: list[tuple[int, str]]) -> dict[str, str]:
    """One reply per target complaint through the API (8 at a time); returns text per external id."""
    gate = asyncio.Semaphore(8)
    texts: dict[str, str] = {}

    async def one(client: httpx.AsyncClient, cid: int, external: str) -> None:
        async with gate:
            content = f"您好，已为您处理（{external[-6:]}）"
            answer = await client.post(
                f"{c.api(0)}/api/v1/complaints/{cid}/actions",
                headers=c.headers,
                json={"kind": "reply", "params": {"content": content}},
            )
            if answer.status_code == 202:
                texts[external] = content

    async with httpx.AsyncClient(timeout=10.0) as client:
        await asyncio.gather(*(one(client, cid, ext) for cid, ext in targets))
    return texts


async def settled(c: Cluster, count: int, deadline: float) -> float:
    """Wait until ``count`` actions are sent or failed; returns when (time.time())."""
    while time.monotonic() < deadline:
        if (await asyncio.to_thread(c.progress))["actions_done"] >= count:
            break
        await asyncio.sleep(0.1)
    return time.time()


async def one_run(
    db_url: str, workdir: Path, args: argparse.Namespace, workers: int, keys: Keys
) -> list[str]:
    """One worker count: start the cluster, run both phases, return the table row."""
    c = Cluster(db_url, workdir, spec(workers, args.latency, args.concurrency, args.sync_seconds), keys=keys)
    try:
        await c.start()
        started = time.monotonic()
        ids = {
            c.state.create_complaint(c.shop.mchid if i % 2 == 0 else SUB_MCHID, images=0)
            for i in range(args.complaints)
        }
        seen = await visible_times(c, ids, time.monotonic() + args.timeout)
        latencies = sorted(seen[x] - c.notifier.first_sent[x] for x in seen)
        first, last = min(c.notifier.first_sent.values()), max(c.notifier.first_sent.values())
        rate = len(seen) / (max(seen.values()) - first) if seen else 0.0
        offered = len(ids) / max(last - first, 1e-9)

        rows = await asyncio.to_thread(c.rows, "SELECT id, external_id FROM complaint ORDER BY id")
        targets = [(int(cid), str(ext)) for cid, ext in rows[: args.actions]]
        asked = time.time()
        texts = await request_replies(c, targets)
        done = await settled(c, len(texts), time.monotonic() + args.timeout)
        statuses = dict(
            await asyncio.to_thread(c.rows, "SELECT status, count(*) FROM outbound_action GROUP BY 1")
        )
        applied = Counter(
            e.get("operate_details") for ext in texts for e in c.state.merchant_actions(ext, api_only=True)
        )
        duplicates = sum(n - 1 for n in applied.values() if n > 1)
        elapsed = time.monotonic() - started
        syncs = await asyncio.to_thread(c.scalar, "SELECT count(*) FROM sync_run")
        return [
            str(workers),
            f"{len(seen)}/{len(ids)}",
            f"{offered:.1f}",
            f"{rate:.1f}",
            f"{percentile(latencies, 50):.2f}",
            f"{percentile(latencies, 95):.2f}",
            f"{statuses.get('sent', 0)}/{len(texts)}",
            f"{statuses.get('sent', 0) / max(done - asked, 1e-9):.1f}",
            str(duplicates),
            f"{c.state.stats.applied['reply']}",
            f"{c.state.stats.calls['list']} ({syncs} sync runs)",
            f"{elapsed:.0f}",
        ]
    finally:
        await c.aclose()


async def run(args: argparse.Namespace) -> None:
    keys: Keys = (generate_platform(), generate_merchant("1900000001"), generate_merchant("1900000100"))
    headers = [
        "workers",
        "visible",
        "notified/s",
        "complaints/s",
        "p50 s",
        "p95 s",
        "replies sent",
        "replies/s",
        "duplicate sends",
        "applied",
        "list calls",
        "wall s",
    ]
    results = []
    for count in args.workers:
        print(f"{count} worker(s): {args.complaints} complaints, {args.actions} replies …", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                with database("postgresql", Path(tmp)) as db:
                    results.append(await one_run(db.url, Path(tmp), args, count, keys))
            except BackendUnavailable as exc:
                print(f"skipped: {exc}")
                return
        print(table(headers, results[-1:]), flush=True)
    low, high = args.latency
    print(
        f"\nsimulator latency {low * 1000:.0f}–{high * 1000:.0f} ms per call, worker concurrency"
        f" {args.concurrency}, sync every {args.sync_seconds} s; duplicates from the simulator's history"
    )
    print(table(headers, results))


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, e.g. 1,2,4")
    parser.add_argument("--complaints", type=int, default=500, help="complaints notified")
    parser.add_argument("--actions", type=int, default=150, help="replies requested (one per complaint)")
    parser.add_argument("--latency-ms", default="50,150", help="simulator latency range per call, ms")
    parser.add_argument("--concurrency", type=int, default=8, help="jobs per worker process")
    parser.add_argument("--sync-seconds", type=int, default=10, help="sync interval")
    parser.add_argument("--timeout", type=float, default=240.0, help="longest wait of each phase, s")
    args = parser.parse_args()
    args.workers = [int(w) for w in parse_list(args.workers)]
    low, high = (float(v) / 1000 for v in parse_list(args.latency_ms))
    args.latency = (low, high)
    args.actions = min(args.actions, args.complaints)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
