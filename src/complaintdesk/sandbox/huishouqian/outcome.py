"""How a write call answers once applied: the signed success, an injected error, or a dropped connection.

A dropped answer is a lost connection: the app sends the head of a 500 response announcing a body, then
raises ``ConnectionDropped`` (an ``httpx.RemoteProtocolError``). Under ``httpx.ASGITransport`` the client's
``await client.post(...)`` raises it as is; under uvicorn the socket is closed mid-response, so the client
sees ``httpx.RemoteProtocolError`` as well. ``quiet_dropped_connections`` keeps uvicorn from logging a
traceback for each.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response

from complaintdesk.sandbox.common.dropped import (
    ConnectionDropped,
    DroppedResponse,
    after_apply_fault,
    quiet_dropped_connections,
)
from complaintdesk.sandbox.faults import DROP
from complaintdesk.sandbox.huishouqian.codes import injected
from complaintdesk.sandbox.huishouqian.envelope import Call, success_response
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

__all__ = [
    "ConnectionDropped",
    "DroppedResponse",
    "answer",
    "quiet_dropped_connections",
]


def answer(state: HuishouqianState, call: Call, result: dict[str, Any]) -> Response:
    """The answer to an applied write, unless an after-apply fault replaces or drops it."""
    outcome = after_apply_fault(state, call.endpoint)
    if outcome == DROP:
        return DroppedResponse()
    if outcome is not None:
        raise injected(outcome)
    return success_response(state, call, result)
