"""Pushes to the message server: every format and mode, verified and decrypted independently; retries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.miniprogram import (
    AppCredentials,
    MessageFormat,
    MessageMode,
    MiniProgramNotifier,
    MiniProgramState,
)

from . import wxmsg

pytestmark = pytest.mark.anyio


@dataclass
class Got:
    params: dict[str, str]
    body: bytes
    content_type: str


@dataclass
class Receiver:
    """A message server that records each request and answers from a script (default ``success``)."""

    token: str
    script: list[tuple[int, str]] = field(default_factory=list)
    received: list[Got] = field(default_factory=list)

    async def push(self, request: Request) -> Response:
        self.received.append(
            Got(dict(request.query_params), await request.body(), request.headers["content-type"])
        )
        status, text = self.script.pop(0) if self.script else (200, "success")
        return PlainTextResponse(text, status_code=status)

    async def check(self, request: Request) -> Response:
        q = request.query_params
        if wxmsg.sha1_sorted(self.token, q["timestamp"], q["nonce"]) != q["signature"]:
            return PlainTextResponse("bad", status_code=403)
        return PlainTextResponse(q["echostr"])

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/mp/{name}", self.push, methods=["POST"]),
                Route("/mp/{name}", self.check, methods=["GET"]),
            ]
        )


@pytest.fixture
def receiver(creds: AppCredentials) -> Receiver:
    return Receiver(creds.token)


@pytest.fixture
async def notifier(state: MiniProgramState, receiver: Receiver) -> AsyncIterator[MiniProgramNotifier]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app())) as client:
        yield MiniProgramNotifier(state, client, retry_delays=(1, 2))


def opened(got: Got, creds: AppCredentials, fmt: str, mode: str) -> dict[str, Any]:
    """Verify a received push like a careful server would, and return the plaintext message."""
    q = got.params
    assert q["signature"] == wxmsg.sha1_sorted(creds.token, q["timestamp"], q["nonce"])
    assert got.content_type == ("text/xml" if fmt == "xml" else "application/json")
    outer = wxmsg.parse(got.body, fmt)
    if mode == "plaintext":
        assert "encrypt_type" not in q and "msg_signature" not in q and "Encrypt" not in outer
        return outer
    assert q["encrypt_type"] == "aes"
    assert q["msg_signature"] == wxmsg.sha1_sorted(creds.token, q["timestamp"], q["nonce"], outer["Encrypt"])
    message, appid, _pad = wxmsg.decrypt(creds.encoding_aes_key, outer["Encrypt"])
    assert appid == creds.appid
    inner = wxmsg.parse(message, fmt)
    if mode == "safe":
        assert set(outer) == {"ToUserName", "Encrypt"} and outer["ToUserName"] == creds.original_id
    else:
        assert {k: v for k, v in outer.items() if k != "Encrypt"} == inner
    return inner


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
async def test_every_format_and_mode(
    state: MiniProgramState,
    notifier: MiniProgramNotifier,
    receiver: Receiver,
    creds: AppCredentials,
    clock: ManualClock,
    fmt: str,
    mode: str,
) -> None:
    app = state.app(creds.appid)
    app.message_format, app.message_mode = MessageFormat(fmt), MessageMode(mode)
    cid = state.create_complaint(
        creds.appid, type=613, content="少发了<一件>&", images=2, phone_number="13900001111"
    )
    c = state.get(cid)
    assert await notifier.deliver_pending() == 1
    [got] = receiver.received
    assert got.params["openid"] == c.open_id
    assert got.params["timestamp"] == str(int(clock.now().timestamp()))
    msg = opened(got, creds, fmt, mode)
    assert msg["ToUserName"] == creds.original_id and msg["FromUserName"] == c.open_id
    assert msg["MsgType"] == "event" and msg["Event"] == "complaint_callback"
    if fmt == "xml":
        info = msg["BussiCallBackInfo"]
        assert int(msg["CreateTime"]) == int(clock.now().timestamp())
        assert info["complaint_order_id"] == cid and info["status"] == "201" and info["type"] == "613"
        assert info["option_type"] == "1"
        [history] = info["history"]
    else:
        info = msg  # flat JSON (SKIT); the single history entry arrives as an object
        assert msg["CreateTime"] == int(clock.now().timestamp())
        assert info["complaint_order_id"] == cid and info["status"] == 201 and info["type"] == 613
        assert info["option_type"] == 1
        history = info["history"]
    assert info["appid"] == creds.appid and info["open_id"] == c.open_id
    assert info["customer_material_content"] == "少发了<一件>&" == history["content"]
    assert str(info["phone_number"]) == "13900001111" and str(info["total_cost"]) == "9900"
    assert c.expire_time is not None and str(info["expire_time"]) == str(int(c.expire_time.timestamp()))
    assert len(info["customer_material_media_id_list"].split(",")) == 2
    assert state.pushes[0].delivered and state.pushes[0].answers == [200]


async def test_json_without_quirks_and_nested(
    state: MiniProgramState, notifier: MiniProgramNotifier, receiver: Receiver, creds: AppCredentials
) -> None:
    app = state.app(creds.appid)
    app.message_format, app.message_mode, app.json_quirks = MessageFormat.JSON, MessageMode.PLAINTEXT, False
    cid = state.create_complaint(creds.appid)
    await notifier.deliver_pending()
    flat = json.loads(receiver.received[-1].body)
    assert flat["complaint_order_id"] == int(cid) and isinstance(flat["history"], list)
    app.json_layout = "nested"
    state.user_message(cid, "还在吗")
    await notifier.deliver_pending()
    nested = json.loads(receiver.received[-1].body)
    assert "complaint_order_id" not in nested
    info = nested["BussiCallBackInfo"]
    assert info["complaint_order_id"] == int(cid) and info["option_type"] == 2
    assert [h["content"] for h in info["history"]] == [state.get(cid).content, "还在吗"]


async def test_xml_repeats_history_elements(
    state: MiniProgramState, notifier: MiniProgramNotifier, receiver: Receiver, creds: AppCredentials
) -> None:
    state.app(creds.appid).message_mode = MessageMode.PLAINTEXT
    cid = state.create_complaint(creds.appid, push=False)
    state.user_message(cid, "第二条", images=1)
    await notifier.deliver_pending()
    info = wxmsg.xml_fields(receiver.received[0].body)["BussiCallBackInfo"]
    assert [h["content"] for h in info["history"]] == [state.get(cid).content, "第二条"]
    assert info["history"][1]["media_id_list"].startswith("https://api.weixin.qq.com/sandbox/cdn/")


async def test_retries_until_success(
    state: MiniProgramState,
    notifier: MiniProgramNotifier,
    receiver: Receiver,
    creds: AppCredentials,
    clock: ManualClock,
) -> None:
    receiver.script = [(500, ""), (200, "fail")]
    state.create_complaint(creds.appid)
    created = state.pushes[0].create_time
    assert await notifier.deliver_pending() == 1
    assert await notifier.deliver_pending() == 0  # not due yet
    clock.advance(1)
    assert await notifier.deliver_pending() == 1
    clock.advance(2)
    assert await notifier.deliver_pending() == 1
    clock.advance(60)
    assert await notifier.deliver_pending() == 0
    [push] = state.pushes
    assert push.answers == [500, 200, 200] and push.delivered
    assert push.replies == [b"", b"fail", b"success"]
    messages = [
        wxmsg.decrypt(creds.encoding_aes_key, wxmsg.xml_fields(g.body)["Encrypt"])[0]
        for g in receiver.received
    ]
    assert len(set(messages)) == 1  # the same message every time
    assert all(wxmsg.xml_fields(m)["CreateTime"] == str(created) for m in messages)
    assert len({g.params["nonce"] for g in receiver.received}) == 3


async def test_three_attempts_then_gives_up(
    state: MiniProgramState,
    notifier: MiniProgramNotifier,
    receiver: Receiver,
    creds: AppCredentials,
    clock: ManualClock,
) -> None:
    receiver.script = [(503, "")] * 10
    state.create_complaint(creds.appid)
    attempts = 0
    for _ in range(6):
        attempts += await notifier.deliver_pending()
        clock.advance(5)
    [push] = state.pushes
    assert attempts == 3 and push.gave_up and not push.delivered and push.answers == [503, 503, 503]


async def test_timeouts_count_as_failures_and_empty_body_is_success(
    state: MiniProgramState, creds: AppCredentials
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ReadTimeout("no answer within 5 s", request=request)
        return httpx.Response(200, content=b"")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        notifier = MiniProgramNotifier(state, client, retry_delays=(0, 0))
        state.create_complaint(creds.appid)
        total = 0
        for _ in range(4):
            total += await notifier.deliver_pending()
    [push] = state.pushes
    assert total == 3 and push.answers == [None, None, 200] and push.delivered


async def test_duplicates_other_events_and_drops(
    state: MiniProgramState, notifier: MiniProgramNotifier, receiver: Receiver, creds: AppCredentials
) -> None:
    state.faults.duplicate_rate = 1.0
    state.create_complaint(creds.appid)
    assert await notifier.deliver_pending() == 2
    first, second = (
        wxmsg.decrypt(creds.encoding_aes_key, wxmsg.xml_fields(g.body)["Encrypt"])[0]
        for g in receiver.received
    )
    assert first == second and receiver.received[0].params["nonce"] != receiver.received[1].params["nonce"]
    state.faults.duplicate_rate = 0.0
    state.other_event_rate = 1.0
    state.create_complaint(creds.appid)
    state.push_event(creds.appid, "weapp_audit_success")
    await notifier.deliver_pending()
    events = [
        wxmsg.xml_fields(wxmsg.decrypt(creds.encoding_aes_key, wxmsg.xml_fields(g.body)["Encrypt"])[0])[
            "Event"
        ]
        for g in receiver.received[2:]
    ]
    assert events.count("complaint_callback") == 1 and len(events) == 3
    assert "weapp_audit_success" in events
    state.other_event_rate = 0.0
    state.faults.drop_notification_rate = 1.0
    before = len(receiver.received)
    state.create_complaint(creds.appid)
    assert await notifier.deliver_pending() == 0 and len(receiver.received) == before
    assert state.pushes[-1].dropped


async def test_deadline_pushes_carry_the_deadline_time(
    state: MiniProgramState,
    notifier: MiniProgramNotifier,
    receiver: Receiver,
    creds: AppCredentials,
    clock: ManualClock,
) -> None:
    cid = state.create_complaint(creds.appid, push=False)
    deadline = int(state.get(cid).expire_time.timestamp())  # type: ignore[union-attr]
    clock.advance(50 * 3600)
    await notifier.deliver_pending()
    [got] = receiver.received
    msg = wxmsg.xml_fields(wxmsg.decrypt(creds.encoding_aes_key, wxmsg.xml_fields(got.body)["Encrypt"])[0])
    assert msg["CreateTime"] == str(deadline)
    assert msg["BussiCallBackInfo"]["status"] == "202" and msg["BussiCallBackInfo"]["option_type"] == "2"


async def test_url_check_and_run_until_stopped(
    state: MiniProgramState, receiver: Receiver, creds: AppCredentials, other_creds: AppCredentials
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app())) as client:
        notifier = MiniProgramNotifier(state, client, poll_interval=0.01)
        assert await notifier.verify_url(creds.appid)
        assert not await notifier.verify_url(other_creds.appid)  # receiver knows only the first token
        stop = asyncio.Event()
        task = asyncio.create_task(notifier.run(stop))
        state.create_complaint(creds.appid)
        for _ in range(200):
            if receiver.received:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 2)
    assert len(receiver.received) == 1 and state.pushes[0].delivered
