"""Injected faults, quotas and the sandbox control endpoints."""

from __future__ import annotations

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.miniprogram import (
    AppCredentials,
    ConnectionDropped,
    MiniProgramState,
    create_app,
    generate_app,
)

from .miniclient import API, MiniClient

pytestmark = pytest.mark.anyio


def respond(cid: str) -> dict[str, object]:
    return {"complaintOrderId": int(cid), "content": "您好", "bussiHandle": 1}


async def test_error_rate_answers_system_error(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    cid = state.create_complaint(creds.appid)
    await mp.token()
    state.faults.error_rate = 1.0
    assert await mp.detail(cid) == {"errcode": -1, "errmsg": "system error"}
    assert (await mp.post("bussiRespondComplaint", respond(cid)))["errcode"] == -1
    assert state.get(cid).status == 201 and state.stats.injected_errors == 2


async def test_one_shot_5xx_and_errcodes(
    mp: MiniClient, http: httpx.AsyncClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    cid = state.create_complaint(creds.appid)
    state.faults.fail_next("detail", 503)
    state.faults.fail_next("detail", 45009)
    params = {"access_token": await mp.token(), "complaintOrderId": cid}
    first = await http.get("/wxaapi/minishop/complaintOrderDetail", params=params)
    assert first.status_code == 503
    second = await http.get("/wxaapi/minishop/complaintOrderDetail", params=params)
    assert second.status_code == 200 and second.json()["errcode"] == 45009
    assert (await mp.detail(cid))["errcode"] == 0


async def test_after_apply_faults_apply_then_fail_or_drop(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    first, second = state.create_complaint(creds.appid), state.create_complaint(creds.appid)
    await mp.token()
    state.faults.fail_next("respond", -1, after_apply=True)
    assert (await mp.post("bussiRespondComplaint", respond(first)))["errcode"] == -1
    assert state.get(first).status == 203  # applied all the same
    state.faults.drop_next_response("respond")
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        await mp.post("bussiRespondComplaint", respond(second))
    assert isinstance(caught.value, ConnectionDropped)
    assert state.get(second).status == 203 and state.stats.dropped_responses == 1
    assert len(state.merchant_actions(second, api_only=True)) == 1


async def test_minute_and_day_quotas(clock: ManualClock) -> None:
    creds = generate_app()
    sim = MiniProgramState(clock=clock, limits={"detail": 2}, day_limits={"token": 2})
    sim.register(creds)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)), base_url=API) as http:
        mp = MiniClient(http, creds)
        cid = sim.create_complaint(creds.appid)
        assert [(await mp.detail(cid))["errcode"] for _ in range(3)] == [0, 0, 45011]
        clock.advance(60)
        assert (await mp.detail(cid))["errcode"] == 0
        params = {"grant_type": "client_credential", "appid": creds.appid, "secret": creds.secret}
        answers = [(await http.get("/cgi-bin/token", params=params)).json() for _ in range(3)]
        assert "access_token" in answers[1] and answers[2]["errcode"] == 45009
        assert sim.stats.rate_limited == 2


async def test_sandbox_endpoints(
    http: httpx.AsyncClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    state.create_complaint(creds.appid)
    described = (await http.get("/sandbox/state")).json()
    assert described["complaints"] == {"total": 1, "by_status": {"201": 1}, "by_appeal_state": {"0": 1}}
    assert described["apps"][creds.appid]["message_mode"] == "safe"
    assert described["pushes"]["total"] == 1 and described["pushes"]["pending"] == 1
    assert creds.secret not in str(described) and creds.encoding_aes_key not in str(described)
    changed = await http.post(
        "/sandbox/faults", json={"error_rate": 0.5, "fail_next": {"endpoint": "appeal", "status": 1002}}
    )
    assert changed.status_code == 200 and state.faults.error_rate == 0.5
    assert state.faults.pending_one_shots() == {"appeal": [1002]}
    assert (await http.post("/sandbox/faults", json={"nope": 1})).status_code == 400
