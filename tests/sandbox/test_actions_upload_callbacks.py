"""Image upload and callback-URL management of the WeChat Pay simulator."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.wechatpay.app import create_app
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.wechatpay.notifier import Notifier
from complaintdesk.sandbox.wechatpay.state import SimulatorState

from .actionkit import BMP, GIF, JPG, NOTIFICATIONS, PNG, expect_error, expect_signed_204
from .conftest import MCH_A, SP, SUB_1
from .wxsign import API, Caller, authorization, verify_response

pytestmark = pytest.mark.anyio


async def test_upload_returns_signed_base64_like_media_ids(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    ids = []
    for name, data in (("a.png", PNG), ("b.JPG", JPG), ("c.jpeg", JPG), ("d.bmp", BMP)) * 3:
        response = await as_a.upload(name, data)
        assert response.status_code == 200, response.text
        verify_response(response, platform)
        ids.append(response.json()["media_id"])
    assert len(set(ids)) == len(ids)
    assert any("/" in i for i in ids) and any("+" in i for i in ids) and any("=" in i for i in ids)
    assert state.stats.applied["upload"] == 12
    assert state.media.upload(ids[0], MCH_A) is not None and state.media.upload(ids[0], SP) is None


async def test_upload_signature_covers_the_meta_json_only(
    api: httpx.AsyncClient, merchant_a: MerchantCredentials, clock: ManualClock
) -> None:
    meta = json.dumps({"filename": "a.png", "sha256": hashlib.sha256(PNG).hexdigest()})
    boundary = "b" + secrets.token_hex(8)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n{meta}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        ).encode()
        + PNG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    path = "/v3/merchant-service/images/upload"
    ts = int(clock.now().timestamp())
    headers = {
        "Accept": "application/json",
        "User-Agent": "t",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    wrong = authorization(merchant_a, "POST", path, body.decode("latin-1"), timestamp=ts)
    denied = await api.post(path, content=body, headers={**headers, "Authorization": wrong})
    expect_error(denied, 401, "SIGN_ERROR")
    right = authorization(merchant_a, "POST", path, meta, timestamp=ts)
    assert (
        await api.post(path, content=body, headers={**headers, "Authorization": right})
    ).status_code == 200


async def test_upload_meta_errors(state: SimulatorState, as_a: Caller) -> None:
    expect_error(await as_a.upload("a.png", PNG, file_first=True), 400, "PARAM_ERROR", "meta")
    expect_error(await as_a.upload("a.png", PNG, with_meta=False), 400, "PARAM_ERROR", "meta")
    expect_error(await as_a.upload("a.gif", PNG), 400, "PARAM_ERROR", "filename")
    expect_error(await as_a.upload("a.png", PNG, sha256="00" * 32), 400, "PARAM_ERROR", "sha256")
    expect_error(await as_a.upload("a.png", PNG, with_file=False), 400, "PARAM_ERROR", "file")
    expect_error(await as_a.upload("a.png", PNG, meta='{"filename":"a.png"}'), 400, "PARAM_ERROR", "sha256")
    expect_error(await as_a.upload("a.png", PNG, meta="not json"), 400, "PARAM_ERROR")
    plain = await as_a.send("POST", "/v3/merchant-service/images/upload", b"{}", signed="{}")
    expect_error(plain, 400, "PARAM_ERROR")
    assert state.media.upload_count() == 0


def _big_png(size: int) -> bytes:
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + b"\x00" * 17
    return head + b"\x00" * (size - len(head))


async def test_upload_content_checks(state: SimulatorState, as_a: Caller) -> None:
    expect_error(await as_a.upload("renamed.png", GIF), 400, "INVALID_REQUEST")
    expect_error(await as_a.upload("big.png", _big_png(int(2.1 * 1024 * 1024))), 400, "INVALID_REQUEST")
    assert (await as_a.upload("max.png", _big_png(2 * 1024 * 1024))).status_code == 200
    assert state.media.upload_count() == 1


@pytest.fixture
def hooks() -> list[str]:
    return []


@pytest.fixture
async def notifier(state: SimulatorState, hooks: list[str]) -> AsyncIterator[Notifier]:
    async def receive(request: Request) -> Response:
        hooks.append(str(request.url))
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver)) as client:
        yield Notifier(state, client=client)


async def test_callback_url_lifecycle_drives_the_notifier(
    state: SimulatorState, as_a: Caller, notifier: Notifier, hooks: list[str], platform: PlatformKeys
) -> None:
    state.set_notify_url(MCH_A, None)
    missing = await as_a.get(NOTIFICATIONS)
    assert expect_error(missing, 400, "RESOURCE_NOT_EXISTS")["message"] == "查询的通知回调不存在"
    expect_error(await as_a.put(NOTIFICATIONS, {"url": "https://a.example/x"}), 400, "RESOURCE_NOT_EXISTS")
    expect_error(await as_a.delete(NOTIFICATIONS), 400, "RESOURCE_NOT_EXISTS")

    created = await as_a.post(NOTIFICATIONS, {"url": "https://desk.example/wx/one"})
    assert created.status_code == 200 and created.json() == {
        "mchid": MCH_A,
        "url": "https://desk.example/wx/one",
    }
    verify_response(created, platform)
    exists = await as_a.post(NOTIFICATIONS, {"url": "https://desk.example/wx/two"})
    assert expect_error(exists, 400, "INVALID_REQUEST")["message"] == "回调地址已存在"
    queried = await as_a.get(NOTIFICATIONS)
    assert queried.json() == {"mchid": MCH_A, "url": "https://desk.example/wx/one"}
    verify_response(queried, platform)
    state.create_complaint(MCH_A)
    await notifier.deliver_pending()

    updated = await as_a.put(NOTIFICATIONS, {"url": "https://desk.example/wx/two"})
    assert updated.status_code == 200 and updated.json()["url"] == "https://desk.example/wx/two"
    state.create_complaint(MCH_A)
    await notifier.deliver_pending()
    assert hooks == ["https://desk.example/wx/one", "https://desk.example/wx/two"]

    expect_signed_204(await as_a.delete(NOTIFICATIONS), platform)
    assert state.notify_url(MCH_A) is None
    expect_error(await as_a.get(NOTIFICATIONS), 400, "RESOURCE_NOT_EXISTS")
    assert state.stats.applied["notify_url_create"] == state.stats.applied["notify_url_delete"] == 1


@pytest.mark.parametrize(
    "value", ["http://desk.example/wx", "https://desk.example/" + "x" * 240, "desk.example/wx", "", 42]
)
async def test_callback_url_must_be_https_and_short(
    state: SimulatorState, as_a: Caller, value: object
) -> None:
    state.set_notify_url(MCH_A, None)
    expect_error(await as_a.post(NOTIFICATIONS, {"url": value}), 400, "PARAM_ERROR", "url")
    assert state.notify_url(MCH_A) is None


async def test_callback_options_http_and_404(
    platform: PlatformKeys, clock: ManualClock, merchant_a: MerchantCredentials, provider: MerchantCredentials
) -> None:
    state = SimulatorState(platform=platform, clock=clock, allow_http_callbacks=True, not_found_status=404)
    state.register_merchant(merchant_a, notify_url="http://127.0.0.1:9/set-in-python")  # never checked
    state.register_merchant(provider, sub_mchids=[SUB_1])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url=API) as api:
        as_sp = Caller(api, provider, clock)
        expect_error(await as_sp.get(NOTIFICATIONS), 404, "RESOURCE_NOT_EXISTS")
        created = await as_sp.post(NOTIFICATIONS, {"url": "http://desk.test/webhooks/sp"})
        assert created.status_code == 200 and created.json()["mchid"] == SP
        assert state.notify_url(SP) == "http://desk.test/webhooks/sp"
        assert state.notify_url(MCH_A) == "http://127.0.0.1:9/set-in-python"
