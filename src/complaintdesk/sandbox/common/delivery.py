"""The retry/delivery loop shared by the simulators' notifiers (protocol details stay in subclasses)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

import httpx

from complaintdesk.sandbox.faults import Faults


class Deliverable(Protocol):
    """A queued push/notification as the delivery loop sees it."""

    dropped: bool
    duplicate: bool
    delivered: bool
    gave_up: bool
    retries: int
    next_due: float

    @property
    def finished(self) -> bool:
        """Delivered, given up or dropped: nothing more to send."""


class DeliveryClock(Protocol):
    """What the delivery loop needs of a simulator state."""

    def tick(self) -> float:
        """The simulated clock in seconds."""

    def settle(self) -> None:
        """Forget finished deliveries."""


ItemT = TypeVar("ItemT", bound=Deliverable)
StateT = TypeVar("StateT", bound=DeliveryClock)


def roll_delivery_faults(item: Deliverable, rng: random.Random, faults: Faults) -> None:
    """Mark ``item`` dropped or duplicated per ``faults`` (drop wins; one draw each, in that order)."""
    if rng.random() < faults.drop_notification_rate:
        item.dropped = True
    elif rng.random() < faults.duplicate_rate:
        item.duplicate = True


class DeliveryQueue(Generic[ItemT]):
    """Every item decided (``log``) and the ones still to send, with drop/duplicate faults applied."""

    def __init__(self, rng: random.Random, faults: Faults) -> None:
        self.rng = rng
        self.faults = faults
        self.log: list[ItemT] = []
        self._pending: list[ItemT] = []

    def _decide(self, item: ItemT) -> ItemT:
        """Roll the faults for ``item``, log it, and queue it unless dropped."""
        roll_delivery_faults(item, self.rng, self.faults)
        self.log.append(item)
        if not item.dropped:
            self._pending.append(item)
        return item

    def due(self, now: float) -> list[ItemT]:
        """Queued items whose next attempt is due at ``now``."""
        return [n for n in self._pending if not n.finished and n.next_due <= now]

    def settle(self) -> None:
        """Forget finished items (they stay in ``log``)."""
        self._pending = [n for n in self._pending if not n.finished]

    def pending_count(self) -> int:
        """Items still to be (re)sent."""
        return sum(1 for n in self._pending if not n.finished)


class RetryingNotifier(ABC, Generic[StateT, ItemT]):
    """Delivers due items: success = delivered (duplicates sent again), else retried per ``retry_delays``."""

    def __init__(
        self,
        state: StateT,
        client: httpx.AsyncClient | None,
        retry_delays: Sequence[float],
        timeout: float,
        concurrency: int,
        poll_interval: float,
    ) -> None:
        self.state = state
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.poll_interval = poll_interval
        self._client = client
        self._owns_client = client is None
        self._semaphore = asyncio.Semaphore(concurrency)

    @abstractmethod
    def _due(self) -> list[ItemT]:
        """The items whose next attempt is due."""

    @abstractmethod
    async def _attempt(self, item: ItemT) -> bool:
        """Make one HTTP attempt; True when the receiver acknowledged it."""

    def _attempt_only(self, item: ItemT) -> bool:
        """True when ``item`` is neither marked delivered nor retried after its attempt (e.g. a probe)."""
        return False

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client (created on first use when none was given)."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client if this notifier created it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def deliver_pending(self) -> int:
        """Send every due item once (a duplicate right after success); returns the HTTP attempts made."""
        counts = await asyncio.gather(*(self._deliver(item) for item in self._due()))
        self.state.settle()
        return sum(counts)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set."""
        try:
            while not stop.is_set():
                await self.deliver_pending()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
        finally:
            await self.aclose()

    async def _deliver(self, item: ItemT) -> int:
        async with self._semaphore:
            ok = await self._attempt(item)
            attempts = 1
            if self._attempt_only(item):
                return attempts
            if ok:
                item.delivered = True
                if item.duplicate:
                    await self._attempt(item)
                    attempts += 1
                return attempts
            item.retries += 1
            if item.retries > len(self.retry_delays):
                item.gave_up = True
            else:
                item.next_due = self.state.tick() + self.retry_delays[item.retries - 1]
            return attempts
