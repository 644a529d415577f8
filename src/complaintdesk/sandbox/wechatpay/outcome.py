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

from typing import Any

from fastapi import Request, Response

from complaintdesk.sandbox.common.dropped import (
    ConnectionDropped,
    DroppedResponse,
    after_apply_fault,
    quiet_dropped_connections,
)
from complaintdesk.sandbox.faults import DROP
from complaintdesk.sandbox.wechatpay.gate import ApiError, signed_empty, signed_json
from complaintdesk.sandbox.wechatpay.state import SimulatorState

__all__ = [
    "ConnectionDropped",
    "DroppedResponse",
    "answer",
    "quiet_dropped_connections",
]

_CODES = {
    429: "FREQUENCY_LIMITED",
    500: "SYSTEM_ERROR",
    502: "SERVICE_UNAVAILABLE",
    503: "SERVICE_UNAVAILABLE",
}


def answer(
    state: SimulatorState, request: Request, endpoint: str, status: int, payload: dict[str, Any] | None = None
) -> Response:
    """The answer to an applied write call, unless an after-apply fault replaces or drops it."""
    outcome = after_apply_fault(state, endpoint)
    if outcome == DROP:
        return DroppedResponse()
    if outcome is not None:
        code = _CODES.get(outcome, "SYSTEM_ERROR" if outcome >= 500 else "INVALID_REQUEST")
        raise ApiError(outcome, code, "系统错误，请稍后重试" if outcome >= 500 else "模拟的错误 (injected)")
    if payload is None:
        return signed_empty(state, request, status)
    return signed_json(state, request, status, payload)
