"""Notification delivery, received by a small independent Starlette app that verifies each one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.huishouqian.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.huishouqian.notifier import HuishouqianNotifier
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

from .conftest import AGENT, MCH_A, MCH_C, SUB_1, SUB_2
from .hsqsign import cert_key, cfca_open, hex_verifies, sign_text

pytestmark = pytest.mark.anyio


@dataclass
class Received:
    path: str
    fields: dict[str, str]
    verified: bool
    content: dict[str, str]


@dataclass
class Receiver:
    """Merchant endpoints: verify with the platform certificate and the path's sign key; answer by script."""

    platform: PlatformKeys
    keys: dict[str, MerchantCredentials]
    script: list[tuple[int, str]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        form = await request.form()
        fields = {k: str(v) for k, v in form.items()}
        merchant = self.keys[fields["merchantNo"]]
        public = cert_key(self.platform.certificate_pem)
        if merchant.sign_type == "CFCA":
            verified, text = fields["sign"] == "", cfca_open(public, fields["signContent"])
        else:
            verified = hex_verifies(public, sign_text(fields, merchant.sign_key), fields["sign"])
            text = fields["signContent"]
        self.received.append(Received(request.url.path, fields, verified, json.loads(text)))
        status, body = self.script.pop(0) if self.script else (200, "SUCCESS")
        return PlainTextResponse(body, status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/cb/{name}", self.handle, methods=["POST"])])


@pytest.fixture
def receiver(platform: PlatformKeys, creds: dict[str, MerchantCredentials]) -> Receiver:
    return Receiver(platform, creds)


@pytest.fixture
async def notifier(state: HuishouqianState, receiver: Receiver) -> AsyncIterator[HuishouqianNotifier]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app())) as client:
        yield HuishouqianNotifier(state, client, retry_delays=(1, 2))


async def test_notification_wire_format_verifies(
    state: HuishouqianState, notifier: HuishouqianNotifier, receiver: Receiver
) -> None:
    cid = state.create_complaint(MCH_A)
    assert await notifier.deliver_pending() == 1
    [got] = receiver.received
    assert got.path == "/cb/a" and got.verified
    assert set(got.fields) == {"method", "version", "format", "merchantNo", "signType", "signContent", "sign"}
    assert (got.fields["version"], got.fields["format"], got.fields["merchantNo"]) == ("1.0", "JSON", MCH_A)
    assert got.fields["signType"] == "RSA2" and got.fields["method"]
    assert got.content == {"actionType": "CREATE_COMPLAINT", "complaintId": cid}
    [n] = state.notifications
    assert n.delivered and n.answers == [200]
    assert await notifier.deliver_pending() == 0


async def test_every_event_kind_is_notified(
    state: HuishouqianState, notifier: HuishouqianNotifier, receiver: Receiver
) -> None:
    cid = state.create_complaint(MCH_A)
    state.user_message(cid, "在吗")
    state.platform_message(cid, "请处理")
    state.seller_refund(cid)
    state.merchant_reply(cid, "已退款", via_api=True)
    state.complete(cid, via_api=True)
    state.continue_complaint(cid, "继续投诉")
    await notifier.deliver_pending()
    assert all(r.verified for r in receiver.received)
    assert sorted(r.content["actionType"] for r in receiver.received) == sorted(
        [
            "CREATE_COMPLAINT",
            "USER_RESPONSE",
            "RESPONSE_BY_PLATFORM",
            "SELLER_REFUND",
            "MERCHANT_RESPONSE",
            "MERCHANT_CONFIRM_COMPLETE",
            "CONTINUE_COMPLAINT",
        ]
    )
    state.notify_own_actions = False
    state.merchant_reply(cid, "再次回复", via_api=True)
    assert len(state.notifications) == 7


async def test_retried_until_success(
    state: HuishouqianState, notifier: HuishouqianNotifier, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.script = [(200, "FAIL"), (500, "SUCCESS"), (200, " success\n")]
    cid = state.create_complaint(MCH_A)
    assert await notifier.deliver_pending() == 1
    assert await notifier.deliver_pending() == 0  # the retry is not due yet
    clock.advance(1)
    assert await notifier.deliver_pending() == 1
    clock.advance(1)
    assert await notifier.deliver_pending() == 0  # the second delay is 2 s
    clock.advance(1)
    assert await notifier.deliver_pending() == 1
    clock.advance(60)
    assert await notifier.deliver_pending() == 0
    [n] = state.notifications
    assert n.answers == [200, 500, 200] and n.delivered and not n.gave_up
    assert [r.content["complaintId"] for r in receiver.received] == [cid] * 3
    assert all(r.verified for r in receiver.received)


async def test_gives_up_after_the_schedule(
    state: HuishouqianState, notifier: HuishouqianNotifier, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.script = [(200, "Success but not quite")] * 10
    state.create_complaint(MCH_A)
    attempts = 0
    for _ in range(5):
        attempts += await notifier.deliver_pending()
        clock.advance(5)
    [n] = state.notifications
    assert attempts == 3 and n.gave_up and not n.delivered


async def test_unreachable_receiver_is_retried(state: HuishouqianState) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        notifier = HuishouqianNotifier(state, client, retry_delays=(0,))
        state.create_complaint(MCH_A)
        assert await notifier.deliver_pending() == 1
        assert await notifier.deliver_pending() == 1
        assert await notifier.deliver_pending() == 0
    [n] = state.notifications
    assert n.answers == [None, None] and n.gave_up


async def test_duplicates_and_drops(
    state: HuishouqianState, notifier: HuishouqianNotifier, receiver: Receiver
) -> None:
    state.faults.duplicate_rate = 1.0
    cid = state.create_complaint(MCH_A)
    assert await notifier.deliver_pending() == 2
    first, second = receiver.received
    assert first.fields == second.fields and first.content["complaintId"] == cid
    state.faults.duplicate_rate = 0.0
    state.faults.drop_notification_rate = 1.0
    state.user_message(cid, "hi")
    assert await notifier.deliver_pending() == 0
    assert len(receiver.received) == 2 and state.notifications[-1].dropped


async def test_agent_and_merchant_are_notified_with_their_own_keys(
    state: HuishouqianState, notifier: HuishouqianNotifier, receiver: Receiver
) -> None:
    one = state.create_complaint(SUB_1)
    two = state.create_complaint(SUB_2)  # SUB_2 has no notify URL: only the agent hears of it
    await notifier.deliver_pending()
    got = sorted((r.path, r.fields["merchantNo"], r.content["complaintId"]) for r in receiver.received)
    assert got == sorted([("/cb/sub1", SUB_1, one), ("/cb/agent", AGENT, one), ("/cb/agent", AGENT, two)])
    assert all(r.verified for r in receiver.received)
    assert state.stats.unrouted_notifications == 1


async def test_cfca_recipient_gets_encrypted_content(
    state: HuishouqianState, notifier: HuishouqianNotifier, receiver: Receiver
) -> None:
    cid = state.create_complaint(MCH_C)
    await notifier.deliver_pending()
    [got] = receiver.received
    assert got.fields["signType"] == "CFCA" and got.fields["sign"] == ""
    assert cid not in got.fields["signContent"]
    assert got.content == {"actionType": "CREATE_COMPLAINT", "complaintId": cid}


async def test_run_delivers_until_stopped(state: HuishouqianState, receiver: Receiver) -> None:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()))
    notifier = HuishouqianNotifier(state, client, poll_interval=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    state.create_complaint(MCH_A)
    for _ in range(200):
        if receiver.received:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2)
    await client.aclose()
    assert len(receiver.received) == 1 and state.notifications[0].delivered
