from __future__ import annotations

import asyncio
import multiprocessing

import pytest

from complaintdesk.core.budgets.limiter import SharedWindowLimiter
from complaintdesk.db import make_engine

pytestmark = pytest.mark.anyio


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_never_more_than_the_budget_in_any_window(db_url: str) -> None:
    clock = FakeTime()
    limiter = SharedWindowLimiter(
        make_engine(db_url, pool_size=0),
        window_seconds=61.0,
        time_source=lambda: clock.now,
        sleep=clock.sleep,
    )
    grants = []
    for _ in range(25):
        await limiter.acquire("wechatpay:1:reply", per_minute=10)
        grants.append(clock.now)
    for i in range(len(grants) - 10):
        assert grants[i + 10] - grants[i] >= 61.0  # the 11th call after any call waits a full window
    assert limiter.in_window("wechatpay:1:reply") == 5  # 25 grants: the third window holds the last 5
    await limiter.acquire("wechatpay:1:list", per_minute=10)  # keys are independent
    assert limiter.in_window("wechatpay:1:list") == 1


def _grab(url: str, key: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    limiter = SharedWindowLimiter(make_engine(url, pool_size=0), window_seconds=3600.0)

    async def run() -> None:
        for _ in range(count):
            try:
                await asyncio.wait_for(limiter.acquire(key, per_minute=30), timeout=0.5)
            except TimeoutError:
                out.put(0)
                continue
            out.put(1)

    asyncio.run(run())


def test_two_processes_share_one_budget(db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_grab, args=(db_url, "shared", 20, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in range(40)]
    for p in procs:
        p.join(timeout=30)
    assert sum(results) == 30  # 40 asked across two processes, exactly the budget granted
