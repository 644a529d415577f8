"""The channel as the core uses it: fetch, perform, uploads with a 3-day media id, runtime assembly."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import httpx
import pytest

from complaintdesk.channels.base import AccountConfig, ActionKind, ActionRequest, ComplaintFacts
from complaintdesk.channels.miniprogram import build_runtime
from complaintdesk.channels.miniprogram.channel import MiniProgramChannel
from complaintdesk.channels.miniprogram.errors import is_media_expired
from complaintdesk.channels.miniprogram.token import InMemoryTokenStore
from complaintdesk.channels.miniprogram.webhook import MiniProgramWebhookHandler
from complaintdesk.errors import ActionRefused, ConfigError, InvalidRequest
from complaintdesk.settings import MiniProgramSettings, Settings

from .fakes import NOW, SECRET, Clock, FakeWeChat, RecordingLimiter, make_client
from .samples import detail, xml_event
from .wxref import APPID, ENCODING_AES_KEY, TOKEN, ref_encrypt, signed_query

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
UPLOAD = "/cgi-bin/media/upload"
REFUND = "/wxaapi/minishop/bussiSupplyRefund"


def channel(app: FakeWeChat, clock: Clock, settings: MiniProgramSettings | None = None) -> MiniProgramChannel:
    return MiniProgramChannel(make_client(app, clock=clock, settings=settings), time=clock)


def action(params: dict[str, object], media: dict[str, str] | None = None) -> ActionRequest:
    return ActionRequest(
        "act-1",
        ActionKind.REPLY,
        "1000000123456789",
        APPID,
        params,
        datetime(2024, 4, 25, tzinfo=UTC),
        media or {},
    )


async def test_fetch_and_history() -> None:
    app, clock = FakeWeChat(), Clock()
    mp = channel(app, clock)
    snapshot = await mp.fetch("1000000123456789")
    history = await mp.fetch_history("1000000123456789")
    without = await mp.fetch("1000000123456789", with_history=False)
    await mp.aclose()
    assert snapshot.channel == "miniprogram" and snapshot.merchant_id == APPID
    assert [e.kind for e in history] == ["1", "2"] == [e.kind for e in snapshot.history or []]
    assert without.history is None


async def test_list_window_is_not_supported() -> None:
    mp = channel(FakeWeChat(), Clock())
    with pytest.raises(NotImplementedError, match="no complaint list API"):
        mp.list_window(date(2024, 1, 1), date(2024, 1, 2))
    await mp.aclose()


async def test_perform_supply_refund_in_the_return_flow_sends_the_wire_values() -> None:
    app, clock = FakeWeChat(), Clock()
    app.script[UPLOAD] = [{"type": "image", "media_id": "MEDIA_1", "created_at": int(NOW)}]
    mp = channel(
        app, clock, MiniProgramSettings(accept_return_received_value=1, accept_return_not_received_value=0)
    )
    facts = ComplaintFacts(
        "309", raw=detail(status=309, return_bill={"returnId": "7001", "waybillId": "SF1"})
    )
    params = mp.validate(
        ActionKind.REPLY, {"mp_action": "supply_refund", "images": ["ref1"], "accept_return": False}, facts
    )
    assert mp.image_refs(ActionKind.REPLY, params) == ["ref1"]
    media_id = await mp.upload_image(PNG, "proof.png")
    outcome = await mp.perform(action(params, {"ref1": media_id}))
    await mp.aclose()
    body = json.loads(app.api_requests(REFUND)[0].content)
    assert body == {
        "complaintOrderId": 1000000123456789,
        "content": "",
        "mediaIdList": ["MEDIA_1"],
        "acceptReturn": 0,
        "returnId": 7001,
    }
    assert outcome.raw["mp_action"] == "supply_refund"


async def test_perform_refuses_missing_uploads_and_bad_ids() -> None:
    app, clock = FakeWeChat(), Clock()
    mp = channel(app, clock)
    params = {"mp_action": "supply_proof", "content": "", "images": ["ref1"]}
    with pytest.raises(ActionRefused, match="not uploaded yet"):
        await mp.perform(action(params))
    bad = ActionRequest(
        "a", ActionKind.REPLY, "WX123", APPID, {"mp_action": "appeal", "content": "x"}, datetime.now(UTC)
    )
    with pytest.raises(ActionRefused, match="not a numeric complaintOrderId"):
        await mp.perform(bad)
    with pytest.raises(ActionRefused, match="go together"):
        await mp.perform(action({"mp_action": "supply_refund", "content": "x", "accept_return": True}))
    await mp.aclose()
    assert [r for r in app.requests if r.url.path != "/cgi-bin/stable_token"] == []


async def test_uploads_are_reused_within_the_ttl_and_redone_after_it() -> None:
    app, clock = FakeWeChat(), Clock()
    app.script[UPLOAD] = [
        {"media_id": "M1", "created_at": int(NOW)},
        {"media_id": "M2", "created_at": int(NOW) + 10**6},
    ]
    mp = channel(app, clock, MiniProgramSettings(media_id_ttl_seconds=3600))
    assert await mp.upload_image(PNG, "a.png") == "M1"
    clock.now += 3599
    assert await mp.upload_image(PNG, "again.png") == "M1"
    assert mp.media_id_fresh(NOW)
    clock.now += 2
    assert not mp.media_id_fresh(NOW)
    assert await mp.upload_image(PNG, "a.png") == "M2"
    await mp.aclose()
    uploads = app.api_requests(UPLOAD)
    assert len(uploads) == 2
    # upload names are <sha256>.png, never the operator's file name
    assert f'filename="{hashlib.sha256(PNG).hexdigest()}.png"'.encode() in uploads[0].content


async def test_expired_media_is_forgotten_so_the_next_upload_is_fresh() -> None:
    app, clock = FakeWeChat(), Clock()
    app.script[UPLOAD] = [{"media_id": "M1"}, {"media_id": "M2"}]
    app.script["/wxaapi/minishop/bussiSupplyProof"] = [{"errcode": 40007, "errmsg": "invalid media_id"}]
    mp = channel(app, clock)
    media_id = await mp.upload_image(PNG, "a.png")
    with pytest.raises(InvalidRequest) as info:
        await mp.perform(action({"mp_action": "supply_proof", "images": ["r"]}, {"r": media_id}))
    assert is_media_expired(info.value)
    assert await mp.upload_image(PNG, "a.png") == "M2"
    await mp.aclose()


async def test_images_are_checked_before_upload() -> None:
    mp = channel(FakeWeChat(), Clock(), MiniProgramSettings(image_max_bytes=100))
    assert mp.check_image(b"GIF89a" + b"\x00" * 10, "a.gif") == "image/gif"
    assert mp.check_image(b"\xff\xd8\xff" + b"\x00" * 10, "a.jpg") == "image/jpeg"
    with pytest.raises(ActionRefused, match="is a BMP image; the Mini Program accepts only PNG, JPEG or GIF"):
        mp.check_image(b"BM" + b"\x00" * 30, "a.bmp")
    with pytest.raises(ActionRefused, match="accepts at most"):
        mp.check_image(PNG + b"\x00" * 100, "big.png")
    with pytest.raises(ActionRefused, match="empty"):
        await mp.upload_image(b"", "none.png")
    await mp.aclose()


async def test_download_image_only_from_image_hosts() -> None:
    app, clock = FakeWeChat(), Clock()
    mp = channel(app, clock)
    for url in ("http://mmbiz.qpic.cn/a.jpg", "https://evil.example/a.jpg", "https://qpic.cn.evil.example/a"):
        with pytest.raises(ValueError, match="not an https link on a WeChat image host"):
            await mp.download_image(url)
    await mp.aclose()


def account(**options: object) -> AccountConfig:
    secrets = {
        "app_secret": SECRET.encode(),
        "token": TOKEN.encode(),
        "encoding_aes_key": ENCODING_AES_KEY.encode(),
    }
    return AccountConfig(
        id=7,
        name="shop-mp",
        channel="miniprogram",
        kind="merchant",
        merchant_id=APPID,
        api_base_url="http://sandbox.local",
        options=dict(options),
        secrets=secrets,
    )


async def test_build_runtime() -> None:
    seen: list[httpx.Request] = []
    app = FakeWeChat()

    def transport(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return app(request)

    limiter, store = RecordingLimiter(), InMemoryTokenStore()
    runtime = build_runtime(
        account(message_format="json"),
        settings=Settings(),
        limiter=limiter,
        transport=httpx.MockTransport(transport),
        time=lambda: NOW,
        token_store=store,
    )
    assert (runtime.account_id, runtime.name, runtime.channel, runtime.can_list) == (
        7,
        "shop-mp",
        "miniprogram",
        False,
    )
    assert runtime.extra["media_id_ttl_seconds"] == Settings().miniprogram.media_id_ttl_seconds
    assert isinstance(runtime.webhook, MiniProgramWebhookHandler)
    assert (runtime.webhook.mode, runtime.webhook.message_format) == ("safe", "json")
    snapshot = await runtime.adapter.fetch("1000000123456789")
    await runtime.adapter.aclose()
    assert snapshot.external_id == "1000000123456789"
    assert all(str(r.url).startswith("http://sandbox.local/") for r in seen)
    assert limiter.calls[0][0] == f"miniprogram:{APPID}:token"
    assert await store.get(f"miniprogram:{APPID}") is not None
    encrypted = ref_encrypt(xml_event())
    outcome = runtime.webhook.open(
        "POST",
        signed_query(encrypt=encrypted, timestamp=str(int(NOW))),
        {},
        f"<xml><Encrypt>{encrypted}</Encrypt></xml>".encode(),
        NOW,
    )
    assert outcome.notifications[0].external_id == "1000000123456789"


def test_build_runtime_refuses_bad_configuration() -> None:
    kwargs: dict[str, object] = {
        "settings": Settings(),
        "limiter": RecordingLimiter(),
        "transport": None,
        "time": lambda: NOW,
    }
    with pytest.raises(ConfigError, match="option message_mode must be one of plaintext, compatible, safe"):
        build_runtime(account(message_mode="secure"), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="option message_format"):
        build_runtime(account(message_format="yaml"), **kwargs)  # type: ignore[arg-type]
    no_key = AccountConfig(
        7, "shop-mp", "miniprogram", "merchant", APPID, secrets={"app_secret": b"s", "token": b"t"}
    )
    with pytest.raises(ConfigError, match="encoding_aes_key"):
        build_runtime(no_key, **kwargs)  # type: ignore[arg-type]
    plain = AccountConfig(
        7,
        "shop-mp",
        "miniprogram",
        "merchant",
        APPID,
        options={"message_mode": "plaintext"},
        secrets={"app_secret": b"s", "token": b"t"},
    )
    assert build_runtime(plain, **kwargs).webhook.mode == "plaintext"  # type: ignore[arg-type]
    short_key = AccountConfig(
        7,
        "shop-mp",
        "miniprogram",
        "merchant",
        APPID,
        secrets={"app_secret": b"s", "token": b"t", "encoding_aes_key": b"abc"},
    )
    with pytest.raises(ConfigError, match="43 letters and digits"):
        build_runtime(short_key, **kwargs)  # type: ignore[arg-type]
    no_secret = AccountConfig(
        7,
        "shop-mp",
        "miniprogram",
        "merchant",
        APPID,
        options={"message_mode": "plaintext"},
        secrets={"token": b"t"},
    )
    webhook_only = build_runtime(no_secret, **kwargs)  # type: ignore[arg-type]
    assert webhook_only.webhook is not None  # message push works without the AppSecret (issue #15)


async def test_without_app_secret_api_calls_fail_with_a_configuration_error() -> None:
    no_secret = AccountConfig(
        7, "shop-mp", "miniprogram", "merchant", APPID,
        options={"message_mode": "plaintext"}, secrets={"token": b"t"},
    )  # fmt: skip
    runtime = build_runtime(
        no_secret, settings=Settings(), limiter=RecordingLimiter(), transport=None, time=lambda: NOW
    )
    try:
        with pytest.raises(ConfigError, match="app_secret is not set"):
            await runtime.extra["client"].tokens.get()
    finally:
        await runtime.adapter.aclose()
