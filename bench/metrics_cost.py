"""What counting costs on the hot paths, in prometheus-client's multiprocess mode (as ``serve`` runs).

Measured in one process, with values in memory-mapped files under a temporary directory:

* the inbox writer's per-batch work: grouping a batch by channel and two counter updates;
* one counter update (a refused webhook call) and one histogram observation;
* the two httpx event hooks of a channel client around one request (endpoint label cached);
* a scrape of the counters written by this process (``MultiProcessCollector``).

``bench/ingest.py`` measures the whole webhook path over loopback; this isolates what metrics add.
Run from the repository root::

    .venv/bin/python bench/metrics_cost.py

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def per_call(fn: Callable[[], object], count: int) -> float:
    """Microseconds per call of ``fn`` (best of three runs of ``count`` calls)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            fn()
        best = min(best, time.perf_counter() - started)
    return best / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="calls per measurement")
    parser.add_argument("--batch", type=int, default=64, help="rows per inbox batch")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        from complaintdesk.ops import metrics

        metrics.use_directory(Path(directory), clean=True)
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        from complaintdesk.channels.common.metrics import metric_hooks
        from complaintdesk.core.inbox.writer import _by_channel

        rows = [{"channel": "wechatpay", "dedupe_key": str(i)} for i in range(options.batch)]

        def batch() -> None:
            for channel, group in _by_channel(rows).items():
                metrics.count_notifications(channel, "stored", len(group) - 1)
                metrics.count_notifications(channel, "duplicate", 1)

        refused = per_call(
            lambda: metrics.count_notifications("wechatpay", "refused", reason="X"), options.count
        )
        observe = per_call(
            lambda: metrics.UPSTREAM_REQUESTS.labels("wechatpay", "/v3/x").observe(0.12), options.count
        )
        per_batch = per_call(batch, options.count // 10)

        on_request, on_response = metric_hooks("wechatpay")
        request = httpx.Request(
            "GET", "https://api.mch.weixin.qq.com/v3/merchant-service/complaints-v2/2002018"
        )
        response = httpx.Response(200, request=request)

        async def hooks(count: int) -> float:
            started = time.perf_counter()
            for _ in range(count):
                await on_request(request)
                await on_response(response)
            return (time.perf_counter() - started) / count * 1e6

        hook = min(asyncio.run(hooks(options.count // 10)) for _ in range(3))

        registry = CollectorRegistry()
        MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
        scrape = per_call(lambda: generate_latest(registry), 200)

    print(f"metrics cost, multiprocess mode ({options.count:,} calls per figure, best of 3)")
    print(
        f"  inbox batch of {options.batch} rows, grouped by channel + 2 counters: {per_batch:6.2f} µs"
        f"  = {per_batch / options.batch * 1000:6.1f} ns per notification"
    )
    print(f"  one counter update (a refused call):                    {refused:6.2f} µs")
    print(f"  one histogram observation:                              {observe:6.2f} µs")
    print(f"  httpx hooks around one upstream call:                   {hook:6.2f} µs")
    print(f"  scrape of this process's files:                         {scrape / 1000:6.2f} ms")


if __name__ == "__main__":
    main()
