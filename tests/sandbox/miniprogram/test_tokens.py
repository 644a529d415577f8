"""stable_token, the classic token, and how API calls treat tokens."""

from __future__ import annotations

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.miniprogram import AppCredentials, MiniProgramState

from .miniclient import MiniClient

pytestmark = pytest.mark.anyio


async def test_stable_token_is_reused_until_five_minutes_before_expiry(
    mp: MiniClient, clock: ManualClock
) -> None:
    first = await mp.stable_token()
    assert first["expires_in"] == 7200 and len(first["access_token"]) >= 100
    clock.advance(1000)
    again = await mp.stable_token()
    assert again == {"access_token": first["access_token"], "expires_in": 6200}
    clock.advance(6200 - 299)  # 299 s left: rotated early
    rotated = await mp.stable_token()
    assert rotated["access_token"] != first["access_token"] and rotated["expires_in"] == 7200
    # the old token overlaps until its own expiry, then is reported expired
    assert (await mp.detail("1", token=first["access_token"]))["errcode"] == 1
    clock.advance(299)
    assert (await mp.detail("1", token=first["access_token"]))["errcode"] == 42001
    assert (await mp.detail("1", token=rotated["access_token"]))["errcode"] == 1


async def test_force_refresh_revokes_and_is_limited(mp: MiniClient, clock: ManualClock) -> None:
    old = (await mp.stable_token())["access_token"]
    forced = await mp.stable_token(force=True)
    assert forced["access_token"] != old and forced["expires_in"] == 7200
    assert (await mp.detail("1", token=old))["errcode"] == 40001
    too_soon = await mp.stable_token(force=True)
    assert too_soon["errcode"] == 45011 and "access_token" not in too_soon
    for _ in range(19):
        clock.advance(30)
        assert "access_token" in await mp.stable_token(force=True)
    clock.advance(30)
    assert (await mp.stable_token(force=True))["errcode"] == 45009  # 20 forced refreshes a day
    assert "access_token" in await mp.stable_token()  # normal mode still works
    clock.advance(24 * 3600)
    assert "access_token" in await mp.stable_token(force=True)


async def test_classic_token_overlaps_five_minutes(
    http: httpx.AsyncClient, creds: AppCredentials, clock: ManualClock
) -> None:
    params = {"grant_type": "client_credential", "appid": creds.appid, "secret": creds.secret}
    first = (await http.get("/cgi-bin/token", params=params)).json()
    second = (await http.get("/cgi-bin/token", params=params)).json()
    assert first["access_token"] != second["access_token"] and second["expires_in"] == 7200
    mp = MiniClient(http, creds)
    assert (await mp.detail("1", token=first["access_token"]))["errcode"] == 1
    clock.advance(300)
    assert (await mp.detail("1", token=first["access_token"]))["errcode"] == 42001
    assert (await mp.detail("1", token=second["access_token"]))["errcode"] == 1


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"grant_type": "client_credential", "appid": "wx0000000000000000", "secret": "s"}, 40013),
        ({"grant_type": "client_credential", "appid": "wx1234567890abcdef", "secret": "wrong"}, 40125),
        ({"grant_type": "password", "appid": "wx1234567890abcdef", "secret": "x"}, 40002),
        ({"grant_type": "client_credential", "secret": "x"}, 41002),
        ({"grant_type": "client_credential", "appid": "wx1234567890abcdef"}, 41004),
        ([1, 2], 47001),
    ],
)
async def test_stable_token_errors(http: httpx.AsyncClient, body: object, errcode: int) -> None:
    response = await http.post("/cgi-bin/stable_token", json=body)
    assert response.status_code == 200
    assert response.json()["errcode"] == errcode and response.json()["errmsg"]


async def test_classic_token_with_wrong_secret_is_40001(
    http: httpx.AsyncClient, creds: AppCredentials
) -> None:
    params = {"grant_type": "client_credential", "appid": creds.appid, "secret": "0" * 32}
    assert (await http.get("/cgi-bin/token", params=params)).json()["errcode"] == 40001


async def test_api_token_errors(
    mp: MiniClient, http: httpx.AsyncClient, clock: ManualClock, state: MiniProgramState
) -> None:
    missing = await http.get("/wxaapi/minishop/complaintOrderDetail", params={"complaintOrderId": "1"})
    assert missing.json()["errcode"] == 41001
    assert (await mp.detail("1", token="not a token!"))["errcode"] == 40014
    assert (await mp.detail("1", token="A" * 150))["errcode"] == 40001
    token = await mp.token()
    clock.advance(7200)
    expired = await mp.detail("1", token=token)
    assert expired == {"errcode": 42001, "errmsg": "access_token expired"}
    assert state.stats.token_errors == 4
    assert token not in str(state.stats.as_dict())
