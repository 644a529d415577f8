"""Tier 2: ``WeChatPayChannel`` as an ``ActionChannel`` — validate, upload, perform (MockTransport)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from complaintdesk.channels.base import ActionChannel, ActionKind, ActionRequest, ComplaintFacts, HistoryEntry
from complaintdesk.channels.wechatpay.channel import WeChatPayChannel
from complaintdesk.errors import ActionRefused
from complaintdesk.settings import WeChatPaySettings

from .fakes import make_client, signed, signed_empty

pytestmark = pytest.mark.anyio
CID = "200201820200101080076610000"
SUB = "1900012181"
SHA = "ab" * 32
SHA2 = "cd" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 100
REFUND = ComplaintFacts(raw_status="PROCESSING", problem_type="REFUND", immediate_service=True)


class API:
    """Answers every write with a signed success and records the requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/response-immediate-service"):
            return signed({"log_id": "LOG-1"})
        if path.endswith("/images/upload"):
            return signed({"media_id": "MEDIA-" + str(len(self.requests))})
        if path.startswith("/v3/merchant-service/images/"):
            return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})
        return signed_empty()

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def channel(api: API, **settings: Any) -> WeChatPayChannel:
    return WeChatPayChannel(make_client(api, settings=WeChatPaySettings(**settings)))


def action(
    kind: ActionKind, params: dict[str, Any], media_ids: dict[str, str] | None = None
) -> ActionRequest:
    return ActionRequest(
        action_id="act-42",
        kind=kind,
        external_id=CID,
        merchant_id=SUB,
        params=params,
        requested_at=datetime(2024, 3, 1, tzinfo=UTC),
        media_ids=media_ids or {},
    )


def test_is_an_action_channel() -> None:
    adapter: ActionChannel = channel(API())
    assert adapter.allowed_actions(ComplaintFacts(raw_status="PROCESSED")) == set()


def test_validate_uses_the_configured_reply_length() -> None:
    ch = channel(API(), reply_max_chars=50)
    facts = ComplaintFacts(raw_status="PENDING")
    assert ch.validate(ActionKind.REPLY, {"content": "x" * 50}, facts) == {"content": "x" * 50, "images": []}
    with pytest.raises(ActionRefused, match="51 characters; WeChat Pay accepts at most 50"):
        ch.validate(ActionKind.REPLY, {"content": "x" * 51}, facts)


async def test_upload_image_names_the_file_by_hash() -> None:
    api = API()
    ch = channel(api)
    async with ch.client:
        assert await ch.upload_image(PNG, "我的截图.PNG") == "MEDIA-1"
        with pytest.raises(ActionRefused, match="GIF"):
            await ch.upload_image(b"GIF87a" + PNG, "x.png")
    digest = hashlib.sha256(PNG).hexdigest()
    assert f'"filename":"{digest}.png"'.encode() in api.requests[0].content
    assert len(api.requests) == 1


async def test_perform_reply_maps_images_and_uses_the_complainted_merchant() -> None:
    api = API()
    ch = channel(api)
    params = ch.validate(ActionKind.REPLY, {"content": "已处理", "images": [SHA, SHA2]}, REFUND)
    outcome = await ch.perform(action(ActionKind.REPLY, params, {SHA: "M1", SHA2: "M2"}))
    assert outcome.upstream_ref is None
    assert api.requests[0].url.path == f"/v3/merchant-service/complaints-v2/{CID}/response"
    assert api.body() == {
        "complainted_mchid": SUB,
        "response_content": "已处理",
        "response_images": ["M1", "M2"],
    }


async def test_perform_refuses_images_that_were_not_uploaded() -> None:
    api = API()
    ch = channel(api)
    with pytest.raises(ActionRefused, match="not uploaded") as info:
        await ch.perform(action(ActionKind.REPLY, {"content": "x", "images": [SHA, SHA2]}, {SHA: "M1"}))
    assert info.value.field == "images"
    blocks = [{"type": "IMAGE", "image": SHA}]
    with pytest.raises(ActionRefused, match="not been uploaded"):
        await ch.perform(action(ActionKind.IMMEDIATE_REPLY, {"blocks": blocks}, {}))
    assert api.requests == []


async def test_perform_revalidates_params() -> None:
    api = API()
    with pytest.raises(ActionRefused, match="201 characters"):
        await channel(api).perform(action(ActionKind.REPLY, {"content": "x" * 201}))
    assert api.requests == []


async def test_perform_immediate_reply() -> None:
    api = API()
    ch = channel(api)
    blocks = [
        {"type": "TEXT", "text": {"text": "您好"}},
        {"type": "IMAGE", "image": {"ref": SHA, "image_style_type": "IMAGE_STYLE_TYPE_NARROW"}},
    ]
    params = ch.validate(ActionKind.IMMEDIATE_REPLY, {"blocks": blocks, "sender_identity": "MACHINE"}, REFUND)
    outcome = await ch.perform(action(ActionKind.IMMEDIATE_REPLY, params, {SHA: "M9"}))
    assert outcome.upstream_ref == "LOG-1"
    assert api.body() == {
        "complainted_mchid": SUB,
        "message": {
            "blocks": [
                {"type": "TEXT", "text": {"text": "您好"}},
                {"type": "IMAGE", "image": {"media_id": "M9", "image_style_type": "IMAGE_STYLE_TYPE_NARROW"}},
            ],
            "sender_identity": "MACHINE",
        },
        "idempotent_id": "act-42",
    }


async def test_perform_complete_and_refund_decisions() -> None:
    api = API()
    ch = channel(api)
    await ch.perform(action(ActionKind.COMPLETE, {}))
    assert api.body() == {"complainted_mchid": SUB}
    await ch.perform(action(ActionKind.REFUND_APPROVE, {"launch_refund_day": 2}))
    assert api.body() == {"action": "APPROVE", "launch_refund_day": 2}
    params = ch.validate(ActionKind.REFUND_REJECT, {"reject_reason": "已使用", "reject_media": [SHA]}, REFUND)
    await ch.perform(action(ActionKind.REFUND_REJECT, params, {SHA: "M3"}))
    assert api.body() == {"action": "REJECT", "reject_reason": "已使用", "reject_media_list": ["M3"]}
    assert [r.url.path.rsplit("/", 1)[1] for r in api.requests] == [
        "complete",
        "update-refund-progress",
        "update-refund-progress",
    ]


def test_applied_in_history_delegates() -> None:
    ch = channel(API())
    request = action(ActionKind.COMPLETE, {})
    done = HistoryEntry("L", datetime(2024, 3, 1, 0, 1, tzinfo=UTC), "MERCHANT_CONFIRM_COMPLETE", "merchant")
    assert ch.applied_in_history(request, [done])
    assert not ch.applied_in_history(request, [])
    immediate = action(ActionKind.IMMEDIATE_REPLY, {"blocks": []})
    assert ch.applied_in_history(immediate, [done], known_refs=["L"])


async def test_download_image_delegates() -> None:
    api = API()
    data, content_type = await channel(api).download_image(
        "https://api.mch.weixin.qq.com/v3/merchant-service/images/abc%2Fdef"
    )
    assert (data, content_type) == (PNG, "image/png")
    assert api.requests[0].url.raw_path == b"/v3/merchant-service/images/abc%2Fdef"
