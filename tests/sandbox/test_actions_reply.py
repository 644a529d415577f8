"""Reply and immediate-service reply endpoints of the WeChat Pay simulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from complaintdesk.sandbox.wechatpay.keys import PlatformKeys
from complaintdesk.sandbox.wechatpay.state import SimulatorState

from .actionkit import JPG, PNG, expect_error, expect_signed_204, path_of, url
from .conftest import MCH_A, MCH_B, SP, SUB_1
from .wxsign import Caller, verify_response

pytestmark = pytest.mark.anyio


def _reply(**fields: Any) -> dict[str, Any]:
    return {"complainted_mchid": MCH_A, "response_content": "您好，已为您退款。", **fields}


async def test_reply_moves_pending_to_processing_signed_204_and_no_notification(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(MCH_A)
    state.user_message(cid, "还没收到")
    sent = len(state.notifications)
    expect_signed_204(await as_a.post(url(cid, "response"), _reply()), platform)
    doc = state.complaint(cid)
    assert doc["complaint_state"] == "PROCESSING" and doc["incoming_user_response"] is False
    last = state.history(cid)[-1]
    assert last["operate_type"] == "MERCHANT_RESPONSE" and last["operator"] == "商户"
    assert last["operate_details"] == "您好，已为您退款。" and "complaint_media_list" not in last
    assert len(state.notifications) == sent
    assert state.stats.applied["reply"] == 1 and state.stats.ok["reply"] == 1
    expect_signed_204(await as_a.post(url(cid, "response"), _reply(response_content="再次回复")), platform)
    assert state.complaint(cid)["complaint_state"] == "PROCESSING"
    assert [a["operate_details"] for a in state.merchant_actions(cid)] == ["您好，已为您退款。", "再次回复"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"response_content": None}, "response_content"),
        ({"response_content": ""}, "response_content"),
        ({"response_content": "退" * 201}, "response_content"),
        ({"response_content": "谢谢😀"}, "response_content"),
        ({"response_content": 12}, "response_content"),
        ({"complainted_mchid": None}, "complainted_mchid"),
        ({"response_images": ["nope"] * 5}, "response_images"),
        ({"response_images": ["bm9uZQ/+="]}, "response_images[0]"),
        ({"jump_url": "https://shop.example/c"}, "jump_url_text"),
        ({"jump_url_text": "查看详情"}, "jump_url"),
        (
            {"jump_url": "https://shop.example/c", "jump_url_text": "查看投诉处理进度详情页面"},
            "jump_url_text",
        ),
        ({"jump_url": "http://shop.example/c", "jump_url_text": "查看"}, "jump_url"),
        ({"mini_program_jump_info": {"appid": "wx1", "text": "去看看"}}, "mini_program_jump_info.path"),
        ({"complaint_id": "x"}, "complaint_id"),
    ],
)
async def test_reply_parameter_errors(
    state: SimulatorState, as_a: Caller, fields: dict[str, Any], field: str
) -> None:
    cid = state.create_complaint(MCH_A)
    payload = {k: v for k, v in _reply(**fields).items() if v is not None}
    expect_error(await as_a.post(url(cid, "response"), payload), 400, "PARAM_ERROR", field)
    assert state.merchant_actions(cid) == []
    assert state.complaint(cid)["complaint_state"] == "PENDING"


async def test_reply_body_rules_null_and_json(state: SimulatorState, as_a: Caller) -> None:
    cid = state.create_complaint(MCH_A)
    null = await as_a.post(url(cid, "response"), _reply(jump_url=None))
    expect_error(null, 400, "PARAM_ERROR", "jump_url")
    expect_error(await as_a.post(url(cid, "response"), raw="{not json"), 400, "PARAM_ERROR")
    expect_error(await as_a.post(url(cid, "response"), [1]), 400, "PARAM_ERROR")


async def test_reply_length_limit_is_configurable(
    platform: PlatformKeys, state: SimulatorState, as_a: Caller
) -> None:
    cid = state.create_complaint(MCH_A)
    expect_signed_204(await as_a.post(url(cid, "response"), _reply(response_content="退" * 200)), platform)
    state.reply_max_chars = 500
    expect_signed_204(await as_a.post(url(cid, "response"), _reply(response_content="退" * 500)), platform)


async def test_reply_authorisation(state: SimulatorState, as_a: Caller, as_b: Caller) -> None:
    cid = state.create_complaint(MCH_A)
    foreign = await as_a.post(url(cid, "response"), _reply(complainted_mchid=MCH_B))
    expect_error(foreign, 403, "NO_AUTH")
    other = await as_b.post(url(cid, "response"), _reply(complainted_mchid=MCH_A))
    expect_error(other, 403, "NO_AUTH")
    unknown = await as_a.post(url("200020260310000010000000000", "response"), _reply())
    expect_error(unknown, 404, "RESOURCE_NOT_EXISTS")
    assert state.merchant_actions(cid) == []


async def test_jump_links_need_the_whitelist(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(MCH_A)
    jump = _reply(jump_url="https://shop.example/c/1", jump_url_text="查看进度")
    mini = _reply(mini_program_jump_info={"appid": "wx8888", "path": "pages/c?id=1", "text": "去小程序"})
    expect_error(await as_a.post(url(cid, "response"), jump), 403, "NO_AUTH")
    expect_error(await as_a.post(url(cid, "response"), mini), 403, "NO_AUTH")
    state.jump_url_whitelist.add(MCH_A)
    expect_signed_204(await as_a.post(url(cid, "response"), jump), platform)
    expect_signed_204(await as_a.post(url(cid, "response"), mini), platform)


async def test_service_provider_replies_with_the_sub_merchant_id(
    state: SimulatorState, as_sp: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(SUB_1)
    own = await as_sp.post(url(cid, "response"), _reply(complainted_mchid=SP))
    expect_error(own, 403, "NO_AUTH")
    expect_signed_204(await as_sp.post(url(cid, "response"), _reply(complainted_mchid=SUB_1)), platform)
    assert state.complaint(cid)["complaint_state"] == "PROCESSING"


async def test_reply_to_processed_complaint_is_invalid_request(state: SimulatorState, as_a: Caller) -> None:
    cid = state.create_complaint(MCH_A)
    state.complete(cid)
    response = await as_a.post(url(cid, "response"), _reply())
    expect_error(response, 400, "INVALID_REQUEST")
    assert state.merchant_actions(cid)[-1]["operate_type"] == "MERCHANT_CONFIRM_COMPLETE"


async def test_uploaded_images_in_a_reply_show_in_history_and_download(
    state: SimulatorState, as_a: Caller, as_b: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(MCH_A)
    ids = []
    for name, data in (("a.png", PNG), ("b.jpg", JPG)):
        uploaded = await as_a.upload(name, data)
        assert uploaded.status_code == 200, uploaded.text
        ids.append(uploaded.json()["media_id"])
    foreign = (await as_b.upload("b.png", PNG)).json()["media_id"]
    bad = await as_a.post(url(cid, "response"), _reply(response_images=[ids[0], foreign]))
    expect_error(bad, 400, "PARAM_ERROR", "response_images[1]")
    expect_signed_204(await as_a.post(url(cid, "response"), _reply(response_images=ids)), platform)
    media = state.history(cid)[-1]["complaint_media_list"]
    assert media["media_type"] == "OPERATION_IMAGE" and len(media["media_url"]) == 2
    for media_url, data, kind in zip(
        media["media_url"], (PNG, JPG), ("image/png", "image/jpeg"), strict=True
    ):
        got = await as_a.get(path_of(media_url))
        assert got.status_code == 200 and got.content == data and got.headers["content-type"] == kind
    assert all(m not in "".join(media["media_url"]) for m in ids)  # separate download ids
    own = await as_a.get("/v3/merchant-service/images/" + quote(ids[0], safe=""))
    expect_error(own, 400, "INVALID_REQUEST")
    verify_response(own, platform)


def _message(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"blocks": list(blocks) or [{"type": "TEXT", "text": {"text": "您好"}}], **extra}


def _immediate(message: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    body = {"complainted_mchid": MCH_A, "message": message or _message(), "idempotent_id": "idem-1"}
    return {k: v for k, v in {**body, **fields}.items() if v is not None}


async def test_immediate_reply_returns_the_history_log_id_and_is_idempotent(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(MCH_A, need_immediate_service=True)
    image = (await as_a.upload("x.png", PNG)).json()["media_id"]
    action = {"action_type": "ACTION_TYPE_JUMP_URL", "jump_url": "https://shop.example/refund"}
    message = _message(
        {"type": "TEXT", "text": {"text": "您好，请选择：", "color": "DEFAULT", "is_bold": True}},
        {"type": "IMAGE", "image": {"media_id": image, "image_style_type": "IMAGE_STYLE_TYPE_WIDE"}},
        {"type": "BUTTON_GROUP", "button_group": {"buttons": [{"text": "去退款", "action": action}]}},
        {"type": "FAQ_LIST", "faq_list": {"faqs": [{"faq_id": "1", "faq_title": "多久到账？"}]}},
        sender_identity="MANUAL",
        custom_data="ticket=42",
    )
    first = await as_a.post(url(cid, "response-immediate-service"), _immediate(message))
    assert first.status_code == 200, first.text
    verify_response(first, platform)
    log_id = first.json()["log_id"]
    [entry] = state.merchant_actions(cid)
    assert entry["log_id"] == log_id and entry["operate_type"] == "MERCHANT_RESPONSE"
    assert entry["normal_message"] == message and entry["operate_details"] == "您好，请选择："
    assert entry["complaint_media_list"]["media_type"] == "OPERATION_IMAGE"
    assert state.complaint(cid)["complaint_state"] == "PROCESSING"
    again = await as_a.post(url(cid, "response-immediate-service"), _immediate(message))
    assert again.status_code == 200 and again.json() == {"log_id": log_id}
    assert len(state.merchant_actions(cid)) == 1 and state.stats.applied["immediate_reply"] == 1
    other = await as_a.post(url(cid, "response-immediate-service"), _immediate(idempotent_id="idem-2"))
    assert other.json()["log_id"] != log_id and len(state.merchant_actions(cid)) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_immediate(idempotent_id=None), "idempotent_id"),
        (_immediate(idempotent_id="i" * 129), "idempotent_id"),
        (_immediate(complainted_mchid=None), "complainted_mchid"),
        (_immediate({"blocks": []}), "message.blocks"),
        (_immediate({"sender_identity": "MANUAL"}), "message.blocks"),
        (_immediate(_message({"type": "VIDEO", "text": {"text": "x"}})), "message.blocks[0].type"),
        (_immediate(_message({"type": "TEXT", "link": {"text": "x"}})), "message.blocks[0].text"),
        (
            _immediate(_message({"type": "IMAGE", "image": {"media_id": "a/b+c="}})),
            "message.blocks[0].image.media_id",
        ),
        (_immediate(_message({"type": "LINK", "link": {"text": "看看"}})), "message.blocks[0].link.action"),
        (
            _immediate(
                _message({"type": "BUTTON", "button": {"text": "退", "action": {"action_type": "X"}}})
            ),
            "message.blocks[0].button.action.action_type",
        ),
        (_immediate(_message(sender_identity="ROBOT")), "message.sender_identity"),
        (_immediate(_message({"type": "TEXT", "text": {"text": "🙂"}})), "message.blocks[0].text.text"),
    ],
)
async def test_immediate_reply_parameter_errors(
    state: SimulatorState, as_a: Caller, body: dict[str, Any], field: str
) -> None:
    cid = state.create_complaint(MCH_A, need_immediate_service=True)
    response = await as_a.post(url(cid, "response-immediate-service"), body)
    expect_error(response, 400, "PARAM_ERROR", field)
    assert state.merchant_actions(cid) == []


async def test_immediate_reply_needs_an_immediate_service_complaint(
    state: SimulatorState, as_a: Caller, as_b: Caller
) -> None:
    cid = state.create_complaint(MCH_A)
    expect_error(
        await as_a.post(url(cid, "response-immediate-service"), _immediate()), 400, "INVALID_REQUEST"
    )
    urgent = state.create_complaint(MCH_A, need_immediate_service=True)
    wrong = _immediate(complainted_mchid=MCH_B)
    expect_error(await as_a.post(url(urgent, "response-immediate-service"), wrong), 403, "NO_AUTH")
    expect_error(await as_b.post(url(urgent, "response-immediate-service"), _immediate()), 403, "NO_AUTH")
    state.complete(urgent)
    expect_error(
        await as_a.post(url(urgent, "response-immediate-service"), _immediate()), 400, "INVALID_REQUEST"
    )
