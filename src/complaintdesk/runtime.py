"""The running application's shared objects, built once from Settings at the edge."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from complaintdesk.channels.base import ChannelRuntime
from complaintdesk.channels.registry import build_runtime
from complaintdesk.clock import Clock, SystemClock
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.accounts.token_cache import DbTokenStore
from complaintdesk.core.budgets.limiter import SharedWindowLimiter
from complaintdesk.core.live import feed as live_feed
from complaintdesk.core.media.storage import MediaStorage, build_storage
from complaintdesk.core.reports import rollup as report_rollup
from complaintdesk.db import make_engine, make_session_factory, unit_of_work
from complaintdesk.errors import AccountNotFound
from complaintdesk.ratelimit import RateLimiter
from complaintdesk.security import DataCipher
from complaintdesk.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
TransportFactory = Callable[[MerchantAccount], httpx.AsyncBaseTransport | None]


class AppContext:
    """Settings, database, clock, cipher, budgets, evidence storage and per-account channel runtimes."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
        transport_factory: TransportFactory | None = None,
        media_storage: MediaStorage | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        self.clock: Clock = clock or SystemClock()
        self.cipher = DataCipher(settings.data_key_bytes())
        #: Where evidence bytes live (``[media]``); every process of an install must reach the same one.
        self.media_storage: MediaStorage = media_storage or build_storage(settings)
        self.limiter: RateLimiter = limiter or SharedWindowLimiter(
            self.engine,
            window_seconds=settings.wechatpay.budget_window_seconds,
            time_source=lambda: self.clock.now().timestamp(),
        )
        self.transport_factory = transport_factory
        self._runtimes: dict[str, ChannelRuntime] = {}
        #: The account revision each cached runtime was built from, and when they were last compared.
        self._revisions: dict[str, int] = {}
        self._rechecked = time.monotonic()
        self.token_store = DbTokenStore(self.engine, self.cipher)
        self.inbox_wakeup: asyncio.Event | None = None
        #: The console's follower of the live feed in this process (``web.console.live_hub``), made on use.
        self.live_hub: Any = None
        live_feed.record_changes(self.sessions)
        report_rollup.record_changes(self.sessions)

    def session(self) -> Any:
        """A unit of work: commits once at the end (use in a ``with`` block)."""
        return unit_of_work(self.sessions)

    async def db(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in a worker thread inside one unit of work."""

        def work() -> T:
            with unit_of_work(self.sessions) as session:
                return fn(session)

        return await asyncio.to_thread(work)

    async def run_db(self, fn: Callable[[], T]) -> T:
        """Run a blocking callable in a worker thread."""
        return await asyncio.to_thread(fn)

    def runtime_for(self, name: str) -> ChannelRuntime:
        """The loaded runtime of a credentialed account (built on first use, rebuilt once it changed).

        Every ``account_recheck_seconds`` one query compares the revisions the cached runtimes were
        built from with the database's: an account edited, disabled or given a new platform
        certificate by any process is rebuilt here on its next use.
        """
        if time.monotonic() - self._rechecked >= self.settings.account_recheck_seconds:
            self._drop_stale()
        runtime = self._runtimes.get(name)
        if runtime is not None:
            return runtime
        with unit_of_work(self.sessions) as session:
            account = account_service.get_by_name(session=session, name=name)
            if account is None or not account.enabled or account.kind == "sub_merchant":
                raise AccountNotFound(f"no credentialed merchant account named {name!r}")
            revision = account.revision
            pems = [
                c.certificate_pem
                for c in account_service.platform_certificates(session=session, account_id=account.id)
            ]
            session.expunge(account)
        transport = self.transport_factory(account) if self.transport_factory else None
        runtime = build_runtime(
            account,
            settings=self.settings,
            certificate_pems=pems,
            limiter=self.limiter,
            transport=transport,
            time=lambda: self.clock.now().timestamp(),
            token_store=self.token_store,
        )
        self._runtimes[name] = runtime
        self._revisions[name] = revision
        return runtime

    def _drop_stale(self) -> None:
        """Forget the cached runtimes whose account changed (or went away) since they were built."""
        self._rechecked = time.monotonic()
        if not self._revisions:
            return
        try:
            with unit_of_work(self.sessions) as session:
                current = account_service.revisions(session=session, names=list(self._revisions))
        except Exception as exc:  # the database is away: keep what is loaded, look again next time
            log.warning("could not compare account revisions: %s", type(exc).__name__)
            return
        for name, revision in list(self._revisions.items()):
            if current.get(name) != revision:
                log.info("account %s changed since its runtime was built: reloading it", name)
                self.forget(name)

    def forget(self, name: str | None = None) -> None:
        """Drop cached runtimes (after credentials or certificates changed)."""
        if name is None:
            self._runtimes.clear()
            self._revisions.clear()
        else:
            self._runtimes.pop(name, None)
            self._revisions.pop(name, None)

    def account_names(self) -> list[str]:
        """Names of every enabled credentialed account."""
        with unit_of_work(self.sessions) as session:
            return [a.name for a in account_service.credentialed(session=session)]

    async def close_runtimes(self) -> None:
        """Close the HTTP clients of every loaded account (they belong to the current event loop)."""
        runtimes, self._runtimes = list(self._runtimes.values()), {}
        self._revisions.clear()
        for runtime in runtimes:
            await runtime.adapter.aclose()

    async def aclose(self) -> None:
        """Close HTTP clients and the engine."""
        await self.close_runtimes()
        self.engine.dispose()
