"""COMPLAINT_COMMIT_RESPONSE / COMMIT_COMPLETE / FILE_UPLOAD / FILE_DOWNLOAD and the state machine."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any
from urllib.parse import unquote

import pytest

from complaintdesk.sandbox.huishouqian.state import HuishouqianState

from .conftest import AGENT, MCH_A, MCH_B, SUB_1
from .hsqsign import Gateway

pytestmark = pytest.mark.anyio


def png(width: int, height: int, filler: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    text = chunk(b"tEXt", b"pad\x00" + filler) if filler else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + text
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def upload(gateway: Gateway, data: bytes) -> int:
    file_id: int = (await gateway.ok("COMPLAINT_FILE_UPLOAD", {"img": base64.b64encode(data).decode()}))[
        "fileId"
    ]
    return file_id


async def state_of(gateway: Gateway, cid: str) -> tuple[str, int, int]:
    [doc] = (await gateway.ok("COMPLAINT_QUERY", {"complaintId": cid}))["data"]
    return doc["complaintState"], doc["incomingUserResponse"], doc["userComplaintTimes"]


async def test_state_machine(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    cid = state.create_complaint(MCH_A)
    state.user_message(cid, "请尽快处理")
    assert await state_of(a, cid) == ("PENDING", 1, 1)
    await a.ok("COMPLAINT_COMMIT_RESPONSE", {"complaintId": cid, "responseContent": "您好，正在处理"})
    assert await state_of(a, cid) == ("PROCESSING", 0, 1)
    await a.ok("COMPLAINT_COMMIT_RESPONSE", {"complaintId": cid, "responseContent": "补充说明"})
    assert await state_of(a, cid) == ("PROCESSING", 0, 1)
    await a.ok("COMPLAINT_COMMIT_COMPLETE", {"complaintId": cid, "responseContent": "已退款"})
    assert await state_of(a, cid) == ("PROCESSED", 0, 1)
    again = await a.error("COMPLAINT_COMMIT_COMPLETE", {"complaintId": cid})
    late = await a.error("COMPLAINT_COMMIT_RESPONSE", {"complaintId": cid, "responseContent": "还在吗"})
    assert again.code == late.code == "130002" and "已处理完成" in late.message
    state.continue_complaint(cid, "问题还是没有解决")
    assert await state_of(a, cid) == ("PENDING", 1, 2)
    actions = [(e["operateType"], e["operateDetails"]) for e in state.merchant_actions(cid, api_only=True)]
    assert actions == [
        ("MERCHANT_RESPONSE", "您好，正在处理"),
        ("MERCHANT_RESPONSE", "补充说明"),
        ("MERCHANT_CONFIRM_COMPLETE", "已退款"),
    ]
    assert state.stats.applied == {"commitResponse": 2, "commitComplete": 1}


async def test_complete_straight_from_pending(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    cid = state.create_complaint(MCH_A)
    await gw[MCH_A].ok("COMPLAINT_COMMIT_COMPLETE", {"complaintId": cid})
    assert state.get(cid).state == "PROCESSED"
    assert state.history(cid)[-1]["operateDetails"] == "商户已处理完成"


async def test_reply_validation(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    a, b = gw[MCH_A], gw[MCH_B]
    cid = state.create_complaint(MCH_A)
    mine = [await upload(a, png(2, 2)) for _ in range(5)]
    theirs = await upload(b, png(2, 2))
    refused: list[tuple[dict[str, Any], str]] = [
        ({"responseContent": "长" * 201}, "130002"),
        ({"responseContent": ""}, "130002"),
        ({"responseContent": "   "}, "130002"),
        ({"responseContent": 12}, "130002"),
        ({"responseContent": "好", "responseImages": mine}, "130009"),
        ({"responseContent": "好", "responseImages": [str(theirs)]}, "130002"),
        ({"responseContent": "好", "responseImages": ["123"]}, "130002"),
        ({"responseContent": "好", "responseImages": "123"}, "130002"),
        ({"responseContent": "好", "actType": "reply"}, "130002"),
    ]
    for content, code in refused:
        answer = await a.error("COMPLAINT_COMMIT_RESPONSE", {"complaintId": cid, **content})
        assert answer.code == code, content
    too_many = {"complaintId": cid, "responseContent": "好", "responseImages": mine}
    assert (await a.error("COMPLAINT_COMMIT_RESPONSE", too_many)).message == "回复上传图片不能超过四张"
    assert state.get(cid).state == "PENDING" and state.merchant_actions(cid) == []
    await a.ok(
        "COMPLAINT_COMMIT_RESPONSE",
        {"complaintId": cid, "responseContent": "长" * 200, "responseImages": mine[:4]},
    )
    [entry] = state.merchant_actions(cid)
    assert len(entry["imageList"]) == 4
    assert state.get(cid).history[-1].act_type is None


async def test_upload_then_reply_then_download_round_trip(
    state: HuishouqianState, gw: dict[str, Gateway]
) -> None:
    a = gw[MCH_A]
    cid = state.create_complaint(MCH_A)
    image = png(8, 8)
    file_id = await upload(a, image)
    assert isinstance(file_id, int) and file_id > 2**32
    data_uri = await a.ok(
        "COMPLAINT_FILE_UPLOAD", {"img": "data:image/png;base64," + base64.b64encode(image).decode()}
    )
    assert data_uri["fileId"] != file_id
    content = {"complaintId": cid, "responseContent": "请查看凭证", "responseImages": [file_id], "actType": 2}
    await a.ok("COMPLAINT_COMMIT_RESPONSE", content)
    assert state.get(cid).history[-1].act_type == 2
    history = await a.ok("COMPLAINT_QUERY_HISTORY", {"complaintId": cid})
    [url] = history["data"][-1]["imageList"]
    got = await a.ok(
        "COMPLAINT_FILE_DOWNLOAD", {"complaintId": cid, "mediaUrl": url, "mediaType": "OPERATION_IMAGE"}
    )
    assert base64.b64decode(got["bytes"]) == image and got["suffix"] == "png"
    unescaped = await a.error("COMPLAINT_FILE_DOWNLOAD", {"complaintId": cid, "mediaUrl": unquote(url)})
    assert unescaped.code == "130002"
    other = state.create_complaint(MCH_A)
    wrong = await a.error("COMPLAINT_FILE_DOWNLOAD", {"complaintId": other, "mediaUrl": url})
    assert wrong.code == "130002"
    no_url = await a.error("COMPLAINT_FILE_DOWNLOAD", {"complaintId": cid})
    assert no_url.code == "130002"
    assert (
        await gw[MCH_B].error("COMPLAINT_FILE_DOWNLOAD", {"complaintId": cid, "mediaUrl": url})
    ).code == "130004"


async def test_upload_limits(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    limit = 2 * 1024 * 1024
    just_fits = png(1, 1, filler=b"x" * (limit - len(png(1, 1, filler=b"x")) + 1))
    assert len(just_fits) == limit
    await upload(a, just_fits)
    too_big = await a.error("COMPLAINT_FILE_UPLOAD", {"img": base64.b64encode(just_fits + b"\x00").decode()})
    assert (too_big.code, too_big.message) == ("130007", "文件大小超限")
    gif = await a.error("COMPLAINT_FILE_UPLOAD", {"img": base64.b64encode(b"GIF89a" + bytes(20)).decode()})
    assert (gif.code, gif.message) == ("130008", "文件类型不合法")
    for img in ("not base64!", "", 42):
        assert (await a.error("COMPLAINT_FILE_UPLOAD", {"img": img})).code == "130002", img
    assert state.media.upload_count() == 1
    jpeg, bmp = b"\xff\xd8\xff\xe0" + bytes(32), b"BM" + bytes(32)
    assert state.media.upload(await upload(a, jpeg)) is not None
    cid = state.create_complaint(MCH_A)
    await a.ok("COMPLAINT_COMMIT_COMPLETE", {"complaintId": cid, "responseImages": [await upload(a, bmp)]})
    [url] = state.history(cid)[-1]["imageList"]
    got = await a.ok("COMPLAINT_FILE_DOWNLOAD", {"complaintId": cid, "mediaUrl": url})
    assert (base64.b64decode(got["bytes"]), got["suffix"]) == (bmp, "bmp")


async def test_agent_acts_for_its_merchant(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    cid = state.create_complaint(SUB_1)
    agent = gw[AGENT]
    file_id = await upload(agent, png(2, 2))
    await agent.ok(
        "COMPLAINT_COMMIT_RESPONSE",
        {"complaintId": cid, "responseContent": "代理商回复", "responseImages": [file_id]},
    )
    assert state.get(cid).state == "PROCESSING"
    assert (await gw[MCH_A].error("COMPLAINT_COMMIT_COMPLETE", {"complaintId": cid})).code == "130004"
    assert (
        await gw[SUB_1].error("COMPLAINT_COMMIT_COMPLETE", {"complaintId": cid, "merchantNo": AGENT})
    ).code == ("130004")
    await gw[SUB_1].ok("COMPLAINT_COMMIT_COMPLETE", {"complaintId": cid, "merchantNo": SUB_1})
    assert state.get(cid).state == "PROCESSED"
