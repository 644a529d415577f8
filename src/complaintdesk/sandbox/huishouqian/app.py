"""The Huishouqian complaint gateway simulator as an ASGI app: ``POST /complaint/<name>`` plus controls."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from complaintdesk.sandbox.common.controls import configure_faults
from complaintdesk.sandbox.huishouqian import actions, queries
from complaintdesk.sandbox.huishouqian.codes import GatewayError, HttpFailure
from complaintdesk.sandbox.huishouqian.envelope import (
    ENDPOINTS,
    Call,
    admit,
    error_response,
    failure_response,
    success_response,
)
from complaintdesk.sandbox.huishouqian.outcome import answer, quiet_dropped_connections
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

Handler = Callable[[HuishouqianState, Call], dict[str, Any]]
READS: dict[str, Handler] = {
    "query": queries.query,
    "queryHistory": queries.history,
    "download": queries.download,
}
WRITES: dict[str, Handler] = {
    "commitResponse": actions.commit_response,
    "commitComplete": actions.commit_complete,
    "upload": actions.upload,
}
assert set(READS) | set(WRITES) == set(ENDPOINTS)


def create_app(state: HuishouqianState) -> FastAPI:
    """Build the simulator app around ``state`` (six gateway methods and the ``/sandbox/*`` controls)."""
    app = FastAPI(
        title="Huishouqian complaint gateway sandbox", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.simulator = state
    quiet_dropped_connections()

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> Response:
        return error_response(state, getattr(request.state, "merchant", None), exc)

    @app.exception_handler(HttpFailure)
    async def http_failure(request: Request, exc: HttpFailure) -> Response:
        return failure_response(exc.status)

    @app.post("/complaint/{name}")
    async def complaint_method(request: Request, name: str) -> Response:
        if name not in ENDPOINTS:
            return JSONResponse(
                {"status": 404, "error": "Not Found", "path": request.url.path}, status_code=404
            )
        call = await admit(state, request, name)
        if name in WRITES:
            return answer(state, call, WRITES[name](state, call))
        return success_response(state, call, READS[name](state, call))

    @app.get("/sandbox/state")
    async def sandbox_state() -> JSONResponse:
        return JSONResponse(describe(state))

    @app.post("/sandbox/faults")
    async def sandbox_faults(request: Request) -> JSONResponse:
        try:
            configure_faults(state.faults, await request.body(), default_status=1)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(state.faults.as_dict())

    return app


def describe(state: HuishouqianState) -> dict[str, Any]:
    """Counts for ``GET /sandbox/state`` (no keys, no phone numbers)."""
    complaints = [state.get(cid) for cid in state.complaint_ids()]
    notes = state.notifications
    return {
        "merchants": [
            {
                "merchant_no": m,
                "agent_of": state.merchants.require(m).agent_no,
                "sign_type": state.merchants.require(m).credentials.sign_type,
                "notify_url": state.merchants.require(m).notify_url,
            }
            for m in state.merchants.ids()
        ],
        "complaints": {"total": len(complaints), "by_state": dict(Counter(str(c.state) for c in complaints))},
        "notifications": {
            "total": len(notes),
            "delivered": sum(n.delivered for n in notes),
            "pending": sum(not n.finished for n in notes),
            "dropped": sum(n.dropped for n in notes),
            "gave_up": sum(n.gave_up for n in notes),
            "duplicates": sum(n.duplicate for n in notes),
            "attempts": sum(n.attempts for n in notes),
        },
        "uploads": state.media.upload_count(),
        "stats": state.stats.as_dict(),
        "faults": state.faults.as_dict(),
    }
