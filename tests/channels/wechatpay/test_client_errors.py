"""Tier 2: client behaviour on odd upstream answers (MockTransport)."""

from __future__ import annotations

import logging
import re
from datetime import date

import httpx
import pytest

from complaintdesk.errors import (
    ChannelError,
    ChannelTransportError,
    InvalidRequest,
    RateLimited,
    ResponseVerificationError,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from complaintdesk.settings import WeChatPaySettings

from .fakes import MCHID, MERCHANT_SERIAL, NOW, FakeSleep, RecordingLimiter, make_client, signed
from .keys import rsa_key, rsa_verify
from .samples import complaint_doc

pytestmark = pytest.mark.anyio
AUTH_RE = re.compile(r'(\w+)="([^"]*)"')


def _verify_authorization(request: httpx.Request) -> None:
    scheme, _, params = request.headers["Authorization"].partition(" ")
    fields = dict(AUTH_RE.findall(params))
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    assert (fields["mchid"], fields["serial_no"]) == (MCHID, MERCHANT_SERIAL)
    path = request.url.raw_path.decode()
    message = f"{request.method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n\n"
    rsa_verify(rsa_key("merchant"), message.encode(), fields["signature"])


async def test_request_shape_and_signature() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if b"?" in request.url.raw_path:
            return signed({"data": [], "limit": 50, "offset": 0, "total_count": 0})
        return signed(complaint_doc())

    async with make_client(handler) as client:
        await client.list_complaints(
            begin_date=date(2024, 1, 1), end_date=date(2024, 1, 30), complainted_mchid="1900012181"
        )
        await client.get_complaint("a/b c+=")
    listing, detail = seen
    assert listing.url.raw_path == (
        b"/v3/merchant-service/complaints-v2?limit=50&offset=0&begin_date=2024-01-01&end_date=2024-01-30"
        b"&complainted_mchid=1900012181"
    )
    assert detail.url.raw_path == b"/v3/merchant-service/complaints-v2/a%2Fb%20c%2B%3D"
    for request in seen:
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"] == "complaintdesk/0.1"
        assert "Wechatpay-Serial" not in request.headers
        _verify_authorization(request)


async def test_non_json_502_is_retried_with_capped_backoff_then_raised() -> None:
    sleep, limiter = FakeSleep(), RecordingLimiter()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, content=b"<html>bad gateway</html>", headers={"Content-Type": "text/html"})

    settings = WeChatPaySettings(max_retries=4, backoff_initial=0.5, backoff_max=3.0)
    async with make_client(handler, settings=settings, sleep=sleep, limiter=limiter) as client:
        with pytest.raises(UpstreamUnavailable) as info:
            await client.get_complaint("1")
        assert client.stats["detail"] == 5
        assert client.stats["retries"] == 4
    assert info.value.status == 502 and info.value.retryable
    assert len(sleep.delays) == 4
    for attempt, delay in enumerate(sleep.delays):
        assert 0 <= delay <= min(3.0, 0.5 * 2**attempt)
    assert limiter.calls == [(f"wechatpay:{MCHID}:detail", settings.detail_per_minute)] * 5


async def test_429_then_200_is_retried_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    answers = [
        httpx.Response(
            429, json={"code": "FREQUENCY_LIMITED", "message": "频率限制"}, headers={"Request-ID": "RID-429"}
        ),
        signed(complaint_doc()),
    ]
    sleep = FakeSleep()
    caplog.set_level(logging.INFO, logger="complaintdesk.channels.wechatpay.client")
    async with make_client(lambda request: answers.pop(0), sleep=sleep) as client:
        complaint = await client.get_complaint("200201820200101080076610000")
        assert complaint.complaint_state == "PENDING"
        assert (client.stats["detail"], client.stats["429"], client.stats["retries"]) == (2, 1, 1)
    assert len(sleep.delays) == 1
    record = next(r for r in caplog.records if "retry" in r.getMessage())
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "endpoint=detail" in message and "attempt=1" in message and "status=429" in message
    assert "request_id=RID-429" in message
    assert "WECHATPAY2" not in caplog.text and "signature" not in caplog.text


async def test_429_exhausted_raises_rate_limited() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"code": "FREQUENCY_LIMITED", "message": "x"})

    async with make_client(handler, settings=WeChatPaySettings(max_retries=1)) as client:
        with pytest.raises(RateLimited):
            await client.get_complaint("1")
        assert client.stats["429"] == 2


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "RESOURCE_NOT_EXISTS", UpstreamNotFound),
        (400, "RESOURCE_NOT_EXISTS", UpstreamNotFound),
        (400, "PARAM_ERROR", InvalidRequest),
    ],
)
async def test_client_errors_are_not_retried(status: int, code: str, cls: type[Exception]) -> None:
    sleep = FakeSleep()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"code": code, "message": "m"}, headers={"Request-ID": "R"})

    async with make_client(handler, sleep=sleep) as client:
        with pytest.raises(cls):
            await client.get_complaint("1")
        assert client.stats["detail"] == 1
    assert sleep.delays == []


async def test_unsigned_2xx_is_refused_and_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=complaint_doc(), headers={"Request-ID": "R-unsigned"})

    async with make_client(handler) as client:
        with pytest.raises(ResponseVerificationError, match="missing signature headers") as info:
            await client.get_complaint("1")
    assert info.value.request_id == "R-unsigned"
    assert len(calls) == 1


@pytest.mark.parametrize(
    "reply",
    [
        lambda: signed(complaint_doc(), key="attacker"),
        lambda: signed(complaint_doc(), ts=NOW - 300),
        lambda: signed(complaint_doc(), serial="00AA"),
    ],
)
async def test_badly_signed_2xx_is_refused(reply: object) -> None:
    async with make_client(lambda request: reply()) as client:  # type: ignore[operator]
        with pytest.raises(ResponseVerificationError):
            await client.get_complaint("1")


async def test_signtest_probe_response_is_refused() -> None:
    response = signed(complaint_doc())
    response.headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + response.headers["Wechatpay-Signature"]
    async with make_client(lambda request: response) as client:
        with pytest.raises(ResponseVerificationError, match="probe"):
            await client.get_complaint("1")


async def test_signed_but_misshapen_documents() -> None:
    async with make_client(lambda request: signed([1, 2])) as client:
        with pytest.raises(ChannelError, match="not a JSON object"):
            await client.get_complaint("1")
    page = {"data": [{"complaint_state": "PENDING", "payer_phone": "SECRETCIPHER"}], "limit": 50, "offset": 0}
    async with make_client(lambda request: signed(page)) as client:
        with pytest.raises(ChannelError, match=r"data\.0\.complaint_id") as info:
            await client.list_complaints(begin_date=date(2024, 1, 1), end_date=date(2024, 1, 2))
    assert "SECRETCIPHER" not in str(info.value)


@pytest.mark.parametrize(
    ("exc", "sent"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow"), False),
        (httpx.ReadTimeout("slow"), True),
    ],
)
async def test_transport_errors_are_retried_then_raised(exc: Exception, sent: bool) -> None:
    sleep = FakeSleep()

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    async with make_client(handler, settings=WeChatPaySettings(max_retries=2), sleep=sleep) as client:
        with pytest.raises(ChannelTransportError) as info:
            await client.get_complaint("1")
        assert client.stats["detail"] == 3
    assert info.value.sent is sent
    assert len(sleep.delays) == 2


async def test_transport_error_then_success() -> None:
    answers: list[object] = [httpx.ReadTimeout("slow"), signed(complaint_doc())]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    async with make_client(handler) as client:
        assert (await client.get_complaint("1")).complaint_id == "200201820200101080076610000"


async def test_argument_checks() -> None:
    async with make_client(lambda request: httpx.Response(500)) as client:
        with pytest.raises(ValueError, match="30 days"):
            await client.list_complaints(begin_date=date(2024, 1, 1), end_date=date(2024, 2, 1))
        with pytest.raises(ValueError):
            await client.list_complaints(begin_date=date(2024, 1, 2), end_date=date(2024, 1, 1))
        with pytest.raises(ValueError):
            await client.list_complaints(begin_date=date(2024, 1, 1), end_date=date(2024, 1, 2), limit=51)
        with pytest.raises(ValueError):
            await client.get_history("1", limit=301)
        with pytest.raises(ValueError):
            await client.get_complaint("")
        with pytest.raises(ValueError, match="30 days"):
            async for _ in client.iter_complaints(begin_date=date(2024, 1, 1), end_date=date(2024, 3, 1)):
                pass
        assert client.stats == {}
