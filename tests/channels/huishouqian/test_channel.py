"""Tier 2: the channel against a stateful fake gateway that checks signatures and signs by itself."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from complaintdesk.channels.base import ActionKind, ActionRequest, ComplaintFacts, UnifiedStatus
from complaintdesk.channels.huishouqian.channel import HuishouqianChannel, split_window
from complaintdesk.errors import ActionRefused, ChannelError, UpstreamNotFound
from complaintdesk.settings import HuishouqianSettings

from .fakes import FakeGateway, make_client, row
from .keys import MERCHANT_NO

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 40
HISTORY = [
    {
        "logId": "L1",
        "operator": "用户",
        "operateTime": "20240301103000",
        "operateType": "USER_CREATE_COMPLAINT",
        "operateDetails": "没充电却扣款",
        "imageList": ["https://media.example/1.png"],
    }
]


def _channel(gateway: FakeGateway, *, agent: bool = False, **settings: int) -> HuishouqianChannel:
    client = make_client(gateway, settings=HuishouqianSettings(**settings))
    return HuishouqianChannel(client, agent=agent, act_type=2)


async def test_fetch_with_history_and_download_its_image() -> None:
    gateway = FakeGateway([row("C1"), row("C2")], {"C1": HISTORY})
    gateway.files["https://media.example/1.png"] = (PNG, "png")
    channel = _channel(gateway)
    snap = await channel.fetch("C1")
    assert snap.external_id == "C1" and snap.status is UnifiedStatus.OPEN
    assert snap.history is not None and [e.external_id for e in snap.history] == ["L1"]
    (url,) = snap.history[0].media_urls
    assert url.startswith("hsq:C1:OPERATION_IMAGE:")
    data, content_type = await channel.download_image(url)
    assert (data, content_type) == (PNG, "image/png")
    assert gateway.calls[0] == (
        "COMPLAINT_QUERY",
        {"limit": 1, "offset": 0, "merchantNo": MERCHANT_NO, "complaintId": "C1"},
    )
    assert gateway.calls[-1] == (
        "COMPLAINT_FILE_DOWNLOAD",
        {"complaintId": "C1", "mediaUrl": "https://media.example/1.png", "mediaType": "OPERATION_IMAGE"},
    )
    with pytest.raises(UpstreamNotFound):
        await channel.fetch("C404")
    with pytest.raises(ChannelError):
        await channel.download_image("https://media.example/1.png")
    await channel.aclose()


async def test_list_window_splits_and_pages() -> None:
    rows = [row(f"A{i:03d}", when="20240105120000") for i in range(7)]
    rows += [row(f"B{i:03d}", when="20240220120000") for i in range(3)]
    rows += [row("OUT", when="20240401120000")]
    gateway = FakeGateway(rows)
    channel = _channel(gateway, query_page_size=3)
    found = [s.external_id async for s in channel.list_window(date(2024, 1, 1), date(2024, 3, 1))]
    assert found == [r["complaintId"] for r in rows[:10]]
    windows = {(b["beginDate"], b["endDate"]) for m, b in gateway.calls}
    assert windows == {
        ("2024-01-01", "2024-01-30"),
        ("2024-01-31", "2024-02-29"),
        ("2024-03-01", "2024-03-01"),
    }
    pages = [(b["beginDate"], b["offset"]) for m, b in gateway.calls if b["beginDate"] == "2024-01-01"]
    assert pages == [("2024-01-01", 0), ("2024-01-01", 3), ("2024-01-01", 6)]  # 7 rows: stops at a short page
    assert all(b["limit"] == 3 for m, b in gateway.calls)


async def test_agent_account_sees_sub_merchants() -> None:
    rows = [
        row("S1", merchant_no="814000000001", agentNo=MERCHANT_NO),
        row("S2", merchant_no="814000000002", agentNo=MERCHANT_NO),
    ]
    gateway = FakeGateway([*rows, row("X", merchant_no="814999999999", agentNo="814999999998")])
    channel = _channel(gateway, agent=True)
    snaps = [s async for s in channel.list_window(date(2024, 3, 1), date(2024, 3, 1))]
    assert [(s.external_id, s.merchant_id) for s in snaps] == [("S1", "814000000001"), ("S2", "814000000002")]
    assert all(b.get("agentMerchantNo") == MERCHANT_NO and "merchantNo" not in b for m, b in gateway.calls)


async def test_reply_with_images_then_complete() -> None:
    gateway = FakeGateway([row("C1")], {"C1": list(HISTORY)})
    channel = _channel(gateway)
    facts = ComplaintFacts(raw_status="PENDING")
    params = channel.validate(ActionKind.REPLY, {"content": "您好，已为您退款", "images": ["a" * 64]}, facts)
    assert channel.image_refs(ActionKind.REPLY, params) == ["a" * 64]
    file_id = await channel.upload_image(PNG, "evidence.png")
    assert file_id == "900000000001" and gateway.uploads == [PNG]
    request = ActionRequest(
        action_id="act-1",
        kind=ActionKind.REPLY,
        external_id="C1",
        merchant_id=MERCHANT_NO,
        params=params,
        requested_at=datetime.now(UTC),
        media_ids={"a" * 64: file_id},
    )
    outcome = await channel.perform(request)
    assert outcome.raw == {"respCode": "130000", "respDesc": "受理成功"}
    assert gateway.calls[-1] == (
        "COMPLAINT_COMMIT_RESPONSE",
        {
            "complaintId": "C1",
            "responseContent": "您好，已为您退款",
            "responseImages": [file_id],
            "actType": 2,
        },
    )
    history = await channel.fetch_history("C1")
    assert channel.applied_in_history(request, history)
    snap = await channel.fetch("C1", with_history=False)
    assert snap.raw_status == "PROCESSING" and snap.history is None
    done = ActionRequest(
        action_id="act-2",
        kind=ActionKind.COMPLETE,
        external_id="C1",
        merchant_id=MERCHANT_NO,
        params={"content": "已处理完毕"},
        requested_at=datetime.now(UTC),
    )
    await channel.perform(done)
    assert gateway.calls[-1] == (
        "COMPLAINT_COMMIT_COMPLETE",
        {"complaintId": "C1", "responseContent": "已处理完毕"},
    )
    assert channel.allowed_actions(ComplaintFacts(raw_status="PROCESSED")) == set()


async def test_perform_refuses_images_not_uploaded_and_bad_uploads() -> None:
    gateway = FakeGateway([row("C1")])
    channel = _channel(gateway)
    request = ActionRequest(
        action_id="a",
        kind=ActionKind.REPLY,
        external_id="C1",
        merchant_id=MERCHANT_NO,
        params={"content": "hi", "images": ["b" * 64]},
        requested_at=datetime.now(UTC),
    )
    with pytest.raises(ActionRefused, match="not uploaded yet"):
        await channel.perform(request)
    with pytest.raises(ActionRefused):
        await channel.upload_image(b"GIF89a....", "a.gif")
    assert gateway.calls == []


def test_split_window() -> None:
    assert list(split_window(date(2024, 1, 1), date(2024, 1, 3), days=2)) == [
        (date(2024, 1, 1), date(2024, 1, 2)),
        (date(2024, 1, 3), date(2024, 1, 3)),
    ]
    with pytest.raises(ValueError):
        list(split_window(date(2024, 1, 2), date(2024, 1, 1), days=2))
