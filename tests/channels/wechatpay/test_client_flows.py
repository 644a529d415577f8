"""Tier 2: paging, certificate download, image download and the channel adapter (MockTransport)."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from complaintdesk.channels.base import ChannelAdapter, UnifiedStatus
from complaintdesk.channels.wechatpay.channel import WeChatPayChannel, split_window
from complaintdesk.channels.wechatpay.crypto import VerifierKeys
from complaintdesk.errors import ResponseVerificationError
from complaintdesk.settings import WeChatPaySettings

from .fakes import NOW, PLATFORM_SERIAL, PLATFORM_SERIAL_INT, make_client, signed
from .keys import (
    APIV3_KEY,
    PUB_KEY_ID,
    aead_seal,
    certificate_pem,
    oaep_encrypt,
    public_pem,
    rsa_key,
    rsa_verify,
    serial_hex,
)
from .samples import complaint_doc, history_doc

pytestmark = pytest.mark.anyio


class FakeComplaintsAPI:
    """Answers list/detail/history from in-memory documents, slicing pages like the spec describes."""

    def __init__(self, complaints: list[dict[str, Any]], history: list[dict[str, Any]] | None = None) -> None:
        self.complaints = complaints
        self.history = history or []
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        self.queries.append(query | {"path": request.url.path})
        path = request.url.path
        if path.endswith("/negotiation-historys"):
            return signed(self._page(self.history, query))
        if path == "/v3/merchant-service/complaints-v2":
            return signed(self._page(self.complaints, query))
        complaint_id = path.rsplit("/", 1)[1]
        doc = next(c for c in self.complaints if c["complaint_id"] == complaint_id)
        return signed(doc)

    @staticmethod
    def _page(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        limit, offset = int(query["limit"]), int(query["offset"])
        page: dict[str, Any] = {"data": items[offset : offset + limit], "limit": limit, "offset": offset}
        if offset == 0:
            page["total_count"] = len(items)
        return page


def _complaints(n: int) -> list[dict[str, Any]]:
    return [complaint_doc(complaint_id=f"2002018202001010800766{i:05d}") for i in range(n)]


@pytest.mark.parametrize(("count", "offsets"), [(5, [0, 2, 4]), (4, [0, 2]), (0, [0]), (1, [0])])
async def test_iter_complaints_pages_until_done(count: int, offsets: list[int]) -> None:
    api = FakeComplaintsAPI(_complaints(count))
    async with make_client(api, settings=WeChatPaySettings(list_page_size=2)) as client:
        ids = [
            c.complaint_id
            async for c in client.iter_complaints(begin_date=date(2024, 1, 1), end_date=date(2024, 1, 31))
        ]
    assert ids == [c["complaint_id"] for c in api.complaints]
    assert [int(q["offset"]) for q in api.queries] == offsets


async def test_iter_complaints_without_total_stops_on_short_page() -> None:
    docs = _complaints(5)

    def handler(request: httpx.Request) -> httpx.Response:
        query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        offset = int(query["offset"])
        return signed({"data": docs[offset : offset + 2], "limit": 2, "offset": offset})

    async with make_client(handler, settings=WeChatPaySettings(list_page_size=2)) as client:
        found = [
            c async for c in client.iter_complaints(begin_date=date(2024, 1, 1), end_date=date(2024, 1, 2))
        ]
        assert client.stats["list"] == 3
    assert len(found) == 5


async def test_iter_history_all_pages_and_dedupe() -> None:
    history = [history_doc(log_id=f"L{i}") for i in range(5)] + [history_doc(log_id="L4")]
    api = FakeComplaintsAPI(_complaints(1), history)
    async with make_client(api, settings=WeChatPaySettings(history_page_size=2)) as client:
        entries = await client.iter_history("x")
    assert [e.log_id for e in entries] == ["L0", "L1", "L2", "L3", "L4"]
    assert [q["limit"] for q in api.queries] == ["2", "2", "2"]
    assert api.queries[0]["path"] == "/v3/merchant-service/complaints-v2/x/negotiation-historys"


def _certificates_doc(*names_serials: tuple[str, int], apiv3_key: bytes = APIV3_KEY) -> dict[str, Any]:
    data = []
    for name, serial in names_serials:
        nonce = "certnonce123"
        data.append(
            {
                "serial_no": serial_hex(serial),
                "effective_time": "2024-01-01T00:00:00+08:00",
                "expire_time": "2029-01-01T00:00:00+08:00",
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": aead_seal(
                        apiv3_key, certificate_pem(name, serial), associated_data="certificate", nonce=nonce
                    ),
                },
            }
        )
    return {"data": data}


async def test_first_certificate_download_trusts_cert_from_the_list() -> None:
    doc = _certificates_doc(("platform2", 0xABCDEF))
    verifier = VerifierKeys()
    reply = signed(doc, key="platform2", serial="ABCDEF")
    async with make_client(lambda r: reply, verifier=verifier) as client:
        certificates = await client.download_certificates()
        assert client.stats["certificates"] == 1
    assert [c.serial_no for c in certificates] == ["ABCDEF"]
    assert certificates[0].pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert certificates[0].expire_time is not None
    assert verifier.serials() == ["ABCDEF"]


async def test_rotation_keeps_old_and_adds_new() -> None:
    doc = _certificates_doc(("platform2", 0xABCDEF), ("platform", PLATFORM_SERIAL_INT))
    async with make_client(lambda r: signed(doc)) as client:
        await client.download_certificates()
        assert client.credentials.verifier.serials() == sorted(["ABCDEF", PLATFORM_SERIAL])


@pytest.mark.parametrize(
    "reply",
    [
        lambda: signed(_certificates_doc(("platform2", 0xABCDEF)), key="attacker", serial="ABCDEF"),
        lambda: signed(_certificates_doc(("platform2", 0xABCDEF)), key="attacker", serial="FEED"),
        lambda: signed(
            _certificates_doc(("platform2", 0xABCDEF), apiv3_key=b"W" * 32), key="platform2", serial="ABCDEF"
        ),
        lambda: signed(_certificates_doc(("platform2", 0xABCDEF)) | {"extra": 1}, ts=NOW - 400),
        lambda: httpx.Response(200, json=_certificates_doc(("platform2", 0xABCDEF))),
    ],
)
async def test_certificate_download_refusals_add_nothing(reply: Any) -> None:
    verifier = VerifierKeys()
    async with make_client(lambda r: reply(), verifier=verifier) as client:
        with pytest.raises(ResponseVerificationError):
            await client.download_certificates()
    assert verifier.serials() == []


async def test_certificate_serial_mismatch_is_refused() -> None:
    doc = _certificates_doc(("platform2", 0xABCDEF))
    doc["data"][0]["serial_no"] = "123456"
    async with make_client(
        lambda r: signed(doc, key="platform2", serial="ABCDEF"), verifier=VerifierKeys()
    ) as client:
        with pytest.raises(ResponseVerificationError, match="does not match"):
            await client.download_certificates()


MEDIA_URL = "https://api.mch.weixin.qq.com/v3/merchant-service/images/Zm9v%2FYmFy%2Bcw%3D%3D"


def _image_handler(seen: list[httpx.Request]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\xff\xd8\xff\xe0JPEG", headers={"Content-Type": "image/jpeg"})

    return handler


def _signed_path(request: httpx.Request) -> str:
    """Check the Authorization signature covers the escaped path as sent; return that path."""
    fields = dict(part.split("=", 1) for part in request.headers["Authorization"].split(" ", 1)[1].split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}
    path = request.url.raw_path.decode()
    message = f"GET\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n\n"
    rsa_verify(rsa_key("merchant"), message.encode(), fields["signature"])
    return path


async def test_download_image_keeps_escapes_and_skips_verification() -> None:
    seen: list[httpx.Request] = []
    async with make_client(_image_handler(seen)) as client:
        content, content_type = await client.download_image(MEDIA_URL)
        assert client.stats["image"] == 1
    assert (content, content_type) == (b"\xff\xd8\xff\xe0JPEG", "image/jpeg")
    assert seen[0].url.host == "api.mch.weixin.qq.com"
    assert _signed_path(seen[0]) == "/v3/merchant-service/images/Zm9v%2FYmFy%2Bcw%3D%3D"


async def test_download_image_against_a_sandbox_base_url() -> None:
    seen: list[httpx.Request] = []
    async with make_client(_image_handler(seen), base_url="http://sandbox.test/wx") as client:
        await client.download_image(MEDIA_URL)
        await client.download_image("/v3/merchant-service/images/a%2Fb")
    assert [str(r.url) for r in seen] == [
        "http://sandbox.test/wx/v3/merchant-service/images/Zm9v%2FYmFy%2Bcw%3D%3D",
        "http://sandbox.test/wx/v3/merchant-service/images/a%2Fb",
    ]
    assert _signed_path(seen[0]) == "/wx/v3/merchant-service/images/Zm9v%2FYmFy%2Bcw%3D%3D"


async def test_download_image_refuses_foreign_hosts() -> None:
    async with make_client(_image_handler([])) as client:
        with pytest.raises(ValueError):
            await client.download_image("https://evil.example/v3/merchant-service/images/x")
        with pytest.raises(ValueError):
            await client.download_image("http://api.mch.weixin.qq.com/v3/merchant-service/images/x")


async def test_public_key_mode_request_and_response() -> None:
    seen: list[httpx.Request] = []
    verifier = VerifierKeys()
    verifier.add_public_key(PUB_KEY_ID, public_pem(rsa_key("pubkey")))

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return signed(complaint_doc(), key="pubkey", serial=PUB_KEY_ID)

    async with make_client(handler, verifier=verifier, prefer_public_key_id=PUB_KEY_ID) as client:
        await client.get_complaint("200201820200101080076610000")
    assert seen[0].headers["Wechatpay-Serial"] == PUB_KEY_ID


async def test_channel_fetch_and_history() -> None:
    phone = oaep_encrypt(rsa_key("merchant"), "13800138000")
    doc = complaint_doc(payer_phone=phone, complaint_state="PROCESSING", in_platform_service=True)
    api = FakeComplaintsAPI(
        [doc], [history_doc(), history_doc(log_id="L2", operate_type="MERCHANT_RESPONSE")]
    )
    channel = WeChatPayChannel(make_client(api))
    adapter: ChannelAdapter = channel
    snapshot = await adapter.fetch(doc["complaint_id"])
    assert snapshot.payer_phone == "13800138000"
    assert snapshot.status is UnifiedStatus.IN_PLATFORM
    assert snapshot.history is not None and [e.actor for e in snapshot.history] == ["user", "merchant"]
    assert (await adapter.fetch(doc["complaint_id"], with_history=False)).history is None
    assert [e.external_id for e in await adapter.fetch_history(doc["complaint_id"])] == [
        "300285320210322170000071077",
        "L2",
    ]
    await adapter.aclose()


async def test_channel_list_window_splits_long_windows() -> None:
    api = FakeComplaintsAPI(_complaints(3))
    channel = WeChatPayChannel(make_client(api), complainted_mchid="1900012181")
    snapshots = [s async for s in channel.list_window(date(2024, 1, 1), date(2024, 3, 1))]
    await channel.aclose()
    assert [s.external_id for s in snapshots] == [c["complaint_id"] for c in api.complaints]
    assert all(s.history is None for s in snapshots)
    windows = [(q["begin_date"], q["end_date"]) for q in api.queries]
    assert windows == [
        ("2024-01-01", "2024-01-30"),
        ("2024-01-31", "2024-02-29"),
        ("2024-03-01", "2024-03-01"),
    ]
    assert all(q["complainted_mchid"] == "1900012181" for q in api.queries)


def test_split_window() -> None:
    assert list(split_window(date(2024, 1, 1), date(2024, 1, 1))) == [(date(2024, 1, 1), date(2024, 1, 1))]
    pieces = list(split_window(date(2024, 1, 1), date(2024, 12, 31)))
    assert pieces[0][0] == date(2024, 1, 1) and pieces[-1][1] == date(2024, 12, 31)
    assert all((stop - start).days <= 29 for start, stop in pieces)
    assert all((b[0] - a[1]).days == 1 for a, b in pairwise(pieces))
    with pytest.raises(ValueError):
        list(split_window(date(2024, 1, 2), date(2024, 1, 1)))
