"""Notification delivery of the WeChat Pay simulator, received by a small independent Starlette app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.wechatpay.notifier import Notifier
from complaintdesk.sandbox.wechatpay.state import SignMode, SimulatorState

from .conftest import MCH_A, SUB_2
from .wxsign import decrypt_notification, verify_signed

pytestmark = pytest.mark.anyio


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_by: str | None


@dataclass
class Receiver:
    """A merchant endpoint: verifies every delivery, answers from a script (default 204)."""

    platform: PlatformKeys
    script: list[int] = field(default_factory=list)
    accept_anything: bool = False
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        try:
            verified: str | None = verify_signed(
                self.platform,
                headers["wechatpay-serial"],
                headers["wechatpay-timestamp"],
                headers["wechatpay-nonce"],
                headers["wechatpay-signature"],
                body,
            )
        except AssertionError:
            verified = None
        self.received.append(Received(request.url.path, headers, body, verified))
        if verified is None and not self.accept_anything:
            return JSONResponse({"code": "FAIL", "message": "bad signature"}, status_code=401)
        status = self.script.pop(0) if self.script else 204
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/cb/{name}", self.handle, methods=["POST"])])

    def real(self) -> list[Received]:
        return [r for r in self.received if r.verified_by is not None]


@pytest.fixture
def receiver(platform: PlatformKeys) -> Receiver:
    return Receiver(platform)


@pytest.fixture
async def notifier(state: SimulatorState, receiver: Receiver) -> AsyncIterator[Notifier]:
    transport = httpx.ASGITransport(app=receiver.app())
    async with httpx.AsyncClient(transport=transport) as client:
        yield Notifier(state, client=client, retry_delays=(1, 2))


async def test_notification_wire_format_decrypts_and_verifies(
    state: SimulatorState,
    notifier: Notifier,
    receiver: Receiver,
    merchant_a: MerchantCredentials,
    platform: PlatformKeys,
    clock: ManualClock,
) -> None:
    cid = state.create_complaint(MCH_A)
    assert await notifier.deliver_pending() == 1
    [got] = receiver.received
    assert got.path == "/cb/a"
    assert got.verified_by == "certificate"
    headers = got.headers
    assert headers["content-type"] == "application/json"
    assert headers["wechatpay-signature-type"] == "WECHATPAY2-SHA256-RSA2048"
    assert headers["request-id"]
    assert headers["wechatpay-serial"] == platform.serial_no
    assert int(headers["wechatpay-timestamp"]) == int(clock.now().timestamp())
    document = json.loads(got.body)
    assert document["id"] == state.notifications[0].id and len(document["id"]) == 36
    assert document["event_type"] == "COMPLAINT.CREATE"
    assert document["resource_type"] == "encrypt-resource"
    assert document["create_time"].endswith("+08:00") and document["summary"]
    resource = document["resource"]
    assert resource["algorithm"] == "AEAD_AES_256_GCM" and len(resource["nonce"]) == 12
    assert resource["associated_data"] == "complaint" and resource["original_type"] == "complaint"
    assert decrypt_notification(merchant_a.apiv3_key, got.body) == {
        "complaint_id": cid,
        "action_type": "CREATE_COMPLAINT",
    }
    assert state.notifications[0].delivered and state.notifications[0].answers == [204]
    assert await notifier.deliver_pending() == 0


async def test_retries_on_500_until_delivered(
    state: SimulatorState, notifier: Notifier, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.script = [500, 500, 204]
    cid = state.create_complaint(MCH_A)
    state.user_message(cid, "hi", notify=False)
    assert await notifier.deliver_pending() == 1
    assert await notifier.deliver_pending() == 0  # retry not due yet
    clock.advance(1)
    assert await notifier.deliver_pending() == 1
    clock.advance(1)
    assert await notifier.deliver_pending() == 0  # second delay is 2 s
    clock.advance(1)
    assert await notifier.deliver_pending() == 1
    clock.advance(60)
    assert await notifier.deliver_pending() == 0  # delivered: nothing more
    [n] = state.notifications
    assert n.answers == [500, 500, 204] and n.delivered and not n.gave_up and n.attempts == 3
    ids = {json.loads(r.body)["id"] for r in receiver.received}
    assert ids == {n.id}
    assert len({r.headers["wechatpay-nonce"] for r in receiver.received}) == 3  # re-signed each time


async def test_gives_up_after_the_schedule(
    state: SimulatorState, notifier: Notifier, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.script = [500] * 10
    state.create_complaint(MCH_A)
    attempts = 0
    for _ in range(5):
        attempts += await notifier.deliver_pending()
        clock.advance(5)
    [n] = state.notifications
    assert attempts == 3 and n.gave_up and not n.delivered and n.answers == [500, 500, 500]


async def test_connection_errors_are_retried(state: SimulatorState, clock: ManualClock) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        notifier = Notifier(state, client=client, retry_delays=(0,))
        state.create_complaint(MCH_A)
        assert await notifier.deliver_pending() == 1
        assert await notifier.deliver_pending() == 1
        assert await notifier.deliver_pending() == 0
    [n] = state.notifications
    assert n.answers == [None, None] and n.gave_up


async def test_duplicates_are_the_same_notification_twice(
    state: SimulatorState, notifier: Notifier, receiver: Receiver
) -> None:
    state.faults.duplicate_rate = 1.0
    state.create_complaint(MCH_A)
    assert await notifier.deliver_pending() == 2
    first, second = receiver.received
    assert first.verified_by and second.verified_by
    assert json.loads(first.body)["id"] == json.loads(second.body)["id"]
    assert first.headers["wechatpay-nonce"] != second.headers["wechatpay-nonce"]
    assert state.notifications[0].duplicate and state.notifications[0].answers == [204, 204]


async def test_dropped_notifications_are_never_sent(
    state: SimulatorState, notifier: Notifier, receiver: Receiver
) -> None:
    state.faults.drop_notification_rate = 1.0
    state.create_complaint(MCH_A)
    assert await notifier.deliver_pending() == 0
    assert receiver.received == []
    [n] = state.notifications
    assert n.dropped and n.attempts == 0


async def test_signtest_probes_are_recorded_with_the_answer(
    state: SimulatorState, notifier: Notifier, receiver: Receiver
) -> None:
    state.faults.signtest_rate = 1.0
    state.create_complaint(MCH_A)
    assert await notifier.deliver_pending() == 2
    probe = next(n for n in state.notifications if n.probe)
    real = next(n for n in state.notifications if not n.probe)
    probe_request = next(r for r in receiver.received if r.verified_by is None)
    assert probe_request.headers["wechatpay-signature"].startswith("WECHATPAY/SIGNTEST/")
    assert probe.answers == [401] and not probe.probe_accepted
    assert real.delivered
    receiver.accept_anything = True
    state.create_complaint(MCH_A)
    await notifier.deliver_pending()
    assert sum(n.probe_accepted for n in state.notifications) == 1  # a receiver bug is visible


async def test_sub_merchant_notification_goes_to_provider_with_its_key(
    state: SimulatorState, notifier: Notifier, receiver: Receiver, provider: MerchantCredentials
) -> None:
    cid = state.create_complaint(SUB_2)
    await notifier.deliver_pending()
    [got] = receiver.received
    assert got.path == "/cb/sp"
    assert decrypt_notification(provider.apiv3_key, got.body)["complaint_id"] == cid


async def test_public_key_and_migrating_modes(
    state: SimulatorState, notifier: Notifier, receiver: Receiver
) -> None:
    state.sign_mode = SignMode.PUBLIC_KEY
    state.create_complaint(MCH_A)
    await notifier.deliver_pending()
    assert receiver.received[-1].verified_by == "public_key"
    state.sign_mode = SignMode.MIGRATING
    for _ in range(16):
        state.create_complaint(MCH_A)
    await notifier.deliver_pending()
    kinds = {r.verified_by for r in receiver.received[1:]}
    assert kinds == {"certificate", "public_key"}


async def test_run_delivers_until_stopped(state: SimulatorState, receiver: Receiver) -> None:
    transport = httpx.ASGITransport(app=receiver.app())
    client = httpx.AsyncClient(transport=transport)
    notifier = Notifier(state, client=client, poll_interval=0.01)
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
