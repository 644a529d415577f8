"""Client: exact requests, errcode mapping, retry policy for reads and writes, budgets (MockTransport)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from complaintdesk.errors import (
    AuthFailed,
    ChannelAPIError,
    ChannelError,
    ChannelTransportError,
    InvalidRequest,
    RateLimited,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from complaintdesk.settings import MiniProgramSettings

from .fakes import FakeSleep, FakeWeChat, RecordingLimiter, make_client
from .wxref import APPID

pytestmark = pytest.mark.anyio
DETAIL = "/wxaapi/minishop/complaintOrderDetail"
RESPOND = "/wxaapi/minishop/bussiRespondComplaint"
PROOF = "/wxaapi/minishop/bussiSupplyProof"
REFUND = "/wxaapi/minishop/bussiSupplyRefund"
APPEAL = "/wxaapi/minishop/busiAppeal"
UPLOAD = "/cgi-bin/media/upload"


async def test_write_requests_are_exact() -> None:
    app = FakeWeChat()
    async with make_client(app) as client:
        await client.respond("1000000123456789", content="同意退款", media_ids=["M1"], agree=1)
        await client.supply_proof("1000000123456789", content="", media_ids=["M2", "M3"])
        await client.supply_refund("1000000123456789", content="已退款", media_ids=[])
        await client.supply_refund(
            "1000000123456789", content="已收到退货", media_ids=[], accept_return=1, return_id="77"
        )
        await client.appeal("1000000123456789", content="申诉理由", media_ids=[])
    sent = [r for r in app.requests if r.url.path != "/cgi-bin/stable_token"]
    assert [r.url.path for r in sent] == [RESPOND, PROOF, REFUND, REFUND, APPEAL]
    for request in sent:
        assert request.method == "POST"
        assert dict(request.url.params) == {"access_token": "ACCESS_TOKEN_1"}
        assert request.headers["Content-Type"] == "application/json"
    bodies = [json.loads(r.content) for r in sent]
    assert bodies == [
        {
            "complaintOrderId": 1000000123456789,
            "content": "同意退款",
            "mediaIdList": ["M1"],
            "bussiHandle": 1,
        },
        {"complaintOrderId": 1000000123456789, "content": "", "mediaIdList": ["M2", "M3"]},
        {"complaintOrderId": 1000000123456789, "content": "已退款", "mediaIdList": []},
        {
            "complaintOrderId": 1000000123456789,
            "content": "已收到退货",
            "mediaIdList": [],
            "acceptReturn": 1,
            "returnId": 77,
        },
        {"complaintOrderId": 1000000123456789, "content": "申诉理由", "mediaIdList": []},
    ]
    assert "同意退款".encode() in sent[0].content  # UTF-8, not \\u escapes


async def test_client_refuses_misuse_before_sending() -> None:
    app = FakeWeChat()
    async with make_client(app) as client:
        with pytest.raises(ValueError, match="whole number"):
            await client.respond("WX4200001234", content="x", media_ids=[], agree=1)
        with pytest.raises(ValueError, match="agree must be 1"):
            await client.respond("1", content="x", media_ids=[], agree=3)
        with pytest.raises(ValueError, match="whole number"):
            await client.supply_proof("abc", content="x", media_ids=[])
        with pytest.raises(ValueError, match="content, media ids, or both"):
            await client.appeal("1", content="", media_ids=[])
        with pytest.raises(ValueError, match="go together"):
            await client.supply_refund("1", content="x", media_ids=[], accept_return=1)
        with pytest.raises(InvalidRequest, match=r"not a complaint id.*not a WeChat Pay order id"):
            await client.get_detail("4200001234202404250000000001")
    assert app.requests == []


@pytest.mark.parametrize(
    ("errcode", "cls", "text"),
    [
        (1, UpstreamNotFound, "use the complaint id"),
        (2, InvalidRequest, "badly formed"),
        (309, InvalidRequest, "moved on; refresh it"),
        (1002, InvalidRequest, "72-hour appeal window"),
        (10001, InvalidRequest, "parameter error .*: content too long"),
        (40004, InvalidRequest, "invalid media type"),
        (48001, AuthFailed, "permission set 76"),
        (45009, RateLimited, "daily API quota"),
        (99999, ChannelAPIError, "errcode 99999.*: content too long"),
    ],
)
async def test_errcodes_become_typed_errors_with_operator_messages(
    errcode: int, cls: type[ChannelAPIError], text: str
) -> None:
    app = FakeWeChat()
    app.script[APPEAL] = [{"errcode": errcode, "errmsg": "content too long rid: 6620a1b2-11aa22bb-33cc"}]
    async with make_client(app) as client:
        with pytest.raises(ChannelAPIError) as info:
            await client.appeal("1000000123456789", content="x", media_ids=[])
    error = info.value
    assert type(error) is cls
    assert error.code == str(errcode) and error.channel == "miniprogram"
    assert error.request_id == "6620a1b2-11aa22bb-33cc"
    assert error.message.startswith("appeal: ")
    assert re.search(text, error.message), error.message
    assert len(app.api_requests(APPEAL)) == 1


async def test_309_and_1002_say_the_state_is_stale_and_40007_that_media_expired() -> None:
    app = FakeWeChat()
    app.script[RESPOND] = [
        {"errcode": 309, "errmsg": "status error"},
        {"errcode": 40007, "errmsg": "invalid media_id"},
    ]
    async with make_client(app) as client:
        with pytest.raises(InvalidRequest) as stale:
            await client.respond("1", content="x", media_ids=[], agree=2)
        with pytest.raises(InvalidRequest) as expired:
            await client.respond("1", content="x", media_ids=["old"], agree=2)
    assert stale.value.context["stale_state"] is True
    assert expired.value.context["media_expired"] is True


async def test_errmsg_phone_numbers_are_masked_and_access_token_never_shown() -> None:
    app = FakeWeChat()
    app.script[DETAIL] = [{"errcode": 10001, "errmsg": "bad param phone 13812345678"}]
    async with make_client(app) as client:
        with pytest.raises(InvalidRequest) as info:
            await client.get_detail("1")
    text = f"{info.value} {info.value.detail}"
    assert "13812345678" not in text and "138****5678" in text
    assert "ACCESS_TOKEN" not in text


async def test_reads_are_retried_on_minus_one_and_5xx_then_succeed() -> None:
    app, sleep = FakeWeChat(), FakeSleep()
    app.script[DETAIL] = [
        {"errcode": -1, "errmsg": "system error"},
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.ConnectError("refused"),
    ]
    async with make_client(app, sleep=sleep) as client:
        detail = await client.get_detail("1000000123456789")
        assert client.stats["retries"] == 3
    assert detail.complaint_order.status == 201
    assert len(app.api_requests(DETAIL)) == 4
    assert len(sleep.delays) == 3 and all(d >= 0 for d in sleep.delays)


async def test_read_retries_are_bounded_and_backoff_capped() -> None:
    app, sleep = FakeWeChat(), FakeSleep()
    app.script[DETAIL] = [{"errcode": -1, "errmsg": "system error"}] * 10
    settings = MiniProgramSettings(max_retries=3, backoff_initial=0.5, backoff_max=1.0)
    async with make_client(app, sleep=sleep, settings=settings) as client:
        with pytest.raises(UpstreamUnavailable, match="system busy") as info:
            await client.get_detail("1")
    assert info.value.retryable and info.value.code == "-1"
    assert len(app.api_requests(DETAIL)) == 4
    assert all(0 <= d <= 1.0 for d in sleep.delays)


async def test_reads_are_not_retried_after_the_request_left() -> None:
    app = FakeWeChat()
    app.script[DETAIL] = [httpx.ReadTimeout("slow")]
    async with make_client(app) as client:
        with pytest.raises(ChannelTransportError) as info:
            await client.get_detail("1")
    assert info.value.sent is True
    assert len(app.api_requests(DETAIL)) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": -1, "errmsg": "system error"},
        httpx.Response(503, text="busy"),
        httpx.Response(200, text="<html>gateway</html>"),
    ],
)
async def test_writes_answered_with_minus_one_or_5xx_are_uncertain_and_not_retried(answer: object) -> None:
    app = FakeWeChat()
    app.script[RESPOND] = [answer]  # type: ignore[list-item]
    async with make_client(app) as client:
        with pytest.raises(UpstreamUnavailable) as info:
            await client.respond("1", content="x", media_ids=[], agree=1)
    assert info.value.retryable is False and info.value.context["uncertain"] is True
    assert info.value.message.endswith("the request may have been applied")
    assert len(app.api_requests(RESPOND)) == 1


async def test_writes_are_never_retried_on_transport_errors() -> None:
    app = FakeWeChat()
    app.script[RESPOND] = [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")]
    async with make_client(app) as client:
        with pytest.raises(ChannelTransportError) as after:
            await client.respond("1", content="x", media_ids=[], agree=1)
        with pytest.raises(ChannelTransportError) as before:
            await client.respond("1", content="x", media_ids=[], agree=1)
    assert (after.value.sent, before.value.sent) == (True, False)
    assert "may have been applied" in after.value.message
    assert len(app.api_requests(RESPOND)) == 2


async def test_a_write_hitting_the_minute_quota_is_rate_limited_not_uncertain() -> None:
    app = FakeWeChat()
    app.script[RESPOND] = [{"errcode": 45011, "errmsg": "api minute-quota reach limit"}]
    async with make_client(app) as client:
        with pytest.raises(RateLimited) as info:
            await client.respond("1", content="x", media_ids=[], agree=1)
    assert info.value.retryable and "uncertain" not in info.value.context


async def test_odd_answers() -> None:
    app = FakeWeChat()
    app.script[DETAIL] = [
        httpx.Response(200, text="<html>portal</html>", headers={"Content-Type": "text/html"}),
        {"errcode": "40001", "errmsg": "as text"},
        {
            "errcode": "0",
            "errmsg": "ok",
            "complaintOrder": {"complaintOrderId": 5, "createTime": "1714036000"},
        },
        httpx.Response(404, text="no"),
        {"errcode": "oops"},
    ]
    async with make_client(app) as client:
        with pytest.raises(ChannelError, match=r"not a JSON object .*text/html"):
            await client.get_detail("1")
        detail = await client.get_detail("1")  # "40001" as text renews the token too
        assert detail.complaint_order.complaint_order_id == "5"
        with pytest.raises(UpstreamNotFound, match="HTTP 404"):
            await client.get_detail("1")
        with pytest.raises(ChannelError, match="unreadable errcode"):
            await client.get_detail("1")


async def test_upload_is_multipart_with_the_media_field() -> None:
    app = FakeWeChat()
    app.script[UPLOAD] = [{"type": "image", "media_id": "MEDIA_1", "created_at": 1714036500}]
    async with make_client(app) as client:
        media = await client.upload_image(b"\x89PNG\r\n\x1a\nDATA", "abc.png", "image/png")
    assert (media.media_id, media.created_at) == ("MEDIA_1", 1714036500)
    (request,) = app.api_requests(UPLOAD)
    assert dict(request.url.params) == {"type": "image", "access_token": "ACCESS_TOKEN_1"}
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'Content-Disposition: form-data; name="media"; filename="abc.png"' in request.content
    assert b"Content-Type: image/png" in request.content and b"\x89PNG\r\n\x1a\nDATA" in request.content


async def test_upload_answer_without_media_id_is_an_error() -> None:
    app = FakeWeChat()
    app.script[UPLOAD] = [{"type": "image"}]
    async with make_client(app) as client:
        with pytest.raises(ChannelError, match="media upload answer"):
            await client.upload_image(b"GIF89a....", "a.gif", "image/gif")


async def test_budgets_use_the_documented_keys() -> None:
    app, limiter = FakeWeChat(), RecordingLimiter()
    app.script[UPLOAD] = [{"type": "image", "media_id": "M"}]
    settings = MiniProgramSettings(calls_per_minute=500, upload_per_minute=40)
    async with make_client(app, limiter=limiter, settings=settings) as client:
        await client.get_detail("1")
        await client.upload_image(b"GIF89a....", "a.gif", "image/gif")
        await client.supply_proof("1", content="x", media_ids=[])
    assert limiter.calls == [
        (f"miniprogram:{APPID}:token", 500),
        (f"miniprogram:{APPID}:detail", 500),
        (f"miniprogram:{APPID}:upload", 40),
        (f"miniprogram:{APPID}:supply_proof", 500),
    ]


async def test_image_download_keeps_the_url_and_sends_no_token() -> None:
    url = "https://mmbiz.qpic.cn/mmbiz_jpg/a%2Fb?wx_fmt=jpeg&x=%41"
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(502)
        return httpx.Response(200, content=b"\xff\xd8\xffJPEG", headers={"Content-Type": "image/jpeg"})

    async with make_client(app) as client:
        data, content_type = await client.download_image(httpx.URL(url))
    assert (data, content_type) == (b"\xff\xd8\xffJPEG", "image/jpeg")
    assert all(str(r.url) == url for r in seen) and len(seen) == 2
    assert all("access_token" not in str(r.url) for r in seen)
