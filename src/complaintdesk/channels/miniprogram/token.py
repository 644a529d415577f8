"""The mini program's access token: fetched with ``stable_token``, cached in a ``TokenStore``, renewed early.

Usage (the transport provides ``fetch``)::

    tokens = AccessTokens(key="miniprogram:wx123", store=InMemoryTokenStore(), fetch=fetch, time=time.time)
    token = await tokens.get()                  # cached until `margin` seconds before expiry
    token = await tokens.renew(rejected=token)  # after errcode 40001/42001/40014

``fetch(force_refresh)`` returns ``(access_token, expires_in)``. A renewal first asks in normal mode (the
platform hands out the current token, which another process may already have replaced); only when that
returns the very token that was refused does it force a refresh — at most once per
``force_min_interval`` seconds, because WeChat allows 20 forced refreshes a day, 30 s apart.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from complaintdesk.channels.base import TokenStore

__all__ = ["AccessTokens", "InMemoryTokenStore", "TokenFetcher"]

TokenFetcher = Callable[[bool], Awaitable[tuple[str, float]]]


class InMemoryTokenStore:
    """A ``TokenStore`` for one process (tests, single-process deployments)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, float]] = {}

    async def get(self, key: str) -> tuple[str, float] | None:
        """The cached token and its expiry (epoch seconds), if any."""
        return self._items.get(key)

    async def put(self, key: str, token: str, expires_at: float) -> None:
        """Cache a token."""
        self._items[key] = (token, expires_at)


class AccessTokens:
    """The cached access token of one mini program (shared with other processes through the store)."""

    def __init__(
        self,
        *,
        key: str,
        store: TokenStore,
        fetch: TokenFetcher,
        time: Callable[[], float],
        margin: float = 300.0,
        force_min_interval: float = 30.0,
    ) -> None:
        self.key = key
        self._store = store
        self._fetch = fetch
        self._time = time
        self._margin = margin
        self._force_min_interval = force_min_interval
        self._last_force = -math.inf
        self._lock = asyncio.Lock()
        self.fetches = 0  # stable_token calls made by this instance (for tests and metrics)

    async def _cached(self) -> tuple[str, float] | None:
        return await self._store.get(self.key)

    def _fresh(self, cached: tuple[str, float] | None) -> bool:
        return cached is not None and bool(cached[0]) and cached[1] - self._margin > self._time()

    async def _refresh(self, *, force: bool) -> str:
        self.fetches += 1
        token, expires_in = await self._fetch(force)
        await self._store.put(self.key, token, self._time() + expires_in)
        return token

    async def get(self) -> str:
        """A token valid for at least ``margin`` more seconds (fetched when the cache has none)."""
        cached = await self._cached()
        if cached is not None and self._fresh(cached):
            return cached[0]
        async with self._lock:
            cached = await self._cached()
            if cached is not None and self._fresh(cached):
                return cached[0]
            return await self._refresh(force=False)

    async def renew(self, rejected: str) -> str:
        """Replace a token the API refused; return the new one (equal to ``rejected`` if nothing helped)."""
        async with self._lock:
            cached = await self._cached()
            if cached is not None and cached[0] != rejected and self._fresh(cached):
                return cached[0]  # another caller renewed it meanwhile
            token = await self._refresh(force=False)
            now = self._time()
            if token == rejected and now - self._last_force >= self._force_min_interval:
                self._last_force = now
                token = await self._refresh(force=True)
            return token
