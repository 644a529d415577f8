"""Rate limits, injected faults, image download and sandbox controls of the WeChat Pay simulator."""

from __future__ import annotations

import time
from urllib.parse import unquote

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.faults import Faults
from complaintdesk.sandbox.wechatpay.app import create_app
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.wechatpay.state import SimulatorState

from .conftest import MCH_A, MCH_B
from .wxsign import API, Caller

pytestmark = pytest.mark.anyio

LIST = "/v3/merchant-service/complaints-v2?begin_date=2026-03-01&end_date=2026-03-10"


async def test_rate_limit_per_merchant_and_endpoint_with_sliding_window(
    platform: PlatformKeys,
    clock: ManualClock,
    merchant_a: MerchantCredentials,
    merchant_b: MerchantCredentials,
) -> None:
    state = SimulatorState(platform=platform, clock=clock, limits={"list": 3})
    state.register_merchant(merchant_a)
    state.register_merchant(merchant_b)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url=API) as api:
        a, b = Caller(api, merchant_a, clock), Caller(api, merchant_b, clock)
        for _ in range(3):
            assert (await a.get(LIST)).status_code == 200
            clock.advance(10)
        limited = await a.get(LIST)
        assert limited.status_code == 429
        assert limited.json()["code"] == "FREQUENCY_LIMITED"
        assert (await b.get(LIST)).status_code == 200  # other merchant, own window
        assert (await a.get("/v3/certificates")).status_code == 200  # other endpoint
        clock.advance(30)  # 60 s after the first call: one slot frees
        assert (await a.get(LIST)).status_code == 200
        assert (await a.get(LIST)).status_code == 429
        clock.advance(60)
        assert (await a.get(LIST)).status_code == 200
    assert state.stats.rate_limited == 2
    assert state.stats.calls["list"] == 8  # a: 7, b: 1


async def test_fail_next_is_one_shot_after_authentication(state: SimulatorState, as_a: Caller) -> None:
    state.faults.fail_next("list", status=500, times=2)
    state.faults.fail_next("detail", status=503)
    for _ in range(2):
        response = await as_a.get(LIST)
        assert response.status_code == 500
        assert response.json()["code"] == "SYSTEM_ERROR"
    assert (await as_a.get(LIST)).status_code == 200
    cid = state.create_complaint(MCH_A)
    unavailable = await as_a.get(f"/v3/merchant-service/complaints-v2/{cid}")
    assert unavailable.status_code == 503 and unavailable.json()["code"] == "SERVICE_UNAVAILABLE"
    assert state.stats.injected_errors == 3


async def test_error_rate_and_latency(state: SimulatorState, as_a: Caller) -> None:
    state.faults.error_rate = 1.0
    assert (await as_a.get(LIST)).status_code == 500
    state.faults.error_rate = 0.0
    state.faults.latency = 0.05
    started = time.monotonic()
    assert (await as_a.get(LIST)).status_code == 200
    assert time.monotonic() - started >= 0.05


async def test_timeout_fault_delays_the_answer(state: SimulatorState, as_a: Caller) -> None:
    state.faults.timeout_rate = 1.0
    state.faults.timeout_delay = 0.2
    started = time.monotonic()
    response = await as_a.get(LIST)
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200
    assert state.stats.timeouts == 1


def _media_path(state: SimulatorState, complaint_id: str) -> str:
    url: str = state.complaint(complaint_id)["complaint_media_list"][0]["media_url"][0]
    return url.removeprefix(API)


async def test_image_download_signed_over_escaped_path(state: SimulatorState, as_a: Caller) -> None:
    cid = state.create_complaint(MCH_A, images=1)
    path = _media_path(state, cid)
    assert "%2F" in path and "%2B" in path and "%3D" in path
    response = await as_a.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert "Wechatpay-Signature" not in response.headers
    again = await as_a.get(path)
    assert again.content == response.content  # deterministic bytes


async def test_image_download_signed_over_decoded_path_is_401(state: SimulatorState, as_a: Caller) -> None:
    cid = state.create_complaint(MCH_A, images=1)
    path = _media_path(state, cid)
    response = await as_a.get(path, sign_url=unquote(path))
    assert response.status_code == 401
    assert response.json()["detail"]["sign_information"]["url"] == path


async def test_image_requested_decoded_is_refused(state: SimulatorState, as_a: Caller) -> None:
    cid = state.create_complaint(MCH_A, images=1)
    decoded = unquote(_media_path(state, cid))
    response = await as_a.get(decoded)  # signed over what was sent, but not the media_url
    assert response.status_code == 400


async def test_image_of_foreign_or_unknown_media(state: SimulatorState, as_a: Caller, as_b: Caller) -> None:
    cid = state.create_complaint(MCH_B, images=1)
    assert (await as_a.get(_media_path(state, cid))).status_code == 403
    assert (await as_b.get(_media_path(state, cid))).status_code == 200
    assert (await as_a.get("/v3/merchant-service/images/bm9uZQ%3D%3D")).status_code == 404


async def test_sandbox_controls(state: SimulatorState, api: httpx.AsyncClient) -> None:
    state.create_complaint(MCH_A)
    response = await api.post(
        "/sandbox/faults", json={"error_rate": 0.25, "fail_next": {"endpoint": "list", "status": 429}}
    )
    assert response.status_code == 200
    assert state.faults.error_rate == 0.25
    assert state.faults.take("list") == 429
    assert (await api.post("/sandbox/faults", json={"nope": 1})).status_code == 400
    assert (await api.post("/sandbox/faults", json={"error_rate": 2})).status_code == 400
    snapshot = (await api.get("/sandbox/state")).json()
    assert snapshot["complaints"] == {"total": 1, "by_state": {"PENDING": 1}}
    assert snapshot["notifications"]["total"] == 1 and snapshot["notifications"]["pending"] == 1
    assert snapshot["faults"]["error_rate"] == 0.25


def test_faults_update_validates() -> None:
    faults = Faults()
    faults.update({"latency": 1, "duplicate_rate": 0.5})
    assert faults.latency == 1.0 and faults.duplicate_rate == 0.5
    with pytest.raises(ValueError):
        faults.update({"drop_notification_rate": -0.1})
    with pytest.raises(ValueError):
        faults.fail_next("list", times=0)
