"""Envelope verification and signed answers of the Huishouqian simulator."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from complaintdesk.sandbox.huishouqian.app import create_app
from complaintdesk.sandbox.huishouqian.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

from .conftest import MCH_A, MCH_B
from .hsqsign import BASE, PATHS, Gateway, hex_sign, sign_text, verify_answer

pytestmark = pytest.mark.anyio

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_every_method_works_when_signed(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    cid = state.create_complaint(MCH_A, images=1)
    listed = await a.ok("COMPLAINT_QUERY", {"merchantNo": MCH_A, "complaintId": cid, "limit": 100})
    assert [d["complaintId"] for d in listed["data"]] == [cid] and listed["totalSize"] == 1
    history = await a.ok("COMPLAINT_QUERY_HISTORY", {"complaintId": cid})
    [created] = history["data"]
    assert created["operateType"] == "USER_CREATE_COMPLAINT" and len(created["imageList"]) == 1
    image = await a.ok(
        "COMPLAINT_FILE_DOWNLOAD",
        {"complaintId": cid, "mediaUrl": created["imageList"][0], "mediaType": "USER_COMPLAINT_IMAGE"},
    )
    assert base64.b64decode(image["bytes"]).startswith(b"\x89PNG") and image["suffix"] == "png"
    uploaded = await a.ok("COMPLAINT_FILE_UPLOAD", {"img": base64.b64encode(PNG).decode()})
    assert isinstance(uploaded["fileId"], int)
    accepted = {"flag": True, "respCode": "130000", "respDesc": "受理成功"}
    reply = {
        "complaintId": cid,
        "responseContent": "您好，已为您退款",
        "responseImages": [str(uploaded["fileId"])],
    }
    assert await a.ok("COMPLAINT_COMMIT_RESPONSE", {**reply, "actType": 1}) == accepted
    assert await a.ok("COMPLAINT_COMMIT_COMPLETE", {"complaintId": cid}) == accepted
    assert state.get(cid).state == "PROCESSED"
    assert state.stats.ok == {
        "query": 1,
        "queryHistory": 1,
        "download": 1,
        "upload": 1,
        "commitResponse": 1,
        "commitComplete": 1,
    }


async def test_answer_verifies_only_over_the_raw_result_string(
    state: HuishouqianState,
    gw: dict[str, Gateway],
    platform: PlatformKeys,
    creds: dict[str, MerchantCredentials],
) -> None:
    state.create_complaint(MCH_A, detail="充电失败，请退款")
    answer = await gw[MCH_A].send("COMPLAINT_QUERY", {"merchantNo": MCH_A})
    document = answer.document
    assert answer.response.headers["content-type"].startswith("application/json")
    assert document["success"] is True and document["errorCode"] is None and document["errorMsg"] is None
    assert isinstance(document["result"], str) and len(document["sign"]) == 512
    assert document["sign"] == document["sign"].lower()
    key = creds[MCH_A].sign_key
    assert verify_answer(document, platform, key)
    reserialised = json.dumps(json.loads(document["result"]))  # a naive client re-serialises
    assert reserialised != document["result"]
    assert not verify_answer({**document, "result": reserialised}, platform, key)
    altered = document["result"].replace("充电失败", "充电成功")
    assert altered != document["result"]
    assert not verify_answer({**document, "result": altered}, platform, key)
    assert not verify_answer(document, platform, creds[MCH_B].sign_key)


async def test_bad_signatures_are_refused(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    content = {"merchantNo": MCH_A}
    good = a.fields("COMPLAINT_QUERY", content)
    cases = [
        a.fields("COMPLAINT_QUERY", content, key="0" * 32),  # wrong sign key
        {
            **good,
            "signContent": json.dumps({"merchantNo": MCH_A, "limit": 1}),
        },  # content changed after signing
        {**good, "sign": good["sign"].upper()},  # must be lowercase hex
        {**good, "sign": base64.b64encode(bytes.fromhex(good["sign"])).decode()},  # Base64, not hex
        {k: v for k, v in good.items() if k != "sign"},
        {
            **good,
            "sign": hex_sign(
                gw[MCH_B].key, sign_text(good, state.merchants.require(MCH_A).credentials.sign_key)
            ),
        },
    ]
    for fields in cases:
        response = await a.client.post(PATHS["COMPLAINT_QUERY"], data=fields)
        document = response.json()
        assert response.status_code == 200
        assert (document["success"], document["errorCode"]) == (False, "130002"), fields
        assert document["errorMsg"] == "参数校验不通过:验签失败"
        assert verify_answer(document, a.platform, a.merchant.sign_key)  # still signed for the caller
    assert state.stats.bad_signatures == len(cases)
    assert state.stats.ok == {}


async def test_merchant_numbers(
    state: HuishouqianState, gw: dict[str, Gateway], creds: dict[str, MerchantCredentials]
) -> None:
    a = gw[MCH_A]
    unknown = await a.send("COMPLAINT_QUERY", {}, merchantNo="814999999999")
    assert (unknown.code, unknown.message, unknown.document["sign"]) == ("130005", "商户号不存在", "")
    missing = await a.send("COMPLAINT_QUERY", {}, merchantNo="")
    assert missing.code == "130002" and missing.document["sign"] == ""
    # signed by A, sent as B: B's certificate does not verify it; the answer is signed for B
    as_b = await a.send("COMPLAINT_QUERY", {}, merchantNo=MCH_B)
    assert as_b.code == "130002" and verify_answer(as_b.document, a.platform, creds[MCH_B].sign_key)
    other = await a.error("COMPLAINT_QUERY", {"merchantNo": MCH_B})
    assert (other.code, other.message) == ("130004", "商户号不匹配")
    cid = state.create_complaint(MCH_B)
    for method in ("COMPLAINT_QUERY_HISTORY", "COMPLAINT_COMMIT_RESPONSE", "COMPLAINT_COMMIT_COMPLETE"):
        foreign = await a.error(method, {"complaintId": cid, "responseContent": "您好"})
        assert foreign.code == "130004", method
    assert state.get(cid).state == "PENDING"


async def test_limit_and_date_window(gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    assert (await a.ok("COMPLAINT_QUERY", {"limit": 500}))["data"] == []
    assert (await a.ok("COMPLAINT_QUERY", {"limit": "500", "offset": "0"}))["offset"] == 0
    refused: list[dict[str, Any]] = [
        {"limit": 501},
        {"limit": -1},
        {"limit": "ten"},
        {"limit": True},
        {"offset": -5},
        {"beginDate": "2026-02-07", "endDate": "2026-03-10"},  # 31 days
        {"beginDate": "2026-03-10", "endDate": "2026-03-09"},  # end before begin
        {"beginDate": "2026-03-01"},  # one without the other
        {"beginDate": "20260301", "endDate": "20260310"},  # not yyyy-MM-dd
        {"beginDate": "2026-02-30", "endDate": "2026-03-10"},
    ]
    for content in refused:
        answer = await a.error("COMPLAINT_QUERY", content)
        assert answer.code == "130002", content
        assert answer.message.startswith("参数校验不通过:")
    assert "500" in (await a.error("COMPLAINT_QUERY", {"limit": 501})).message
    assert "30天" in (await a.error("COMPLAINT_QUERY", refused[5])).message
    window = await a.ok("COMPLAINT_QUERY", {"beginDate": "2026-02-08", "endDate": "2026-03-10"})  # 30 days
    assert window["totalSize"] == 0


async def test_method_must_match_the_path_and_envelope_fields(gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    mismatch = await a.error("COMPLAINT_QUERY_HISTORY", {"complaintId": "1"}, path=PATHS["COMPLAINT_QUERY"])
    assert (mismatch.code, mismatch.message) == ("130002", "参数校验不通过:method与请求地址不匹配")
    unknown = await a.error("COMPLAINT_DELETE", {}, path=PATHS["COMPLAINT_QUERY"])
    assert unknown.code == "130002"
    for name, value in (("version", "2.0"), ("format", "XML"), ("signType", "RSA")):
        fields = a.fields("COMPLAINT_QUERY", {})
        fields[name] = value
        fields["sign"] = hex_sign(a.key, sign_text(fields, a.merchant.sign_key))  # correctly signed
        response = await a.client.post(PATHS["COMPLAINT_QUERY"], data=fields)
        assert response.json()["errorCode"] == "130002", name
        assert name in response.json()["errorMsg"]
    not_json = await a.error("COMPLAINT_QUERY", "[1, 2]")
    assert not_json.code == "130002"
    not_found = await a.client.post("/complaint/delete", data=a.fields("COMPLAINT_QUERY", {}))
    assert not_found.status_code == 404
    wrong_verb = await a.client.get(PATHS["COMPLAINT_QUERY"])
    assert wrong_verb.status_code == 405


async def test_envelope_in_the_query_string_is_accepted(gw: dict[str, Gateway]) -> None:
    a = gw[MCH_A]
    fields = a.fields("COMPLAINT_QUERY", {"limit": 10})
    response = await a.client.post(PATHS["COMPLAINT_QUERY"], params=fields)
    document = response.json()
    assert document["success"] is True and verify_answer(document, a.platform, a.merchant.sign_key)
    json_body = await a.client.post(PATHS["COMPLAINT_QUERY"], json=fields)
    assert json_body.json()["errorCode"] == "130002"


async def test_merchant_without_configured_key(
    platform: PlatformKeys, creds: dict[str, MerchantCredentials]
) -> None:
    state = HuishouqianState(platform)
    state.register_merchant(creds[MCH_A], key_configured=False)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        answer = await Gateway(client, creds[MCH_A], platform).send("COMPLAINT_QUERY", {})
    assert (answer.code, answer.message, answer.document["sign"]) == ("130011", "商户秘钥未配置", "")


async def test_success_as_string_is_signed_as_such(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    state.success_as_string = True
    state.success_code = "000000"
    answer = await gw[MCH_A].send("COMPLAINT_QUERY", {})
    assert answer.document["success"] == "true" and answer.document["errorCode"] == "000000"
    assert verify_answer(answer.document, gw[MCH_A].platform, gw[MCH_A].merchant.sign_key)
    error = await gw[MCH_A].send("COMPLAINT_QUERY", {"limit": 501})
    assert error.document["success"] == "false"
    assert verify_answer(error.document, gw[MCH_A].platform, gw[MCH_A].merchant.sign_key)
