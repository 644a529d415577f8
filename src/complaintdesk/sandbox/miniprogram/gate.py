"""What every simulated API call goes through: access_token, quotas, faults; and how errors are answered.

WeChat answers errors with HTTP 200 and ``{"errcode", "errmsg"}``; only injected 5xx faults change the
HTTP status. A *dropped* answer (drop-after-apply faults) is a lost connection: the app starts a 500
answer that announces a body, then raises ``ConnectionDropped`` (an ``httpx.RemoteProtocolError``), which
reaches an ``httpx.ASGITransport`` client unchanged and makes uvicorn close the socket.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from complaintdesk.sandbox.common.dropped import (
    ConnectionDropped,
    DroppedResponse,
    after_apply_fault,
    quiet_dropped_connections,
)
from complaintdesk.sandbox.faults import DROP
from complaintdesk.sandbox.miniprogram import codes
from complaintdesk.sandbox.miniprogram.state import MiniProgramState

__all__ = [
    "ApiError",
    "ConnectionDropped",
    "DroppedResponse",
    "admit",
    "answer",
    "injected",
    "quiet_dropped_connections",
]


class ApiError(Exception):
    """An errcode answer (``http_status`` other than 200 only for injected 5xx faults)."""

    def __init__(self, errcode: int, detail: str | None = None, *, http_status: int = 200) -> None:
        base = codes.ERRMSG.get(errcode, "error")
        self.errcode = errcode
        self.errmsg = f"{base}: {detail}" if detail else base
        self.http_status = http_status
        super().__init__(f"{errcode} {self.errmsg}")

    def response(self) -> Response:
        """The HTTP answer."""
        if self.http_status != 200:
            return Response("系统繁忙，请稍后再试", status_code=self.http_status, media_type="text/plain")
        return JSONResponse({"errcode": self.errcode, "errmsg": self.errmsg})


def injected(code: int) -> ApiError:
    """The error an injected fault answers: HTTP 5xx as such, anything else as an errcode."""
    if 500 <= code < 600:
        return ApiError(codes.SYSTEM_ERROR, http_status=code)
    return ApiError(code, None if code == codes.SYSTEM_ERROR else "sandbox fault")


async def admit(state: MiniProgramState, request: Request, endpoint: str, *, appid: str | None = None) -> str:
    """Run the common checks of ``endpoint``; returns the calling appid or raises ``ApiError``.

    Without ``appid`` the ``access_token`` query parameter must be valid (41001 / 40014 / 40001 / 42001).
    Then the quotas (45011 per minute, 45009 per day), then faults before apply.
    """
    stats, faults = state.stats, state.faults
    state.run_scheduled()
    stats.calls[endpoint] += 1
    request.state.endpoint = endpoint
    if faults.latency > 0:
        await anyio.sleep(faults.latency)
    if appid is None:
        checked = state.tokens.check(request.query_params.get("access_token"), state.now().timestamp())
        if isinstance(checked, int):
            stats.token_errors += 1
            raise ApiError(checked)
        appid = checked
    refused = state.quotas.admit(appid, endpoint, state.now().timestamp(), state.today())
    if refused:
        stats.rate_limited += 1
        raise ApiError(refused)
    code = faults.take(endpoint)
    if code is None and faults.error_rate > 0 and state.fault_rng.random() < faults.error_rate:
        code = codes.SYSTEM_ERROR
    if code is not None:
        stats.injected_errors += 1
        raise injected(code)
    if faults.timeout_rate > 0 and state.fault_rng.random() < faults.timeout_rate:
        stats.timeouts += 1
        await anyio.sleep(faults.timeout_delay)
    return appid


def answer(state: MiniProgramState, endpoint: str, payload: dict[str, Any]) -> Response:
    """The answer to an applied write call, unless an after-apply fault replaces or drops it."""
    outcome = after_apply_fault(state, endpoint)
    if outcome == DROP:
        return DroppedResponse()
    if outcome is not None:
        raise injected(outcome)
    state.stats.ok[endpoint] += 1
    return JSONResponse(payload)
