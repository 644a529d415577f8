"""Access token: stable_token request, caching, early refresh, one renew-and-retry, shared store."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from complaintdesk.channels.miniprogram.token import InMemoryTokenStore
from complaintdesk.errors import AuthFailed, ChannelTransportError
from complaintdesk.settings import MiniProgramSettings

from .fakes import SECRET, Clock, FakeWeChat, make_client
from .samples import detail
from .wxref import APPID

pytestmark = pytest.mark.anyio
DETAIL = "/wxaapi/minishop/complaintOrderDetail"


async def test_stable_token_request_is_exact_and_the_token_is_cached() -> None:
    app = FakeWeChat()
    app.script[DETAIL] = [detail(), detail()]
    async with make_client(app) as client:
        await client.get_detail("1000000123456789")
        await client.get_detail("1000000123456789")
    token_call = app.requests[0]
    assert (token_call.method, token_call.url.path) == ("POST", "/cgi-bin/stable_token")
    assert "access_token" not in token_call.url.params
    assert token_call.headers["Content-Type"] == "application/json"
    assert json.loads(token_call.content) == {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
        "force_refresh": False,
    }
    assert len(app.token_requests) == 1
    for request in app.api_requests(DETAIL):
        assert request.method == "GET"
        assert dict(request.url.params) == {
            "complaintOrderId": "1000000123456789",
            "access_token": "ACCESS_TOKEN_1",
        }


async def test_token_is_refreshed_margin_seconds_before_expiry() -> None:
    app, clock = FakeWeChat(), Clock()
    settings = MiniProgramSettings(token_refresh_margin_seconds=300)
    async with make_client(app, clock=clock, settings=settings) as client:
        await client.get_detail("1")
        clock.now += 7200 - 300 - 1
        await client.get_detail("1")
        assert len(app.token_requests) == 1
        clock.now += 2
        await client.get_detail("1")
        assert len(app.token_requests) == 2
        assert app.token_requests[1]["force_refresh"] is False


async def test_40001_renews_the_token_and_retries_once() -> None:
    app = FakeWeChat()
    async with make_client(app) as client:
        await client.get_detail("1")
        app.rotate()  # the token was replaced elsewhere: normal mode hands out the new one
        await client.get_detail("1")
        assert client.stats["token_renewals"] == 1
    details = app.api_requests(DETAIL)
    assert [r.url.params["access_token"] for r in details] == [
        "ACCESS_TOKEN_1",
        "ACCESS_TOKEN_1",
        "ACCESS_TOKEN_2",
    ]
    assert [body["force_refresh"] for body in app.token_requests] == [False, False]


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
async def test_renewal_forces_a_refresh_only_when_the_platform_returns_the_refused_token(
    errcode: int,
) -> None:
    app = FakeWeChat()
    app.script[DETAIL] = [{"errcode": errcode, "errmsg": "token refused"}, detail()]
    async with make_client(app) as client:
        snapshot = await client.get_detail("1")
    assert snapshot.complaint_order.complaint_order_id == "1000000123456789"
    assert [body["force_refresh"] for body in app.token_requests] == [False, False, True]
    assert [r.url.params["access_token"] for r in app.api_requests(DETAIL)] == [
        "ACCESS_TOKEN_1",
        "ACCESS_TOKEN_2",
    ]


async def test_a_token_refused_twice_raises_auth_failed_without_looping() -> None:
    app = FakeWeChat()
    refused = {"errcode": 40001, "errmsg": "invalid credential"}
    app.script[DETAIL] = [refused, refused, refused]
    async with make_client(app) as client:
        with pytest.raises(AuthFailed, match=r"refused .*even after renewing") as info:
            await client.get_detail("1")
    assert info.value.code == "40001"
    assert len(app.api_requests(DETAIL)) == 2


async def test_forced_refreshes_are_at_least_the_minimum_interval_apart() -> None:
    app, clock = FakeWeChat(), Clock()
    refused = {"errcode": 40001, "errmsg": "invalid credential"}
    app.script[DETAIL] = [refused, detail(), refused, refused]
    async with make_client(app, clock=clock) as client:
        await client.get_detail("1")
        clock.now += 10
        with pytest.raises(AuthFailed):
            await client.get_detail("1")
    assert [body["force_refresh"] for body in app.token_requests] == [False, False, True, False]


async def test_the_token_store_is_shared_between_clients() -> None:
    app, store = FakeWeChat(), InMemoryTokenStore()
    async with make_client(app, token_store=store) as first, make_client(app, token_store=store) as second:
        await first.get_detail("1")
        await second.get_detail("1")
    assert len(app.token_requests) == 1
    cached = await store.get(f"miniprogram:{APPID}")
    assert cached is not None and cached[0] == "ACCESS_TOKEN_1"


async def test_concurrent_callers_share_one_fetch() -> None:
    app = FakeWeChat()
    async with make_client(app) as client:
        await asyncio.gather(*(client.get_detail("1") for _ in range(5)))
    assert len(app.token_requests) == 1


async def test_a_bad_app_secret_is_reported_without_the_secret() -> None:
    app = FakeWeChat(secret="the-right-secret")
    async with make_client(app) as client:
        with pytest.raises(AuthFailed, match="invalid AppSecret") as info:
            await client.get_detail("1")
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.context)
    assert info.value.request_id == "abcdef12-1"
    assert app.api_requests(DETAIL) == []


async def test_a_token_that_cannot_be_fetched_means_the_write_was_not_sent() -> None:
    app = FakeWeChat()
    app.token_script = [httpx.ReadTimeout("slow")]
    async with make_client(app) as client:
        with pytest.raises(ChannelTransportError, match="no access token") as info:
            await client.respond("1000000123456789", content="已处理", media_ids=[], agree=1)
    assert info.value.sent is False and info.value.retryable
    assert app.api_requests("/wxaapi/minishop/bussiRespondComplaint") == []


async def test_a_token_answer_without_expiry_is_refused() -> None:
    app = FakeWeChat()
    app.token_script = [{"access_token": "T"}]
    async with make_client(app) as client:
        with pytest.raises(Exception, match="lacks access_token or expires_in"):
            await client.get_detail("1")
