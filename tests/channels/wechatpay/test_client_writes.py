"""Tier 2: the write calls — exact outgoing requests, signatures over the sent bytes, and the retry policy."""

from __future__ import annotations

import hashlib
import json
import re

import httpx
import pytest
from cryptography.exceptions import InvalidSignature

from complaintdesk.errors import (
    ActionRefused,
    ChannelError,
    ResponseVerificationError,
    UpstreamNotFound,
)

from .fakes import MCHID, MERCHANT_SERIAL, Recorder, make_client, signed, signed_empty
from .keys import rsa_key, rsa_verify

pytestmark = pytest.mark.anyio
AUTH_RE = re.compile(r'(\w+)="([^"]*)"')
BASE = "/v3/merchant-service/complaints-v2/200201820200101080076610000"
CID = "200201820200101080076610000"
SUB = "1900012181"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def assert_signed_over(request: httpx.Request, body: bytes) -> None:
    """Check the Authorization signature covers exactly ``body`` (with the merchant key, via cryptography)."""
    scheme, _, params = request.headers["Authorization"].partition(" ")
    fields = dict(AUTH_RE.findall(params))
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    assert (fields["mchid"], fields["serial_no"]) == (MCHID, MERCHANT_SERIAL)
    head = (
        f"{request.method}\n{request.url.raw_path.decode()}\n{fields['timestamp']}\n{fields['nonce_str']}\n"
    )
    rsa_verify(rsa_key("merchant"), head.encode() + body + b"\n", fields["signature"])


# -- exact requests ----------------------------------------------------------------------------------------


async def test_reply_sends_compact_utf8_json_signed_over_the_exact_bytes() -> None:
    api = Recorder(signed_empty())
    async with make_client(api) as client:
        result = await client.reply(CID, complainted_mchid=SUB, content="您好，已退款", images=["MEDIA/1+="])
    assert result is None
    (request,) = api.requests
    assert (request.method, request.url.raw_path) == ("POST", f"{BASE}/response".encode())
    expected = (
        '{"complainted_mchid":"1900012181","response_content":"您好，已退款","response_images":["MEDIA/1+="]}'
    )
    assert request.content == expected.encode("utf-8")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json" and request.headers["User-Agent"]
    assert_signed_over(request, request.content)
    with pytest.raises(InvalidSignature):
        assert_signed_over(request, request.content.replace("已退款".encode(), "未退款".encode()))


async def test_reply_with_links_and_without_images_sends_no_nulls() -> None:
    api = Recorder(signed_empty())
    mini = {"appid": "wx1", "path": "pages/c", "text": "打开"}
    async with make_client(api) as client:
        await client.reply(
            CID,
            complainted_mchid=SUB,
            content="hi",
            images=[],
            jump_url="https://m.example/c",
            jump_url_text="查看",
            mini_program_jump_info=mini,
        )
    body = json.loads(api.requests[0].content)
    assert body == {
        "complainted_mchid": SUB,
        "response_content": "hi",
        "jump_url": "https://m.example/c",
        "jump_url_text": "查看",
        "mini_program_jump_info": mini,
    }
    assert b"null" not in api.requests[0].content and b"complaint_id" not in api.requests[0].content


async def test_unsigned_204_to_a_write_is_refused_as_uncertain() -> None:
    api = Recorder(httpx.Response(204))
    async with make_client(api) as client:
        with pytest.raises(ResponseVerificationError, match="missing signature headers") as info:
            await client.complete(CID, complainted_mchid=SUB)
    assert info.value.context["uncertain"] is True
    assert len(api.requests) == 1


async def test_badly_signed_204_is_refused() -> None:
    async with make_client(Recorder(signed_empty(key="attacker"))) as client:
        with pytest.raises(ResponseVerificationError, match="does not verify"):
            await client.complete(CID, complainted_mchid=SUB)


async def test_reply_immediate_returns_log_id() -> None:
    api = Recorder(signed({"log_id": "300285320210322170000071077"}))
    message = {
        "blocks": [{"type": "TEXT", "text": {"text": "您好", "color": None}}],
        "sender_identity": "MANUAL",
    }
    async with make_client(api) as client:
        log_id = await client.reply_immediate(
            CID, complainted_mchid=SUB, message=message, idempotent_id="act-1"
        )
    assert log_id == "300285320210322170000071077"
    (request,) = api.requests
    assert request.url.raw_path == f"{BASE}/response-immediate-service".encode()
    assert (
        request.content
        == (
            '{"complainted_mchid":"1900012181","message":{"blocks":[{"type":"TEXT","text":{"text":"您好"}}],'
            '"sender_identity":"MANUAL"},"idempotent_id":"act-1"}'
        ).encode()
    )
    assert_signed_over(request, request.content)


async def test_reply_immediate_without_log_id_is_still_accepted() -> None:
    async with make_client(Recorder(signed({}))) as client:
        assert await client.reply_immediate(CID, complainted_mchid=SUB, message={}, idempotent_id="a") is None


async def test_complete() -> None:
    api = Recorder(signed_empty())
    async with make_client(api) as client:
        await client.complete(CID, complainted_mchid=SUB)
    (request,) = api.requests
    assert request.url.raw_path == f"{BASE}/complete".encode()
    assert request.content == b'{"complainted_mchid":"1900012181"}'
    assert_signed_over(request, request.content)


async def test_refund_progress_sends_only_the_fields_of_the_action() -> None:
    api = Recorder(signed_empty(), signed_empty(), signed_empty())
    async with make_client(api) as client:
        await client.update_refund_progress(CID, action="APPROVE", launch_refund_day=0)
        await client.update_refund_progress(
            CID, action="REJECT", reject_reason="商品已使用", reject_media_list=["m1", "m2"], remark="见图"
        )
        await client.update_refund_progress(CID, action="REJECT", reject_reason="x", reject_media_list=[])
        with pytest.raises(ValueError, match="only goes with APPROVE"):
            await client.update_refund_progress(CID, action="REJECT", launch_refund_day=1)
        with pytest.raises(ValueError, match="only go with REJECT"):
            await client.update_refund_progress(CID, action="APPROVE", reject_reason="x")
    approve, reject, bare = api.requests
    assert approve.url.raw_path == f"{BASE}/update-refund-progress".encode()
    assert approve.content == b'{"action":"APPROVE","launch_refund_day":0}'
    assert (
        reject.content
        == (
            '{"action":"REJECT","reject_reason":"商品已使用","reject_media_list":["m1","m2"],"remark":"见图"}'
        ).encode()
    )
    assert bare.content == b'{"action":"REJECT","reject_reason":"x"}'
    for request in api.requests:
        assert_signed_over(request, request.content)
        assert b"complainted_mchid" not in request.content


def split_multipart(request: httpx.Request) -> list[tuple[dict[str, str], bytes]]:
    """Parse a multipart body into (headers, content) parts, in order."""
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    body = request.content
    assert body.endswith(b"--" + boundary + b"--\r\n")
    parts = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        raw_headers, _, content = chunk[2:-2].partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in raw_headers.decode().split("\r\n"))
        parts.append((headers, content))
    return parts


async def test_upload_sends_meta_first_and_signs_the_meta_json() -> None:
    api = Recorder(signed({"media_id": "BB04A5DEEFEA18D4F2554C1EDD3B610B.png"}))
    name = hashlib.sha256(PNG).hexdigest() + ".png"
    async with make_client(api) as client:
        media_id = await client.upload_image(PNG, name)
    assert media_id == "BB04A5DEEFEA18D4F2554C1EDD3B610B.png"
    (request,) = api.requests
    assert (request.method, request.url.raw_path) == ("POST", b"/v3/merchant-service/images/upload")
    (meta_headers, meta), (file_headers, data) = split_multipart(request)
    assert meta_headers["Content-Disposition"] == 'form-data; name="meta"'
    assert meta_headers["Content-Type"] == "application/json"
    assert meta == f'{{"filename":"{name}","sha256":"{hashlib.sha256(PNG).hexdigest()}"}}'.encode()
    assert file_headers["Content-Disposition"] == f'form-data; name="file"; filename="{name}"'
    assert file_headers["Content-Type"] == "image/png"
    assert data == PNG
    assert_signed_over(request, meta)
    with pytest.raises(InvalidSignature):
        assert_signed_over(request, request.content)


@pytest.mark.parametrize(
    ("data", "filename", "error"),
    [
        (PNG, "evidence.gif", ValueError),
        (PNG, 'a".png', ValueError),
        (PNG, "证据.png", ValueError),
        (b"GIF89a" + PNG, "fake.png", ActionRefused),
        (b"", "empty.png", ActionRefused),
    ],
)
async def test_upload_refuses_before_sending(data: bytes, filename: str, error: type[Exception]) -> None:
    api = Recorder()
    async with make_client(api) as client:
        with pytest.raises(error):
            await client.upload_image(data, filename)
    assert api.requests == []


async def test_upload_without_media_id_is_an_error() -> None:
    async with make_client(Recorder(signed({"x": 1}))) as client:
        with pytest.raises(ChannelError, match="no media_id"):
            await client.upload_image(PNG, "a.png")


# -- callback URL ------------------------------------------------------------------------------------------


def not_configured(status: int) -> httpx.Response:
    return httpx.Response(status, json={"code": "RESOURCE_NOT_EXISTS", "message": "查询的通知回调不存在"})


@pytest.mark.parametrize("status", [400, 404])
async def test_get_callback_url_absent(status: int) -> None:
    api = Recorder(not_configured(status))
    async with make_client(api) as client:
        assert await client.get_callback_url() is None
    assert api.requests[0].method == "GET"
    assert api.requests[0].url.raw_path == b"/v3/merchant-service/complaint-notifications"
    assert_signed_over(api.requests[0], b"")


async def test_get_callback_url_other_not_found_raises() -> None:
    async with make_client(
        Recorder(httpx.Response(404, json={"code": "NOT_FOUND", "message": "m"}))
    ) as client:
        with pytest.raises(UpstreamNotFound):
            await client.get_callback_url()


async def test_set_callback_url_posts_when_absent_and_puts_when_present() -> None:
    url = "https://desk.example.com/webhooks/wechatpay/1900000001"
    api = Recorder(
        not_configured(400),
        signed({"mchid": MCHID, "url": url}),
        signed({"mchid": MCHID, "url": "https://old.example/cb"}),
        signed({"mchid": MCHID, "url": url}),
        signed({"mchid": MCHID, "url": url}),
    )
    async with make_client(api) as client:
        assert await client.set_callback_url(url) == url
        assert await client.set_callback_url(url) == url
        assert await client.set_callback_url(url) == url  # already configured: no write
        with pytest.raises(ValueError, match="https"):
            await client.set_callback_url("http://desk.example.com/cb")
    methods = [request.method for request in api.requests]
    assert methods == ["GET", "POST", "GET", "PUT", "GET"]
    for request in (api.requests[1], api.requests[3]):
        assert request.content == f'{{"url":"{url}"}}'.encode()
        assert_signed_over(request, request.content)


async def test_delete_callback_url() -> None:
    api = Recorder(signed_empty())
    async with make_client(api) as client:
        await client.delete_callback_url()
    (request,) = api.requests
    assert request.method == "DELETE" and request.content == b""
    assert_signed_over(request, b"")
