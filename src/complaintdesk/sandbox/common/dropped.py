"""Drop-after-apply faults: a write is applied, then its answer is lost as a dropped connection."""

from __future__ import annotations

import logging
import random
from typing import Protocol

import httpx
from fastapi import Response
from starlette.types import Receive, Scope, Send

from complaintdesk.sandbox.faults import DROP, Faults


class ConnectionDropped(httpx.RemoteProtocolError):
    """The simulator applied the request, then "lost" the connection (a drop-after-apply fault)."""


class DroppedResponse(Response):
    """Starts a 500 answer, then aborts it by raising ``ConnectionDropped``."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        raise ConnectionDropped("sandbox: request applied, connection closed before the answer")


class _HideDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ConnectionDropped)


def quiet_dropped_connections() -> None:
    """Keep uvicorn from logging a traceback for each simulated dropped connection (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDrops) for f in logger.filters):
        logger.addFilter(_HideDrops())


class FaultStats(Protocol):
    """The counters ``after_apply_fault`` updates."""

    dropped_responses: int
    injected_errors: int


class FaultyState(Protocol):
    """What ``after_apply_fault`` needs of a simulator state."""

    @property
    def faults(self) -> Faults:
        """The fault knobs."""

    @property
    def fault_rng(self) -> random.Random:
        """The random source of rate faults."""

    @property
    def stats(self) -> FaultStats:
        """The counters."""


def after_apply_fault(state: FaultyState, endpoint: str) -> int | None:
    """Consume the after-apply outcome of ``endpoint`` (``DROP``, a status, or None) and count it."""
    faults = state.faults
    outcome = faults.take_after_apply(endpoint)
    rate = faults.drop_response_after_apply_rate
    if outcome is None and rate > 0 and state.fault_rng.random() < rate:
        outcome = DROP
    if outcome == DROP:
        state.stats.dropped_responses += 1
    elif outcome is not None:
        state.stats.injected_errors += 1
    return outcome
