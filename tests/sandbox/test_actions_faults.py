"""Faults and limits on the write side: drop-after-apply (ASGI and uvicorn), errors, 429, controls."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.faults import DROP, Faults
from complaintdesk.sandbox.wechatpay.app import create_app
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.wechatpay.scenarios import live_event
from complaintdesk.sandbox.wechatpay.state import DEFAULT_LIMITS, SimulatorState

from .actionkit import NOTIFICATIONS, PNG, expect_error, expect_signed_204, url
from .conftest import MCH_A, MCH_B
from .wxsign import Caller

pytestmark = pytest.mark.anyio


def _reply(text: str = "您好，马上处理") -> dict[str, Any]:
    return {"complainted_mchid": MCH_A, "response_content": text}


async def test_dropped_answer_after_apply_under_asgi_transport(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(MCH_A)
    state.faults.drop_next_response("reply")
    with pytest.raises(httpx.TransportError):
        await as_a.post(url(cid, "response"), _reply())
    assert len(state.merchant_actions(cid)) == 1  # applied, although the client saw no answer
    assert state.complaint(cid)["complaint_state"] == "PROCESSING"
    assert state.stats.dropped_responses == 1 and state.stats.applied["reply"] == 1
    assert "reply" not in state.stats.ok
    expect_signed_204(await as_a.post(url(cid, "response"), _reply()), platform)  # a naive retry
    assert len(state.merchant_actions(cid)) == 2  # plain replies are not deduplicated upstream


async def test_dropped_immediate_reply_retried_with_the_same_idempotent_id(
    state: SimulatorState, as_a: Caller
) -> None:
    cid = state.create_complaint(MCH_A, need_immediate_service=True)
    body = {
        "complainted_mchid": MCH_A,
        "idempotent_id": "5b0f6f7e-0d1a-4a4e-9a51-2f9d3c2b1a00",
        "message": {"blocks": [{"type": "TEXT", "text": {"text": "您好"}}]},
    }
    state.faults.drop_response_after_apply_rate = 1.0
    with pytest.raises(httpx.TransportError):
        await as_a.post(url(cid, "response-immediate-service"), body)
    state.faults.drop_response_after_apply_rate = 0.0
    retry = await as_a.post(url(cid, "response-immediate-service"), body)
    assert retry.status_code == 200
    [entry] = state.merchant_actions(cid)
    assert retry.json()["log_id"] == entry["log_id"]


async def test_error_after_apply_and_error_before_apply(state: SimulatorState, as_a: Caller) -> None:
    cid = state.create_complaint(MCH_A)
    state.faults.fail_next("complete", 500, after_apply=True)
    response = await as_a.post(url(cid, "complete"), {"complainted_mchid": MCH_A})
    expect_error(response, 500, "SYSTEM_ERROR")
    assert state.complaint(cid)["complaint_state"] == "PROCESSED"  # applied anyway
    retry = await as_a.post(url(cid, "complete"), {"complainted_mchid": MCH_A})
    expect_error(retry, 400, "INVALID_REQUEST")
    other = state.create_complaint(MCH_A)
    state.faults.fail_next("reply", 503)
    expect_error(await as_a.post(url(other, "response"), _reply()), 503, "SERVICE_UNAVAILABLE")
    state.faults.error_rate = 1.0
    expect_error(await as_a.post(url(other, "response"), _reply()), 500, "SYSTEM_ERROR")
    assert state.merchant_actions(other) == []  # nothing applied before-apply
    assert state.stats.injected_errors == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(state: SimulatorState) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


async def test_dropped_answer_after_apply_under_uvicorn(
    state: SimulatorState,
    served: str,
    merchant_a: MerchantCredentials,
    clock: ManualClock,
    platform: PlatformKeys,
) -> None:
    cid = state.create_complaint(MCH_A)
    state.faults.drop_next_response("reply")
    async with httpx.AsyncClient(base_url=served, timeout=5) as client:
        caller = Caller(client, merchant_a, clock)
        started = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):
            await caller.post(url(cid, "response"), _reply())
        assert time.monotonic() - started < 2  # a dropped connection, not a timeout
        assert len(state.merchant_actions(cid)) == 1
        expect_signed_204(await caller.post(url(cid, "response"), _reply()), platform)
    assert len(state.merchant_actions(cid)) == 2


async def test_reply_rate_limit_is_shared_and_sliding(
    state: SimulatorState, as_a: Caller, as_b: Caller, clock: ManualClock
) -> None:
    cid = state.create_complaint(MCH_A, need_immediate_service=True)
    for i in range(60):
        assert (await as_a.post(url(cid, "response"), _reply(f"第{i}次"))).status_code == 204
    expect_error(await as_a.post(url(cid, "response"), _reply()), 429, "FREQUENCY_LIMITED")
    urgent = {
        "complainted_mchid": MCH_A,
        "idempotent_id": "i-1",
        "message": {"blocks": [{"type": "TEXT", "text": {"text": "您好"}}]},
    }
    limited = await as_a.post(url(cid, "response-immediate-service"), urgent)
    expect_error(limited, 429, "FREQUENCY_LIMITED")
    other = state.create_complaint(MCH_B)
    body = {"complainted_mchid": MCH_B, "response_content": "您好"}
    assert (await as_b.post(url(other, "response"), body)).status_code == 204  # own window
    done = state.create_complaint(MCH_A)
    complete = {"complainted_mchid": MCH_A}
    assert (await as_a.post(url(done, "complete"), complete)).status_code == 204  # other limit
    clock.advance(59)
    expect_error(await as_a.post(url(cid, "response"), _reply()), 429, "FREQUENCY_LIMITED")
    clock.advance(1)  # the first 60 calls leave the sliding window
    assert (await as_a.post(url(cid, "response-immediate-service"), urgent)).status_code == 200
    assert len(state.merchant_actions(cid)) == 61 and state.stats.rate_limited == 3


async def test_every_write_endpoint_has_its_own_limit(state: SimulatorState, as_a: Caller) -> None:
    names = ("reply", "complete", "upload", "refund_progress", "notify_url")
    assert [DEFAULT_LIMITS[n] for n in names] == [60, 1500, 60, 60, 60]
    state.limits.update(complete=1, upload=1, refund_progress=1, notify_url=1)
    one, two = state.create_complaint(MCH_A), state.create_complaint(MCH_A)
    calls = [
        lambda: as_a.post(url(one, "complete"), {"complainted_mchid": MCH_A}),
        lambda: as_a.upload("a.png", PNG),
        lambda: as_a.post(url(two, "update-refund-progress"), {"action": "APPROVE"}),
        lambda: as_a.get(NOTIFICATIONS),
        lambda: as_a.put(NOTIFICATIONS, {"url": "https://desk.example/x"}),
    ]
    for call in calls[:4]:
        assert (await call()).status_code in (200, 204)
    for call in calls:
        expect_error(await call(), 429, "FREQUENCY_LIMITED")
    assert state.stats.rate_limited == 5


async def test_sandbox_fault_controls_for_writes(
    state: SimulatorState, api: httpx.AsyncClient, as_a: Caller
) -> None:
    response = await api.post(
        "/sandbox/faults",
        json={
            "fail_next": [{"endpoint": "complete", "status": 500, "after_apply": True}],
            "drop_next": {"endpoint": "reply", "times": 2},
            "drop_response_after_apply_rate": 0.5,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["after_apply"] == {"complete": [500], "reply": [DROP, DROP]}
    assert state.faults.drop_response_after_apply_rate == 0.5
    assert (
        await api.post("/sandbox/faults", json={"drop_response_after_apply_rate": 1.5})
    ).status_code == 400
    cid = state.create_complaint(MCH_A)
    with pytest.raises(httpx.TransportError):
        await as_a.post(url(cid, "response"), _reply())
    snapshot = (await api.get("/sandbox/state")).json()
    assert snapshot["stats"]["applied"] == {"reply": 1} and snapshot["stats"]["dropped_responses"] == 1
    assert snapshot["faults"]["after_apply"] == {"complete": [500], "reply": [DROP]}


def test_fault_queue_rules() -> None:
    faults = Faults()
    faults.drop_next_response("reply", times=2)
    faults.fail_next("reply", 502, after_apply=True)
    assert [faults.take_after_apply("reply") for _ in range(4)] == [DROP, DROP, 502, None]
    assert faults.take("reply") is None
    with pytest.raises(ValueError):
        faults.drop_next_response("reply", times=0)
    with pytest.raises(ValueError):
        faults.fail_next("reply", DROP, after_apply=True)


async def test_users_write_back_after_api_replies(state: SimulatorState, as_a: Caller) -> None:
    ids = [state.create_complaint(MCH_A, notify=False) for _ in range(3)]
    for cid in ids:
        assert (await as_a.post(url(cid, "response"), _reply())).status_code == 204
    rng = random.Random(5)
    for _ in range(40):
        live_event(state, rng)
    answered = [
        cid for cid in ids if [h["operate_type"] for h in state.history(cid)][2:3] == ["USER_RESPONSE"]
    ]
    assert answered
