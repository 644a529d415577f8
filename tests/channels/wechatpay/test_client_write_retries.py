"""Tier 2: the write retry policy — retried only when certainly not applied — and the write budgets."""

from __future__ import annotations

import httpx
import pytest

from complaintdesk.errors import ChannelTransportError, InvalidRequest, RateLimited, UpstreamUnavailable
from complaintdesk.settings import WeChatPaySettings

from .fakes import MCHID, FakeSleep, Recorder, RecordingLimiter, make_client, signed, signed_empty

CID = "200201820200101080076610000"
SUB = "1900012181"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

pytestmark = pytest.mark.anyio


# -- retry policy for writes -------------------------------------------------------------------------------


def limited() -> httpx.Response:
    return httpx.Response(429, json={"code": "FREQUENCY_LIMITED", "message": "频率限制"})


async def test_429_is_retried_with_the_same_bytes() -> None:
    sleep = FakeSleep()
    api = Recorder(limited(), signed_empty())
    async with make_client(api, sleep=sleep) as client:
        await client.reply(CID, complainted_mchid=SUB, content="hi", images=[])
        assert (client.stats["reply"], client.stats["429"], client.stats["retries"]) == (2, 1, 1)
    first, second = api.requests
    assert first.content == second.content
    assert first.headers["Authorization"] != second.headers["Authorization"]  # fresh nonce, fresh signature
    assert len(sleep.delays) == 1


async def test_429_exhausted_raises_rate_limited() -> None:
    api = Recorder(limited(), limited(), limited())
    async with make_client(api, settings=WeChatPaySettings(max_retries=2)) as client:
        with pytest.raises(RateLimited):
            await client.complete(CID, complainted_mchid=SUB)
    assert len(api.requests) == 3


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("p")]
)
async def test_connection_errors_before_sending_are_retried(exc: Exception) -> None:
    sleep = FakeSleep()
    api = Recorder(exc, signed_empty())
    async with make_client(api, sleep=sleep) as client:
        await client.complete(CID, complainted_mchid=SUB)
    assert len(api.requests) == 2 and len(sleep.delays) == 1


async def test_connection_errors_exhausted_raise_not_sent() -> None:
    api = Recorder(httpx.ConnectError("a"), httpx.ConnectError("b"))
    async with make_client(api, settings=WeChatPaySettings(max_retries=1)) as client:
        with pytest.raises(ChannelTransportError) as info:
            await client.complete(CID, complainted_mchid=SUB)
    assert info.value.sent is False


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("closed"), httpx.WriteTimeout("w")]
)
async def test_errors_after_sending_are_not_retried(exc: Exception) -> None:
    sleep = FakeSleep()
    api = Recorder(exc, signed_empty())
    async with make_client(api, sleep=sleep) as client:
        with pytest.raises(ChannelTransportError) as info:
            await client.reply(CID, complainted_mchid=SUB, content="hi", images=[])
        assert client.stats["retries"] == 0
    assert info.value.sent is True and info.value.retryable is False
    assert "may have been applied" in info.value.message
    assert len(api.requests) == 1 and sleep.delays == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"code": "SYSTEM_ERROR", "message": "系统错误"}),
        httpx.Response(503, content=b"<html>busy</html>"),
        httpx.Response(202),
    ],
)
async def test_5xx_and_202_to_a_write_are_uncertain_and_not_retried(answer: httpx.Response) -> None:
    sleep = FakeSleep()
    api = Recorder(answer, signed_empty())
    async with make_client(api, sleep=sleep) as client:
        with pytest.raises(UpstreamUnavailable) as info:
            await client.update_refund_progress(CID, action="APPROVE")
    assert info.value.status == answer.status_code
    assert info.value.retryable is False and info.value.context["uncertain"] is True
    assert len(api.requests) == 1 and sleep.delays == []


async def test_4xx_refusal_is_not_retried() -> None:
    api = Recorder(httpx.Response(400, json={"code": "INVALID_REQUEST", "message": "投诉单状态不正确"}))
    async with make_client(api) as client:
        with pytest.raises(InvalidRequest, match="投诉单状态不正确"):
            await client.complete(CID, complainted_mchid=SUB)
    assert len(api.requests) == 1


async def test_write_budgets() -> None:
    limiter = RecordingLimiter()
    settings = WeChatPaySettings(
        reply_per_minute=7,
        upload_per_minute=8,
        complete_per_minute=9,
        refund_update_per_minute=10,
        notifications_per_minute=11,
    )
    api = Recorder(
        signed_empty(),
        signed({"log_id": "L"}),
        signed_empty(),
        signed_empty(),
        signed({"media_id": "M"}),
        signed_empty(),
    )
    async with make_client(api, settings=settings, limiter=limiter) as client:
        await client.reply(CID, complainted_mchid=SUB, content="hi", images=[])
        await client.reply_immediate(CID, complainted_mchid=SUB, message={}, idempotent_id="a")
        await client.complete(CID, complainted_mchid=SUB)
        await client.update_refund_progress(CID, action="APPROVE")
        await client.upload_image(PNG, "a.png")
        await client.delete_callback_url()
        assert client.stats["reply"] == 1 and client.stats["reply_immediate"] == 1
    prefix = f"wechatpay:{MCHID}:"
    assert limiter.calls == [
        (prefix + "reply", 7),
        (prefix + "reply", 7),
        (prefix + "complete", 9),
        (prefix + "refund_progress", 10),
        (prefix + "upload", 8),
        (prefix + "notifications", 11),
    ]


async def test_client_argument_checks() -> None:
    api = Recorder()
    async with make_client(api) as client:
        with pytest.raises(ValueError):
            await client.complete("", complainted_mchid=SUB)
        with pytest.raises(ValueError):
            await client.reply(CID, complainted_mchid="", content="x", images=[])
        with pytest.raises(ValueError):
            await client.reply_immediate(CID, complainted_mchid=SUB, message={}, idempotent_id="")
    assert api.requests == []
