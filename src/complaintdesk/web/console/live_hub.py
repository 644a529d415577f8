"""One follower of the change feed per process, fanning events out to the open console pages.

The hub reads ``live_event`` rows newer than the last it saw: when PostgreSQL NOTIFYs (a LISTEN
connection), or every ``poll_seconds`` (SQLite, and a safety net on PostgreSQL). Nothing is read while no
page is open. Each page gets only the events of complaints in its user's scope (the inbox) or of the
one complaint it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field

import psycopg
from sqlalchemy.orm import Session

from complaintdesk.core.live import feed
from complaintdesk.core.users.permissions import AccountScope
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Subscriber:
    """An open page: its scope, optionally one complaint, and its queue of events."""

    scope: AccountScope
    complaint_id: int | None = None
    queue: asyncio.Queue[feed.FeedEvent] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))

    def wants(self, item: feed.FeedEvent) -> bool:
        """Whether this page shows the change."""
        if self.complaint_id is not None:
            return item.complaint_id == self.complaint_id
        if item.account_id is None:
            return False
        return self.scope.all_accounts or bool(
            {item.account_id, item.merchant_account_id} & self.scope.account_ids
        )


class LiveHub:
    """Follows the feed for this process while at least one page listens."""

    def __init__(self, ctx: AppContext, *, poll_seconds: float = 1.0) -> None:
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self.position = 0
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def subscribe(self, subscriber: Subscriber, *, resume_after: int | None = None) -> None:
        """Start delivering to ``subscriber``; replays what it missed since ``resume_after`` if still kept."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests start several): start afresh on it
            self._loop, self._wake, self._task, self._listener = loop, asyncio.Event(), None, None
            self._subscribers.clear()
        if self._task is None or self._task.done():
            self.position = await self.ctx.db(feed.last_id)
            self._task = asyncio.create_task(self._follow(), name="live-hub")
            if self.ctx.engine.dialect.name == "postgresql":
                self._listener = asyncio.create_task(self._listen(), name="live-listen")
        self._subscribers.add(subscriber)
        if resume_after is not None and resume_after < self.position:
            missed = await self.ctx.db(lambda s: feed.read_since(s, resume_after, limit=1000))
            for item in missed:
                if item.id <= self.position and subscriber.wants(item):
                    self._offer(subscriber, item)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber``; the hub stops following once nobody listens."""
        self._subscribers.discard(subscriber)
        if not self._subscribers:
            for task in (self._task, self._listener):
                if task is not None:
                    task.cancel()
            self._task = self._listener = None

    def wake(self) -> None:
        """Read the feed now (a NOTIFY arrived, or a test wants it)."""
        self._wake.set()

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()
            try:
                await self._read()
            except Exception:  # the database went away for a moment: try again at the next tick
                log.warning("live feed read failed", exc_info=True)

    async def _read(self) -> None:
        while True:
            items = await self.ctx.db(functools.partial(_read_after, after=self.position))
            for item in items:
                self.position = max(self.position, item.id)
                for subscriber in list(self._subscribers):
                    if subscriber.wants(item):
                        self._offer(subscriber, item)
            if len(items) < 500:
                return

    @staticmethod
    def _offer(subscriber: Subscriber, item: feed.FeedEvent) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a stuck page loses events, never the hub
            subscriber.queue.put_nowait(item)

    async def _listen(self) -> None:
        from complaintdesk.jobs.workers import conninfo

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo(self.ctx.settings.database_url), autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {feed.CHANNEL}")
                    self.wake()  # anything committed while we were not listening
                    async for _ in connection.notifies():
                        self.wake()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live feed LISTEN connection lost; polling until it is back", exc_info=True)
                await asyncio.sleep(self.poll_seconds * 5)


def _read_after(session: Session, *, after: int) -> list[feed.FeedEvent]:
    return feed.read_since(session, after)


def hub_for(ctx: AppContext) -> LiveHub:
    """The process's hub for ``ctx`` (created on first use)."""
    if not isinstance(ctx.live_hub, LiveHub):
        ctx.live_hub = LiveHub(ctx, poll_seconds=ctx.settings.live_poll_seconds)
    return ctx.live_hub
