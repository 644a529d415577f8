"""A budget limiter shared by every process through the database.

Same contract as :class:`complaintdesk.ratelimit.SlidingWindowLimiter` (at most ``per_minute`` grants
per key in any window), but the grants live in ``budget_grant`` so web processes, workers and a
``complaintdesk sync`` run by hand all draw from one budget. Each grant is one short transaction that
first takes the key's write lock (PostgreSQL advisory lock; SQLite's write lock via the DELETE).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine, delete, insert, select, text

from complaintdesk.core.budgets.models import BudgetGrant


class SharedWindowLimiter:
    """Database-backed sliding-window budgets."""

    def __init__(
        self,
        engine: Engine,
        *,
        window_seconds: float = 61.0,
        time_source: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._engine = engine
        self._window = window_seconds
        self._time = time_source
        self._sleep = sleep
        self._postgres = engine.dialect.name == "postgresql"

    async def acquire(self, key: str, per_minute: int) -> None:
        """Wait until one more call under ``key`` fits, and record it."""
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        while True:
            wait = await asyncio.to_thread(self._try_grant, key, per_minute)
            if wait <= 0:
                return
            await self._sleep(max(wait, 0.005))

    def _try_grant(self, key: str, per_minute: int) -> float:
        """Grant now and return 0, or return how long to wait before asking again."""
        now = self._time()
        grant = BudgetGrant
        with self._engine.begin() as conn:
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
            conn.execute(delete(grant).where(grant.key == key, grant.granted_at <= now - self._window))
            query = select(grant.granted_at).where(grant.key == key).order_by(grant.granted_at)
            granted = list(conn.scalars(query))
            if len(granted) < per_minute:
                conn.execute(insert(grant).values(key=key, granted_at=now))
                return 0.0
            return float(granted[len(granted) - per_minute]) + self._window - now

    def in_window(self, key: str) -> int:
        """How many grants under ``key`` are inside the current window."""
        now = self._time()
        with self._engine.connect() as conn:
            rows = conn.scalars(select(BudgetGrant.granted_at).where(BudgetGrant.key == key))
            return sum(1 for at in rows if now - float(at) < self._window)
