"""How a write endpoint answers once its action is applied: signed success, an injected error, or nothing.

A *dropped* answer is simulated as a lost connection, so that clients see the same thing with either
transport and nobody waits for a timeout:

* the app sends the head of a 500 response announcing a body (``Content-Length: 64``), then raises
  ``ConnectionDropped`` — a subclass of ``httpx.RemoteProtocolError``;
* under ``httpx.ASGITransport`` (default ``raise_app_exceptions=True``) that exception reaches the
  client's ``await client.post(...)`` unchanged: an ``httpx.TransportError``, as on a real network.
  (With ``raise_app_exceptions=False`` the client sees a bare 500 with an empty body.)
* under uvicorn the head is on the wire when the exception escapes, so uvicorn closes the socket; the
  client gets ``httpx.RemoteProtocolError`` (incomplete body). uvicorn's "Exception in ASGI application"
  traceback for it is filtered out of the ``uvicorn.error`` log by ``quiet_dropped_connections``.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import Request, Response
from starlette.types import Receive, Scope, Send

from complaintdesk.sandbox.faults import DROP
from complaintdesk.sandbox.wechatpay.gate import ApiError, signed_empty, signed_json
from complaintdesk.sandbox.wechatpay.state import SimulatorState

_CODES = {
    429: "FREQUENCY_LIMITED",
    500: "SYSTEM_ERROR",
    502: "SERVICE_UNAVAILABLE",
    503: "SERVICE_UNAVAILABLE",
}


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


def answer(
    state: SimulatorState, request: Request, endpoint: str, status: int, payload: dict[str, Any] | None = None
) -> Response:
    """The answer to an applied write call, unless an after-apply fault replaces or drops it."""
    faults = state.faults
    outcome = faults.take_after_apply(endpoint)
    rate = faults.drop_response_after_apply_rate
    if outcome is None and rate > 0 and state.fault_rng.random() < rate:
        outcome = DROP
    if outcome == DROP:
        state.stats.dropped_responses += 1
        return DroppedResponse()
    if outcome is not None:
        state.stats.injected_errors += 1
        code = _CODES.get(outcome, "SYSTEM_ERROR" if outcome >= 500 else "INVALID_REQUEST")
        raise ApiError(outcome, code, "系统错误，请稍后重试" if outcome >= 500 else "模拟的错误 (injected)")
    if payload is None:
        return signed_empty(state, request, status)
    return signed_json(state, request, status, payload)
