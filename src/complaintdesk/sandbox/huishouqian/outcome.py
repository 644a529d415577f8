"""How a write call answers once applied: the signed success, an injected error, or a dropped connection.

A dropped answer is a lost connection: the app sends the head of a 500 response announcing a body, then
raises ``ConnectionDropped`` (an ``httpx.RemoteProtocolError``). Under ``httpx.ASGITransport`` the client's
``await client.post(...)`` raises it as is; under uvicorn the socket is closed mid-response, so the client
sees ``httpx.RemoteProtocolError`` as well. ``quiet_dropped_connections`` keeps uvicorn from logging a
traceback for each.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import Response
from starlette.types import Receive, Scope, Send

from complaintdesk.sandbox.faults import DROP
from complaintdesk.sandbox.huishouqian.codes import injected
from complaintdesk.sandbox.huishouqian.envelope import Call, success_response
from complaintdesk.sandbox.huishouqian.state import HuishouqianState


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


def answer(state: HuishouqianState, call: Call, result: dict[str, Any]) -> Response:
    """The answer to an applied write, unless an after-apply fault replaces or drops it."""
    faults = state.faults
    outcome = faults.take_after_apply(call.endpoint)
    rate = faults.drop_response_after_apply_rate
    if outcome is None and rate > 0 and state.fault_rng.random() < rate:
        outcome = DROP
    if outcome == DROP:
        state.stats.dropped_responses += 1
        return DroppedResponse()
    if outcome is not None:
        state.stats.injected_errors += 1
        raise injected(outcome)
    return success_response(state, call, result)
