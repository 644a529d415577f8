"""Call budgets: wait until an upstream call fits in its per-minute allowance.

Usage::

    limiter = SlidingWindowLimiter()
    await limiter.acquire("wechatpay:1900000001:list", per_minute=200)
    ...  # make the call

The in-process limiter counts per key; a cross-process implementation can satisfy the same Protocol.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["RateLimiter", "SlidingWindowLimiter"]

#: Shortest sleep between two checks; guards against float rounding producing endless tiny sleeps.
_MIN_SLEEP = 0.001


class RateLimiter(Protocol):
    """Something that makes a caller wait until one more call under ``key`` is allowed."""

    async def acquire(self, key: str, per_minute: int) -> None:
        """Return once one more call under ``key`` fits the budget (the call is then counted)."""
        ...


class SlidingWindowLimiter:
    """In-process limiter: at most ``per_minute`` acquisitions in any ``window_seconds`` span per key."""

    def __init__(
        self,
        *,
        window_seconds: float = 61.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self._window = window_seconds
        self._monotonic = monotonic
        self._sleep = sleep
        self._granted: dict[str, deque[float]] = {}

    async def acquire(self, key: str, per_minute: int) -> None:
        """Wait until a call under ``key`` is allowed, then record it."""
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        granted = self._granted.setdefault(key, deque())
        while True:
            now = self._monotonic()
            while granted and now - granted[0] >= self._window:
                granted.popleft()
            if len(granted) < per_minute:
                granted.append(now)
                return
            # the budget frees up when the oldest call of the last ``per_minute`` leaves the window
            wait = granted[len(granted) - per_minute] + self._window - now
            await self._sleep(max(wait, _MIN_SLEEP))

    def in_window(self, key: str) -> int:
        """Return how many calls under ``key`` are currently counted (for tests and metrics)."""
        granted = self._granted.get(key)
        if not granted:
            return 0
        now = self._monotonic()
        return sum(1 for t in granted if now - t < self._window)
