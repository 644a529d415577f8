"""Tier 2: exact requests, verification, client-side limits, retries and error shapes (MockTransport)."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest

from complaintdesk.channels.huishouqian import errors as hs
from complaintdesk.errors import (
    ActionRefused,
    ChannelError,
    ChannelTransportError,
    InvalidRequest,
    RateLimited,
    ResponseVerificationError,
    UpstreamUnavailable,
)
from complaintdesk.settings import HuishouqianSettings

from .fakes import FakeSleep, Recorder, RecordingLimiter, failed, make_client, ok, row
from .keys import MERCHANT_NO, SIGN_KEY, request_string, response_body, rsa2_sign, rsa2_verify, rsa_key

pytestmark = pytest.mark.anyio
EMPTY = {"data": [], "offset": 0, "totalSize": 0}


def _never(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no request may be sent")


async def test_exact_query_request() -> None:
    recorder = Recorder(ok(EMPTY))
    limiter = RecordingLimiter()
    async with make_client(recorder, limiter=limiter) as client:
        await client.query(begin_date=date(2024, 3, 1), end_date=date(2024, 3, 30), limit=500, offset=500)
    (request,) = recorder.requests
    assert request.method == "POST"
    assert request.url == "https://test-api.huishouqian.com/complaint/query"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    (form,) = recorder.forms()
    assert list(form) == ["method", "version", "format", "merchantNo", "signType", "signContent", "sign"]
    assert form["method"] == "COMPLAINT_QUERY" and form["merchantNo"] == MERCHANT_NO
    assert json.loads(form["signContent"]) == {
        "beginDate": "2024-03-01",
        "endDate": "2024-03-30",
        "limit": 500,
        "offset": 500,
    }
    rsa2_verify(rsa_key("merchant"), request_string(form), form["sign"])
    assert limiter.calls == [(f"huishouqian:{MERCHANT_NO}:query", 120)]


@pytest.mark.parametrize(
    ("date_format", "begin", "end"),
    [("yyyyMMdd", "20240301", "20240302"), ("yyyyMMddHHmmss", "20240301000000", "20240302235959")],
)
async def test_date_format_option(date_format: str, begin: str, end: str) -> None:
    recorder = Recorder(ok(EMPTY))
    async with make_client(recorder, date_format=date_format) as client:
        await client.query(begin_date=date(2024, 3, 1), end_date=date(2024, 3, 2))
    business = json.loads(recorder.forms()[0]["signContent"])
    assert (business["beginDate"], business["endDate"]) == (begin, end)


async def test_limit_501_and_long_windows_are_refused_before_sending() -> None:
    async with make_client(_never) as client:
        with pytest.raises(ActionRefused) as info:
            await client.query(limit=501)
        assert info.value.field == "limit" and "500" in info.value.message
        with pytest.raises(ActionRefused) as info:
            await client.query(begin_date=date(2024, 1, 1), end_date=date(2024, 1, 31))  # 31 days
        assert info.value.field == "endDate" and "31 days" in info.value.message
        with pytest.raises(ActionRefused):
            await client.query(begin_date=date(2024, 1, 2), end_date=date(2024, 1, 1))
        with pytest.raises(ActionRefused):
            await client.query(begin_date=date(2024, 1, 2))
        with pytest.raises(ActionRefused):
            async for _ in client.iter_complaints(begin_date=date(2024, 1, 1), end_date=date(2024, 3, 1)):
                pass


async def test_window_limit_is_a_setting() -> None:
    recorder = Recorder(ok(EMPTY))
    async with make_client(recorder, settings=HuishouqianSettings(query_window_days=7)) as client:
        with pytest.raises(ActionRefused):
            await client.query(begin_date=date(2024, 1, 1), end_date=date(2024, 1, 8))
        await client.query(begin_date=date(2024, 1, 1), end_date=date(2024, 1, 7))
    assert len(recorder.requests) == 1


async def test_independently_signed_response_is_parsed() -> None:
    recorder = Recorder(ok({"data": [row("200210220211228100360913215")], "offset": 0, "totalSize": 1}))
    async with make_client(recorder) as client:
        found = await client.get_complaint("200210220211228100360913215")
    assert found.amount == 300 and found.merchant_no == MERCHANT_NO
    assert json.loads(recorder.forms()[0]["signContent"]) == {
        "limit": 1,
        "offset": 0,
        "complaintId": "200210220211228100360913215",
    }


async def test_altered_result_and_bad_sign_are_refused_and_not_retried() -> None:
    altered = httpx.Response(200, content=response_body(EMPTY, tamper=json.dumps(EMPTY | {"totalSize": 9})))
    doc = json.loads(response_body(EMPTY))
    bad_sign = httpx.Response(200, content=json.dumps(doc | {"sign": "ab" * 256}).encode())
    for answer in (altered, bad_sign):
        recorder = Recorder(answer)
        async with make_client(recorder) as client:
            with pytest.raises(ResponseVerificationError):
                await client.query()
        assert len(recorder.requests) == 1


async def test_reads_retry_000001_and_130001_then_succeed() -> None:
    sleep = FakeSleep()
    recorder = Recorder(
        failed("000001", "系统异常,请稍后再试"),
        failed("130001", "结果未知,请稍后查询"),
        httpx.Response(503, content=b"busy"),
        httpx.ConnectError("refused"),
        ok(EMPTY),
    )
    settings = HuishouqianSettings(max_retries=4, backoff_initial=0.5, backoff_max=3.0)
    async with make_client(recorder, settings=settings, sleep=sleep) as client:
        page = await client.query()
        assert client.stats["retries"] == 4
    assert page.data == [] and len(recorder.requests) == 5
    assert len(sleep.delays) == 4 and all(0 <= d <= 3.0 for d in sleep.delays)


async def test_reads_give_up_after_max_retries() -> None:
    recorder = Recorder(*[failed("000001", "系统异常") for _ in range(3)])
    async with make_client(recorder, settings=HuishouqianSettings(max_retries=2)) as client:
        with pytest.raises(hs.HsSystemError) as info:
            await client.query()
    assert info.value.retryable and len(recorder.requests) == 3


async def test_refusal_codes_are_not_retried() -> None:
    recorder = Recorder(failed("130003", "投诉订单号不存在"))
    async with make_client(recorder) as client:
        with pytest.raises(hs.HsComplaintNotFound) as info:
            await client.query(complaint_id="x")
    assert info.value.upstream_message == "投诉订单号不存在"


async def test_unknown_code_and_unsigned_failure_are_surfaced_verbatim() -> None:
    recorder = Recorder(failed("SIGN_ERROR", "验签失败", signed=False))
    async with make_client(recorder) as client:
        with pytest.raises(hs.HsError) as info:
            await client.query()
    assert info.value.code == "SIGN_ERROR" and info.value.upstream_message == "验签失败"


async def test_failure_with_a_forged_signature_is_refused() -> None:
    recorder = Recorder(failed("130003", "投诉订单号不存在", signer="attacker"))
    async with make_client(recorder) as client:
        with pytest.raises(ResponseVerificationError):
            await client.query()


async def test_failure_signed_over_null_fields_verifies() -> None:
    sign = rsa2_sign(rsa_key("platform"), f"errorCode=000001&errorMsg=null&success=false&key={SIGN_KEY}")
    body = json.dumps({"success": False, "errorCode": "000001", "errorMsg": None, "sign": sign}).encode()
    recorder = Recorder(httpx.Response(200, content=body))
    async with make_client(recorder, settings=HuishouqianSettings(max_retries=0)) as client:
        with pytest.raises(hs.HsSystemError):
            await client.query()


async def test_odd_shapes() -> None:
    cases: list[tuple[httpx.Response, type[Exception]]] = [
        (httpx.Response(200, content=b"<html>gateway</html>"), ChannelError),
        (httpx.Response(404, content=b"not found"), InvalidRequest),
        (httpx.Response(429, content=b""), RateLimited),
        (ok("not json at all"), ChannelError),
        (ok("[1, 2]"), ChannelError),
        (ok({"data": "oops"}), ChannelError),
    ]
    for answer, expected in cases:
        async with make_client(
            Recorder(answer, answer, answer, answer), settings=HuishouqianSettings(max_retries=0)
        ) as client:
            with pytest.raises(expected):
                await client.query()


async def test_writes_are_never_retried_after_sending() -> None:
    for answer in (
        failed("000001", "系统异常"),
        failed("130001", "结果未知"),
        httpx.Response(502, content=b""),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, content=b"garbage"),
    ):
        recorder = Recorder(answer, ok({"flag": True}))
        async with make_client(recorder) as client:
            with pytest.raises(ChannelError) as info:
                await client.commit_response("c1", content="您好", images=[])
        assert len(recorder.requests) == 1
        error = info.value
        assert error.retryable is False
        if isinstance(error, ChannelTransportError):
            assert error.sent
        else:
            assert error.context.get("uncertain") is True


async def test_write_refusal_is_not_uncertain_and_unsent_write_is_retried() -> None:
    recorder = Recorder(failed("130009", "回复上传图片不能超过四张"))
    async with make_client(recorder) as client:
        with pytest.raises(hs.HsTooManyImages) as info:
            await client.commit_response("c1", content="您好", images=["1"] * 5)
    assert "uncertain" not in info.value.context
    recorder = Recorder(httpx.ConnectError("refused"), ok({"flag": True, "respCode": "130000"}))
    limiter = RecordingLimiter()
    async with make_client(recorder, limiter=limiter) as client:
        await client.commit_complete("c1", content="已处理", images=[])
    assert len(recorder.requests) == 2
    assert limiter.calls == [(f"huishouqian:{MERCHANT_NO}:write", 60)] * 2


async def test_write_flag_false_maps_resp_code() -> None:
    for result, expected in (
        ({"flag": False, "respCode": "130003", "respDesc": "投诉订单号不存在"}, hs.HsComplaintNotFound),
        ({"flag": False, "respCode": "130001", "respDesc": "结果未知"}, hs.HsResultUnknown),
        ({"respCode": "130002", "respDesc": "参数校验不通过"}, hs.HsParamInvalid),
    ):
        async with make_client(Recorder(ok(result))) as client:
            with pytest.raises(expected) as info:
                await client.commit_response("c1", content="您好", images=[])
        assert (info.value.context.get("uncertain") is True) == (result["respCode"] == "130001")


async def test_exact_write_requests() -> None:
    recorder = Recorder(
        ok({"flag": True, "respCode": "130000", "respDesc": "受理成功"}), ok({"fileId": 123456789012})
    )
    async with make_client(recorder) as client:
        result = await client.commit_response("c1", content="您好 & 再见", images=["11", "12"], act_type=1)
        file_id = await client.upload_image(b"\xff\xd8\xffdata")
    assert result.flag is True and file_id == "123456789012"
    reply, upload = recorder.forms()
    assert recorder.requests[0].url.path == "/complaint/commitResponse"
    assert json.loads(reply["signContent"]) == {
        "complaintId": "c1",
        "responseContent": "您好 & 再见",
        "responseImages": ["11", "12"],
        "actType": 1,
    }
    assert recorder.requests[1].url.path == "/complaint/upload"
    assert json.loads(upload["signContent"]) == {"img": "/9j/ZGF0YQ=="}
    for form in (reply, upload):
        rsa2_verify(rsa_key("merchant"), request_string(form), form["sign"])


async def test_5xx_on_read_is_upstream_unavailable_after_retries() -> None:
    recorder = Recorder(httpx.Response(500), httpx.Response(500))
    async with make_client(recorder, settings=HuishouqianSettings(max_retries=1)) as client:
        with pytest.raises(UpstreamUnavailable):
            await client.query()
    assert len(recorder.requests) == 2


async def test_success_code_000000_and_contradictory_success_with_error_code() -> None:
    text = json.dumps(EMPTY)
    sign = rsa2_sign(rsa_key("platform"), f"result={text}&success=true&key={SIGN_KEY}")
    body = {"success": "true", "result": text, "errorCode": "000000", "errorMsg": "成功", "sign": sign}
    async with make_client(Recorder(httpx.Response(200, content=json.dumps(body).encode()))) as client:
        assert (await client.query()).total_size == 0
    sign = rsa2_sign(
        rsa_key("platform"), f"errorCode=130003&errorMsg=投诉订单号不存在&success=true&key={SIGN_KEY}"
    )
    body = {
        "success": True,
        "result": None,
        "errorCode": "130003",
        "errorMsg": "投诉订单号不存在",
        "sign": sign,
    }
    async with make_client(Recorder(httpx.Response(200, content=json.dumps(body).encode()))) as client:
        with pytest.raises(hs.HsComplaintNotFound):
            await client.query()
