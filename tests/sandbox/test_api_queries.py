"""List, detail, history and certificate endpoints of the WeChat Pay simulator."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.wechatpay.state import SignMode, SimulatorState

from .conftest import MCH_A, MCH_B, SUB_1, SUB_2
from .wxsign import Caller, decrypt_oaep, decrypt_resource, verify_response

pytestmark = pytest.mark.anyio

BASE = "/v3/merchant-service/complaints-v2"
RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$")


def list_url(begin: str, end: str, limit: int | None = None, offset: int | None = None, **extra: str) -> str:
    parts = [f"begin_date={begin}", f"end_date={end}"]
    if limit is not None:
        parts.append(f"limit={limit}")
    if offset is not None:
        parts.append(f"offset={offset}")
    parts += [f"{k}={v}" for k, v in extra.items()]
    return BASE + "?" + "&".join(parts)


async def test_span_of_31_days_is_rejected_30_is_fine(as_a: Caller) -> None:
    too_long = await as_a.get(list_url("2026-02-01", "2026-03-04"))
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "PARAM_ERROR"
    assert (await as_a.get(list_url("2026-02-01", "2026-03-03"))).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        list_url("2026-03-01", "2026-03-10", limit=51),
        list_url("2026-03-01", "2026-03-10", limit=0),
        list_url("2026-03-01", "2026-03-10", offset=-1),
        list_url("2026-03-10", "2026-03-01"),
        list_url("2026/03/01", "2026-03-10"),
        BASE + "?end_date=2026-03-10",
    ],
)
async def test_bad_list_parameters_are_param_errors(as_a: Caller, url: str) -> None:
    response = await as_a.get(url)
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"


async def test_paging_returns_each_complaint_once_and_total_only_at_offset_zero(
    state: SimulatorState, as_a: Caller, clock: ManualClock
) -> None:
    start = clock.now() - timedelta(days=9)
    created = {
        state.create_complaint(MCH_A, complaint_time=start + timedelta(hours=7 * i)) for i in range(23)
    }
    state.create_complaint(MCH_B, complaint_time=start)  # someone else's
    seen: list[str] = []
    offset = 0
    while True:
        response = await as_a.get(list_url("2026-03-01", "2026-03-10", limit=5, offset=offset))
        assert response.status_code == 200
        body = response.json()
        assert body["limit"] == 5 and body["offset"] == offset
        if offset == 0:
            assert body["total_count"] == 23
        else:
            assert "total_count" not in body
        items = body.get("data", [])
        seen += [item["complaint_id"] for item in items]
        if len(items) < 5:
            break
        offset += 5
    assert len(seen) == 23
    assert set(seen) == created
    times = [state.get(cid).complaint_time for cid in seen]
    assert times == sorted(times)


async def test_list_filters_by_shanghai_calendar_date(state: SimulatorState, as_a: Caller) -> None:
    # 2026-03-01 17:30 UTC is already 2026-03-02 01:30 in Shanghai
    cid = state.create_complaint(MCH_A, complaint_time=datetime(2026, 3, 1, 17, 30, tzinfo=UTC))
    march_1 = (await as_a.get(list_url("2026-03-01", "2026-03-01"))).json()
    march_2 = (await as_a.get(list_url("2026-03-02", "2026-03-02"))).json()
    assert march_1["total_count"] == 0 and "data" not in march_1
    assert [c["complaint_id"] for c in march_2["data"]] == [cid]


async def test_detail_document_shape_and_phone_decrypts(
    state: SimulatorState, as_a: Caller, merchant_a: MerchantCredentials
) -> None:
    cid = state.create_complaint(
        MCH_A, problem_type="REFUND", amount_fen=5000, apply_refund_amount_fen=3000, images=2
    )
    response = await as_a.get(f"{BASE}/{cid}")
    doc = response.json()
    assert re.fullmatch(r"\d{27}", doc["complaint_id"]) and doc["complaint_id"] == cid
    assert RFC3339_MS.match(doc["complaint_time"])
    assert doc["complaint_state"] == "PENDING"
    assert doc["complainted_mchid"] == MCH_A
    assert doc["payer_phone"] != "13800138000"
    assert decrypt_oaep(merchant_a.private_key_pem, doc["payer_phone"]) == "13800138000"
    assert doc["payer_openid"].startswith("o")
    order = doc["complaint_order_info"][0]
    assert (
        re.fullmatch(r"\d{28}", order["transaction_id"]) and order["amount"] == 5000 and order["out_trade_no"]
    )
    assert doc["apply_refund_amount"] == 3000 and doc["problem_type"] == "REFUND"
    media = doc["complaint_media_list"]
    assert media[0]["media_type"] == "USER_COMPLAINT_IMAGE" and len(media[0]["media_url"]) == 2
    for url in media[0]["media_url"]:
        assert url.startswith("https://api.mch.weixin.qq.com/v3/merchant-service/images/")
        tail = url.rsplit("/", 1)[1]
        assert "%2F" in tail and "%2B" in tail and tail.endswith("%3D")
    for flag in (
        "complaint_full_refunded",
        "incoming_user_response",
        "in_platform_service",
        "need_immediate_service",
    ):
        assert doc[flag] is False
    assert doc["user_complaint_times"] == 1 and doc["problem_description"]
    assert isinstance(doc["user_tag_list"], list)


async def test_list_items_omit_openid_and_non_refund_omits_refund_amount(
    state: SimulatorState, as_a: Caller, merchant_a: MerchantCredentials
) -> None:
    state.create_complaint(MCH_A, problem_type="OTHERS", payer_phone=None)
    state.create_complaint(MCH_A, payer_phone="13912345678")
    items = (await as_a.get(list_url("2026-03-01", "2026-03-10"))).json()["data"]
    assert all("payer_openid" not in item for item in items)
    others, refund = items
    assert "apply_refund_amount" not in others and "payer_phone" not in others
    assert decrypt_oaep(merchant_a.private_key_pem, refund["payer_phone"]) == "13912345678"


async def test_foreign_complaint_is_403_and_unknown_is_404(state: SimulatorState, as_a: Caller) -> None:
    cid = state.create_complaint(MCH_B)
    for url in (f"{BASE}/{cid}", f"{BASE}/{cid}/negotiation-historys"):
        response = await as_a.get(url)
        assert response.status_code == 403 and response.json()["code"] == "NO_AUTH"
    missing = await as_a.get(f"{BASE}/200020260310000019999999999")
    assert missing.status_code == 404 and missing.json()["code"] == "RESOURCE_NOT_EXISTS"
    other = await as_a.get(list_url("2026-03-01", "2026-03-10", complainted_mchid=MCH_B))
    assert other.status_code == 403


async def test_service_provider_sees_sub_merchants_and_phone_uses_its_key(
    state: SimulatorState, as_sp: Caller, as_a: Caller, provider: MerchantCredentials
) -> None:
    one = state.create_complaint(SUB_1, payer_phone="13700000001")
    two = state.create_complaint(SUB_2)
    state.create_complaint(MCH_A)
    body = (await as_sp.get(list_url("2026-03-01", "2026-03-10"))).json()
    assert {c["complaint_id"] for c in body["data"]} == {one, two}
    only = (await as_sp.get(list_url("2026-03-01", "2026-03-10", complainted_mchid=SUB_2))).json()
    assert [c["complaint_id"] for c in only["data"]] == [two]
    detail = (await as_sp.get(f"{BASE}/{one}")).json()
    assert detail["complainted_mchid"] == SUB_1
    assert decrypt_oaep(provider.private_key_pem, detail["payer_phone"]) == "13700000001"
    assert (await as_a.get(f"{BASE}/{one}")).status_code == 403


async def test_history_entries_paging_and_limits(
    state: SimulatorState, as_a: Caller, clock: ManualClock
) -> None:
    cid = state.create_complaint(MCH_A, detail="没有发货", images=1)
    clock.advance(60)
    state.user_message(cid, "请尽快处理", images=1)
    clock.advance(60)
    state.merchant_reply(cid, "已处理")
    first = (await as_a.get(f"{BASE}/{cid}/negotiation-historys?limit=2&offset=0")).json()
    assert first["total_count"] == 3 and first["limit"] == 2
    create, message = first["data"]
    assert create["operate_type"] == "USER_CREATE_COMPLAINT" and create["operator"] == "投诉人"
    assert create["operate_details"] == "没有发货"
    assert create["complaint_media_list"]["media_type"] == "USER_COMPLAINT_IMAGE"  # an object, not a list
    assert message["operate_type"] == "USER_RESPONSE"
    assert message["complaint_media_list"]["media_type"] == "OPERATION_IMAGE"
    assert RFC3339_MS.match(message["operate_time"]) and re.fullmatch(r"\d+", message["log_id"])
    rest = (await as_a.get(f"{BASE}/{cid}/negotiation-historys?limit=2&offset=2")).json()
    assert "total_count" not in rest
    assert [e["operate_type"] for e in rest["data"]] == ["MERCHANT_RESPONSE"]
    assert (await as_a.get(f"{BASE}/{cid}/negotiation-historys?limit=300")).status_code == 200
    assert (await as_a.get(f"{BASE}/{cid}/negotiation-historys?limit=301")).status_code == 400
    state.history_max_limit = 130
    too_big = await as_a.get(f"{BASE}/{cid}/negotiation-historys?limit=131")
    assert too_big.status_code == 400 and "数据量过大" in too_big.json()["message"]


async def test_certificates_decrypt_with_apiv3_key(
    state: SimulatorState, as_a: Caller, merchant_a: MerchantCredentials, platform: PlatformKeys
) -> None:
    response = await as_a.get("/v3/certificates")
    assert response.status_code == 200
    verify_response(response, platform)
    [entry] = response.json()["data"]
    assert entry["serial_no"] == platform.serial_no
    encrypted = entry["encrypt_certificate"]
    assert encrypted["algorithm"] == "AEAD_AES_256_GCM" and encrypted["associated_data"] == "certificate"
    pem = decrypt_resource(merchant_a.apiv3_key, encrypted)
    cert = x509.load_pem_x509_certificate(pem)
    assert format(cert.serial_number, "X") == platform.serial_no
    assert entry["expire_time"].endswith("+08:00")


async def test_certificates_missing_in_public_key_mode(state: SimulatorState, as_a: Caller) -> None:
    state.sign_mode = SignMode.PUBLIC_KEY
    response = await as_a.get("/v3/certificates")
    assert response.status_code == 404
    assert response.json() == {
        "code": "RESOURCE_NOT_EXISTS",
        "message": "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥",
    }
