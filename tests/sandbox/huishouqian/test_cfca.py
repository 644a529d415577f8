"""CFCA merchants: encrypted signContent in, encrypted result out (Baofoo-style chunked RSA)."""

from __future__ import annotations

import json

import pytest

from complaintdesk.sandbox.huishouqian.crypto import (
    certificate_public_key,
    cfca_decrypt,
    cfca_encrypt,
    load_private_key,
)
from complaintdesk.sandbox.huishouqian.keys import MerchantCredentials, PlatformKeys
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

from .conftest import MCH_A, MCH_C
from .hsqsign import PATHS, Gateway, cert_key, cfca_open, cfca_seal, merchant_key

pytestmark = pytest.mark.anyio


async def test_cfca_round_trip(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    c = gw[MCH_C]
    cid = state.create_complaint(MCH_C, detail="充电桩显示充电失败，但是钱已经扣了，请退款。" * 3)
    fields = c.fields("COMPLAINT_QUERY", {"complaintId": cid})
    assert fields["sign"] == "" and fields["signType"] == "CFCA"
    assert len(fields["signContent"]) % 512 == 0  # whole 2048-bit blocks in hex
    result = await c.ok("COMPLAINT_QUERY", {"complaintId": cid})  # decrypted with the platform certificate
    [doc] = result["data"]
    assert doc["complaintId"] == cid and doc["complaintDetail"].startswith("充电桩")
    await c.ok("COMPLAINT_COMMIT_RESPONSE", {"complaintId": cid, "responseContent": "您好，已退款"})
    assert state.get(cid).state == "PROCESSING"


async def test_cfca_errors_are_unsigned_and_plain(state: HuishouqianState, gw: dict[str, Gateway]) -> None:
    c = gw[MCH_C]
    limit = await c.error("COMPLAINT_QUERY", {"limit": 501})
    assert (limit.code, limit.document["sign"], limit.document["result"]) == ("130002", "", None)
    garbage = c.fields("COMPLAINT_QUERY", {})
    content = garbage["signContent"]
    garbage["signContent"] = content[:-2] + f"{int(content[-2:], 16) ^ 0xFF:02x}"  # always a different byte
    response = await c.client.post(PATHS["COMPLAINT_QUERY"], data=garbage)
    assert response.json()["errorCode"] == "130002" and "解密" in response.json()["errorMsg"]
    plain = {**c.fields("COMPLAINT_QUERY", {}), "signContent": "{}"}
    assert (await c.client.post(PATHS["COMPLAINT_QUERY"], data=plain)).json()["errorCode"] == "130002"
    rsa2_as_cfca = {**gw[MCH_A].fields("COMPLAINT_QUERY", {}), "signType": "CFCA"}
    assert (await c.client.post(PATHS["COMPLAINT_QUERY"], data=rsa2_as_cfca)).json()["errorCode"] == "130002"
    assert state.stats.bad_signatures == 2


def test_cfca_routine_matches_an_independent_implementation(
    platform: PlatformKeys, creds: dict[str, MerchantCredentials]
) -> None:
    text = json.dumps({"complaintId": "200210220211228100360913215", "备注": "中文" * 40}, ensure_ascii=False)
    merchant = creds[MCH_C]
    private = merchant_key(merchant.pkcs12, merchant.pkcs12_password)
    ours = cfca_seal(private, text)  # 32-character chunks
    assert cfca_decrypt(certificate_public_key(merchant.certificate_pem), ours) == text
    theirs = cfca_encrypt(load_private_key(platform.private_key_pem), text)  # the simulator's chunking
    assert cfca_open(cert_key(platform.certificate_pem), theirs) == text
    assert len(theirs) < len(ours)
    with pytest.raises(ValueError):
        cfca_decrypt(cert_key(platform.certificate_pem), ours)  # wrong key
