"""Request authentication and response signing of the WeChat Pay simulator."""

from __future__ import annotations

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.wechatpay.state import SignMode, SimulatorState

from .conftest import MCH_A
from .wxsign import Caller, authorization, verify_response

pytestmark = pytest.mark.anyio

LIST = "/v3/merchant-service/complaints-v2?limit=10&offset=0&begin_date=2026-03-01&end_date=2026-03-10"


async def test_signed_list_detail_history_succeed_and_verify_with_platform_certificate(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    cid = state.create_complaint(MCH_A, images=1)
    for url in (
        LIST,
        f"/v3/merchant-service/complaints-v2/{cid}",
        f"/v3/merchant-service/complaints-v2/{cid}/negotiation-historys",
    ):
        response = await as_a.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["Wechatpay-Serial"] == platform.serial_no
        assert response.headers["Request-ID"]
        assert verify_response(response, platform) == "certificate"
    assert state.stats.ok == {"list": 1, "detail": 1, "history": 1}


async def test_public_key_mode_signs_with_the_public_key(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    state.sign_mode = SignMode.PUBLIC_KEY
    response = await as_a.get(LIST)
    assert response.status_code == 200
    assert response.headers["Wechatpay-Serial"] == platform.public_key_id
    assert verify_response(response, platform) == "public_key"


async def test_migrating_mode_uses_public_key_only_when_asked(
    state: SimulatorState, as_a: Caller, platform: PlatformKeys
) -> None:
    state.sign_mode = SignMode.MIGRATING
    plain = await as_a.get(LIST)
    asked = await as_a.get(LIST, headers={"Wechatpay-Serial": platform.public_key_id})
    assert verify_response(plain, platform) == "certificate"
    assert verify_response(asked, platform) == "public_key"


async def test_authorization_pairs_in_any_order(state: SimulatorState, as_a: Caller) -> None:
    response = await as_a.get(LIST, reverse=True)
    assert response.status_code == 200, response.text


def _assert_sign_error(response: httpx.Response, url: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["code"] == "SIGN_ERROR"
    assert body["message"]
    info = body["detail"]["sign_information"]
    assert info["method"] == "GET"
    assert info["url"] == url
    assert info["sign_message_length"] > len(url)
    assert info["truncated_sign_message"].startswith(f"GET\n{url}\n")


async def test_wrong_signature_is_rejected(
    state: SimulatorState, api: httpx.AsyncClient, merchant_a: MerchantCredentials, clock: ManualClock
) -> None:
    ts = int(clock.now().timestamp())
    good = authorization(merchant_a, "GET", LIST, "", timestamp=ts, nonce="N" * 32)
    # signature for a different url, otherwise identical header
    other = authorization(merchant_a, "GET", LIST + "&x=1", "", timestamp=ts, nonce="N" * 32)
    forged = good.split('signature="')[0] + 'signature="' + other.split('signature="')[1]
    headers = {"Accept": "application/json", "User-Agent": "t", "Authorization": forged}
    response = await api.get(LIST, headers=headers)
    _assert_sign_error(response, LIST)
    assert state.stats.unauthorized == 1
    headers["Authorization"] = good
    assert (await api.get(LIST, headers=headers)).status_code == 200


async def test_signed_by_another_merchant_key_is_rejected(
    api: httpx.AsyncClient,
    merchant_a: MerchantCredentials,
    merchant_b: MerchantCredentials,
    clock: ManualClock,
) -> None:
    ts = int(clock.now().timestamp())
    # B's key and serial, but claiming to be A
    impostor = MerchantCredentials(
        MCH_A,
        merchant_b.private_key_pem,
        merchant_b.certificate_pem,
        merchant_a.serial_no,
        merchant_b.apiv3_key,
    )
    auth = authorization(impostor, "GET", LIST, "", timestamp=ts)
    response = await api.get(LIST, headers={"Accept": "*/*", "User-Agent": "t", "Authorization": auth})
    _assert_sign_error(response, LIST)


async def test_wrong_serial_is_rejected(as_a: Caller, merchant_b: MerchantCredentials) -> None:
    _assert_sign_error(await as_a.get(LIST, serial=merchant_b.serial_no), LIST)


async def test_stale_timestamp_is_rejected(as_a: Caller) -> None:
    _assert_sign_error(await as_a.get(LIST, skew=-301), LIST)
    _assert_sign_error(await as_a.get(LIST, skew=301), LIST)
    assert (await as_a.get(LIST, skew=-299)).status_code == 200


async def test_unknown_merchant_and_garbled_header_are_rejected(
    api: httpx.AsyncClient, platform: PlatformKeys, merchant_a: MerchantCredentials, clock: ManualClock
) -> None:
    stranger = MerchantCredentials(
        "1999999999", merchant_a.private_key_pem, merchant_a.certificate_pem, merchant_a.serial_no, "k" * 32
    )
    auth = authorization(stranger, "GET", LIST, "", timestamp=int(clock.now().timestamp()))
    base = {"Accept": "application/json", "User-Agent": "t"}
    response = await api.get(LIST, headers={**base, "Authorization": auth})
    assert response.status_code == 401
    for garbled in ("", "Bearer abc", auth.replace("WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-SHA256-RSA")):
        response = await api.get(LIST, headers={**base, "Authorization": garbled})
        assert response.status_code == 401
        assert response.json()["code"] == "SIGN_ERROR"


async def test_missing_user_agent_or_accept_is_400(
    api: httpx.AsyncClient, merchant_a: MerchantCredentials, clock: ManualClock
) -> None:
    auth = authorization(merchant_a, "GET", LIST, "", timestamp=int(clock.now().timestamp()))
    for drop in ("User-Agent", "Accept"):
        request = api.build_request(
            "GET", LIST, headers={"Authorization": auth, "Accept": "a/b", "User-Agent": "u"}
        )
        del request.headers[drop]
        response = await api.send(request)
        assert response.status_code == 400
        assert response.json() == {"code": "INVALID_REQUEST", "message": "Http头缺少Accept或User-Agent"}
