"""``/v3/merchant-service/complaint-notifications``: a merchant manages its callback URL (spec §1.10–§1.13).

One URL per calling merchant (a service provider's URL receives all its sub-merchants' complaints); it is
the URL the notifier posts to. Decisions on the UNCONFIRMED points:

* POST while a URL exists answers 400 INVALID_REQUEST "回调地址已存在" (use PUT to change it);
* "no URL" (GET, PUT, DELETE) answers RESOURCE_NOT_EXISTS "查询的通知回调不存在" with HTTP
  ``SimulatorState.not_found_status`` (400 as documented; 404 to mimic other deployments);
* URLs must be https and at most 255 characters (400 PARAM_ERROR); ``allow_http_callbacks=True`` also
  admits http. URLs set in Python (``register_merchant``/``set_notify_url``) are never checked.

All four methods share the ``notify_url`` rate limit (60/min). POST/PUT/DELETE are writes (counted in
``stats.applied`` as ``notify_url_create``/``_update``/``_delete``, subject to after-apply faults).
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from complaintdesk.sandbox.wechatpay.gate import ApiError, Caller, admit, signed_json
from complaintdesk.sandbox.wechatpay.outcome import answer
from complaintdesk.sandbox.wechatpay.state import SimulatorState
from complaintdesk.sandbox.wechatpay.validate import json_body

NOTIFICATIONS = "/v3/merchant-service/complaint-notifications"
ENDPOINT = "notify_url"


def register_callbacks(app: FastAPI, state: SimulatorState) -> None:
    """Add the callback-URL endpoints to the simulator ``app``."""

    def missing() -> ApiError:
        return ApiError(state.not_found_status, "RESOURCE_NOT_EXISTS", "查询的通知回调不存在")

    async def new_url(request: Request) -> str:
        body = json_body(await request.body())
        url = body.url("url", max_chars=255, required=True, allow_http=state.allow_http_callbacks)
        assert url is not None
        return url

    def current(caller: Caller) -> str:
        url = state.notify_url(caller.mchid)
        if url is None:
            raise missing()
        return url

    @app.post(NOTIFICATIONS)
    async def create(request: Request) -> Response:
        caller = await admit(state, request, ENDPOINT)
        url = await new_url(request)
        if state.notify_url(caller.mchid) is not None:
            raise ApiError(400, "INVALID_REQUEST", "回调地址已存在")
        state.set_notify_url(caller.mchid, url)
        state.stats.applied["notify_url_create"] += 1
        return answer(state, request, ENDPOINT, 200, {"mchid": caller.mchid, "url": url})

    @app.get(NOTIFICATIONS)
    async def query(request: Request) -> Response:
        caller = await admit(state, request, ENDPOINT)
        return signed_json(state, request, 200, {"mchid": caller.mchid, "url": current(caller)})

    @app.put(NOTIFICATIONS)
    async def update(request: Request) -> Response:
        caller = await admit(state, request, ENDPOINT)
        url = await new_url(request)
        current(caller)
        state.set_notify_url(caller.mchid, url)
        state.stats.applied["notify_url_update"] += 1
        return answer(state, request, ENDPOINT, 200, {"mchid": caller.mchid, "url": url})

    @app.delete(NOTIFICATIONS)
    async def delete(request: Request) -> Response:
        caller = await admit(state, request, ENDPOINT)
        current(caller)
        state.set_notify_url(caller.mchid, None)
        state.stats.applied["notify_url_delete"] += 1
        return answer(state, request, ENDPOINT, 204)
