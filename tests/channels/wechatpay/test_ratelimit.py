"""Tier 1: the sliding-window limiter, driven by a fake monotonic clock."""

from __future__ import annotations

import asyncio
import random

import pytest

from complaintdesk.ratelimit import RateLimiter, SlidingWindowLimiter


class FakeTime:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.anyio
async def test_waits_for_the_oldest_call_to_leave_the_window() -> None:
    clock = FakeTime()
    limiter: RateLimiter = SlidingWindowLimiter(
        window_seconds=61.0, monotonic=clock.monotonic, sleep=clock.sleep
    )
    for _ in range(3):
        await limiter.acquire("k", 3)
    assert clock.sleeps == []
    await limiter.acquire("k", 3)
    assert clock.now == pytest.approx(1061.0)
    await limiter.acquire("other", 3)  # independent key
    assert clock.now == pytest.approx(1061.0)


@pytest.mark.anyio
async def test_never_more_than_n_per_window_sequential() -> None:
    clock = FakeTime()
    limiter = SlidingWindowLimiter(window_seconds=61.0, monotonic=clock.monotonic, sleep=clock.sleep)
    rng = random.Random(7)
    granted: list[float] = []
    for _ in range(200):
        clock.now += rng.choice([0.0, 0.0, 0.1, 1.0, 5.0, 30.0])
        await limiter.acquire("k", 10)
        granted.append(clock.now)
    assert _max_in_any_window(granted, 61.0) == 10


@pytest.mark.anyio
async def test_never_more_than_n_per_window_concurrent() -> None:
    clock = FakeTime()
    limiter = SlidingWindowLimiter(window_seconds=61.0, monotonic=clock.monotonic, sleep=clock.sleep)
    granted: list[float] = []

    async def call() -> None:
        await limiter.acquire("wechatpay:1:list", 5)
        granted.append(clock.now)

    await asyncio.gather(*(call() for _ in range(40)))
    assert len(granted) == 40
    assert _max_in_any_window(granted, 61.0) <= 5
    assert limiter.in_window("wechatpay:1:list") <= 5


@pytest.mark.anyio
async def test_rejects_bad_budgets() -> None:
    with pytest.raises(ValueError):
        await SlidingWindowLimiter().acquire("k", 0)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(window_seconds=0)
