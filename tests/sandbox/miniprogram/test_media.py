"""/cgi-bin/media/upload and the 3-day life of a media_id."""

from __future__ import annotations

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.miniprogram import AppCredentials, MiniProgramState

from .conftest import GIF, JPEG, PNG
from .miniclient import MiniClient

pytestmark = pytest.mark.anyio


async def test_upload_and_use_in_a_response(
    mp: MiniClient,
    http: httpx.AsyncClient,
    state: MiniProgramState,
    creds: AppCredentials,
    clock: ManualClock,
) -> None:
    uploaded = await mp.upload(PNG)
    assert uploaded["type"] == "image" and uploaded["created_at"] == int(clock.now().timestamp())
    media_id = uploaded["media_id"]
    assert len(media_id) == 64
    cid = state.create_complaint(creds.appid)
    payload = {"complaintOrderId": int(cid), "content": "见图", "mediaIdList": [media_id], "bussiHandle": 1}
    assert (await mp.post("bussiRespondComplaint", payload))["errcode"] == 0
    [url] = (await mp.detail(cid))["item"][-1]["mediaIdList"]
    shown = await http.get(url)
    assert shown.status_code == 200 and shown.content == PNG  # the merchant's own image, as uploaded
    assert state.merchant_actions(cid)[0]["media"] == [media_id]


@pytest.mark.parametrize("data", [JPEG, GIF])
async def test_jpeg_and_gif_are_accepted(mp: MiniClient, data: bytes) -> None:
    assert "media_id" in await mp.upload(data)


async def test_upload_errors(mp: MiniClient) -> None:
    assert (await mp.upload(PNG, kind="voice"))["errcode"] == 40004
    assert (await mp.upload(PNG, field="file"))["errcode"] == 41005
    assert (await mp.upload(b"plain text, not an image"))["errcode"] == 40005
    too_big = PNG + b"\x00" * (2 * 1024 * 1024)
    assert (await mp.upload(too_big))["errcode"] == 40006
    exactly = PNG + b"\x00" * (2 * 1024 * 1024 - len(PNG))
    assert "media_id" in await mp.upload(exactly)


async def test_media_ids_expire_after_three_days(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    media_id = (await mp.upload(PNG))["media_id"]
    clock.advance(3600)
    fresh, edge, stale = (state.create_complaint(creds.appid) for _ in range(3))
    for cid in (fresh, edge, stale):
        state.user_asks_platform(cid)
        state.platform_rules(cid, liable=True)  # 206 for 48 h, appeal window 72 h from now
    clock.advance(46 * 3600)
    ok = {"complaintOrderId": int(fresh), "mediaIdList": [media_id]}
    assert (await mp.post("bussiSupplyRefund", ok))["errcode"] == 0
    clock.advance(25 * 3600 - 1)  # 3 days minus 1 s after the upload
    edge_ok = await mp.post("busiAppeal", {"complaintOrderId": int(edge), "mediaIdList": [media_id]})
    assert edge_ok["errcode"] == 0
    clock.advance(1)
    expired = await mp.post("busiAppeal", {"complaintOrderId": int(stale), "mediaIdList": [media_id]})
    assert expired["errcode"] == 2 and "过期" in expired["errmsg"]  # appeal answers errcode 2
    assert state.get(stale).appeal_state == 401


async def test_expired_media_in_other_actions_is_10001(
    mp: MiniClient, state: MiniProgramState, creds: AppCredentials, clock: ManualClock
) -> None:
    media_id = (await mp.upload(PNG))["media_id"]
    clock.advance(3 * 24 * 3600)
    cid = state.create_complaint(creds.appid)
    answer = await mp.post(
        "bussiRespondComplaint", {"complaintOrderId": int(cid), "mediaIdList": [media_id], "bussiHandle": 1}
    )
    assert answer["errcode"] == 10001 and "过期" in answer["errmsg"]
    assert state.get(cid).status == 201


async def test_media_of_another_app_is_invalid(
    mp: MiniClient, mp_other: MiniClient, state: MiniProgramState, creds: AppCredentials
) -> None:
    foreign = (await mp_other.upload(PNG))["media_id"]
    cid = state.create_complaint(creds.appid)
    answer = await mp.post(
        "bussiRespondComplaint", {"complaintOrderId": int(cid), "mediaIdList": [foreign], "bussiHandle": 1}
    )
    assert answer["errcode"] == 10001 and "无效" in answer["errmsg"]
