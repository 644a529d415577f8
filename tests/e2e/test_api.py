"""The JSON API: token auth, merchant scoping, filters, media upload."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from tests.e2e.harness import Harness

from complaintdesk.core.tokens import service as token_service
from complaintdesk.sandbox.wechatpay import seed

pytestmark = pytest.mark.anyio


def png(width: int = 2, height: int = 2, padding: int = 0) -> bytes:
    """A valid PNG built here (optionally padded with an ancillary chunk to reach a size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    extra = chunk(b"tEXt", b"c\x00" + b"x" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + extra
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def token(
    wx: Harness,
    name: str,
    accounts: list[str] | None = None,
    *,
    all_accounts: bool = False,
    write: bool = True,
) -> dict[str, str]:
    with wx.ctx.session() as s:
        value, _ = token_service.create(
            session=s, name=name, account_names=accounts or [], all_accounts=all_accounts, can_write=write
        )
    return {"Authorization": f"Bearer {value}"}


async def _seeded(wx: Harness) -> None:
    seed(wx.state, wx.shop.mchid, count=6, days=3)
    wx.state.create_complaint("1900000101", detail="子商户的投诉")
    await wx.deliver()
    await wx.process()


async def test_no_token_a_wrong_token_and_a_revoked_token_are_refused(wx: Harness) -> None:
    assert (await wx.desk.get("/api/v1/complaints")).status_code == 401
    assert (
        await wx.desk.get("/api/v1/complaints", headers={"Authorization": "Bearer cdk_wrong"})
    ).status_code == 401
    headers = token(wx, "ops", all_accounts=True)
    assert (await wx.desk.get("/api/v1/complaints", headers=headers)).status_code == 200
    with wx.ctx.session() as s:
        token_service.revoke(session=s, name="ops")
    answer = await wx.desk.get("/api/v1/complaints", headers=headers)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"


async def test_tokens_see_only_their_merchants(wx: Harness) -> None:
    await _seeded(wx)
    shop = token(wx, "shop-erp", ["shop"])
    provider = token(wx, "sp-erp", ["sp"])
    everyone = token(wx, "ops", all_accounts=True)
    shop_page = (await wx.desk.get("/api/v1/complaints", headers=shop)).json()
    sp_page = (await wx.desk.get("/api/v1/complaints", headers=provider)).json()
    all_page = (await wx.desk.get("/api/v1/complaints", headers=everyone)).json()
    assert shop_page["total"] == 6 and sp_page["total"] == 1 and all_page["total"] == 7
    sub_complaint = sp_page["items"][0]
    assert sub_complaint["merchant_id"] == "1900000101"
    foreign = await wx.desk.get(f"/api/v1/complaints/{sub_complaint['id']}", headers=shop)
    assert foreign.status_code == 404  # not 403: existence is not revealed
    own = await wx.desk.get(f"/api/v1/complaints/{sub_complaint['id']}", headers=provider)
    assert own.status_code == 200 and own.json()["timeline"]


async def test_filters_and_search(wx: Harness) -> None:
    await _seeded(wx)
    headers = token(wx, "ops", all_accounts=True)
    items = (await wx.desk.get("/api/v1/complaints?limit=200", headers=headers)).json()["items"]
    target = items[0]
    detail = (await wx.desk.get(f"/api/v1/complaints/{target['id']}", headers=headers)).json()
    by_id = (await wx.desk.get(f"/api/v1/complaints?q={target['external_id']}", headers=headers)).json()
    assert [i["id"] for i in by_id["items"]] == [target["id"]]
    if detail["orders"]:
        out_trade_no = detail["orders"][0]["out_trade_no"]
        by_order = (await wx.desk.get(f"/api/v1/complaints?q={out_trade_no}", headers=headers)).json()
        assert target["id"] in [i["id"] for i in by_order["items"]]
    open_only = (await wx.desk.get("/api/v1/complaints?status=open", headers=headers)).json()["items"]
    assert all(i["status"] == "open" for i in open_only)
    waiting = (await wx.desk.get("/api/v1/complaints?needs_reply=true", headers=headers)).json()["items"]
    assert all(i["user_message_waiting"] for i in waiting)
    assert (await wx.desk.get("/api/v1/complaints?limit=500", headers=headers)).status_code == 422


async def test_media_upload_checks_content_and_size_and_scopes_downloads(wx: Harness) -> None:
    await _seeded(wx)
    writer = token(wx, "ops", all_accounts=True)
    reader = token(wx, "viewer", ["shop"], write=False)
    ok = await wx.desk.post("/api/v1/media", headers=writer, files={"file": ("a.png", png(), "image/png")})
    assert ok.status_code == 201 and ok.json()["content_type"] == "image/png"
    again = await wx.desk.post("/api/v1/media", headers=writer, files={"file": ("b.png", png(), "image/png")})
    assert again.json()["sha256"] == ok.json()["sha256"]  # stored once
    gif = await wx.desk.post(
        "/api/v1/media", headers=writer, files={"file": ("x.png", b"GIF89a" + b"\0" * 32, "image/png")}
    )
    assert gif.status_code == 422 and "GIF" in gif.json()["message"]
    big = await wx.desk.post(
        "/api/v1/media",
        headers=writer,
        files={"file": ("big.png", png(padding=5 * 1024 * 1024), "image/png")},
    )
    assert big.status_code == 422 and "MB" in big.json()["message"]
    read_only = await wx.desk.post(
        "/api/v1/media", headers=reader, files={"file": ("a.png", io.BytesIO(png()), "image/png")}
    )
    assert read_only.status_code == 403
    assert (await wx.desk.get(ok.json()["url"], headers=writer)).content == png()
    assert (
        await wx.desk.get(ok.json()["url"], headers=reader)
    ).status_code == 404  # used by no complaint it can see


async def test_openapi_describes_the_api(wx: Harness) -> None:
    schema = (await wx.desk.get("/openapi.json")).json()
    for path in (
        "/api/v1/complaints",
        "/api/v1/complaints/{complaint_id}",
        "/api/v1/complaints/{complaint_id}/actions",
        "/api/v1/actions/{action_id}",
        "/api/v1/media",
    ):
        assert path in schema["paths"], path
    assert "/webhooks/wechatpay/{account}" not in schema["paths"]
