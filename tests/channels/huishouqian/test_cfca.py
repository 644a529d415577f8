"""Tier 1: CFCA mode against the Baofoo PHP routine re-written here with plain integers."""

from __future__ import annotations

import json

import pytest

from complaintdesk.channels.huishouqian import cfca
from complaintdesk.channels.huishouqian.envelope import (
    open_notification,
    open_response,
    parse_response,
    seal_request,
)
from complaintdesk.errors import DecryptFailed, ResponseVerificationError

from .fakes import credentials
from .keys import baofoo_decrypt, baofoo_encrypt, rsa_key

TEXT = json.dumps(
    {"complaintId": "200210220211228100360913215", "note": "中文 + symbols &=?"}, ensure_ascii=False
)


@pytest.mark.parametrize("size", [1024, 2048])
def test_round_trip_and_block_width(size: int) -> None:
    key = rsa_key("cfca", size)
    ciphertext = cfca.encrypt(key, TEXT)
    width = size // 4  # hex characters per block: 256 for 1024-bit, 512 for 2048-bit
    assert len(ciphertext) % width == 0
    assert ciphertext == ciphertext.lower()
    assert cfca.decrypt(key.public_key(), ciphertext) == TEXT


def test_our_ciphertext_opens_with_the_independent_routine_and_is_deterministic() -> None:
    key = rsa_key("cfca", 1024)
    ours = cfca.encrypt(key, TEXT)
    assert baofoo_decrypt(key, ours) == TEXT
    # type-1 padding has no randomness: blinding must not change the output
    assert ours == baofoo_encrypt(key, TEXT)


def test_independent_ciphertext_opens_with_ours_whatever_the_chunk_size() -> None:
    key = rsa_key("cfca", 2048)
    for chunk in (32, 117, 245):
        assert cfca.decrypt(key.public_key(), baofoo_encrypt(key, TEXT, chunk)) == TEXT


def test_wrong_key_and_damaged_ciphertext_are_refused() -> None:
    key = rsa_key("cfca", 1024)
    ciphertext = cfca.encrypt(key, TEXT)
    with pytest.raises(cfca.CfcaError):
        cfca.decrypt(rsa_key("other", 1024).public_key(), ciphertext)
    with pytest.raises(cfca.CfcaError):
        cfca.decrypt(key.public_key(), ciphertext[:-2])
    with pytest.raises(cfca.CfcaError):
        cfca.decrypt(key.public_key(), "zz" * 128)
    with pytest.raises(cfca.CfcaError):
        cfca.encrypt(key, TEXT, chunk_size=118)  # does not fit a 1024-bit block


def test_cfca_request_response_and_notification() -> None:
    creds = credentials(sign_type="CFCA")
    form = dict(seal_request(creds, "COMPLAINT_QUERY", TEXT))
    assert form["signType"] == "CFCA" and form["sign"] == ""
    assert baofoo_decrypt(rsa_key("merchant"), form["signContent"]) == TEXT
    result = baofoo_encrypt(rsa_key("platform"), '{"data":[],"totalSize":0}')
    body = json.dumps({"success": "true", "result": result, "errorCode": None, "errorMsg": None, "sign": ""})
    assert open_response(creds, parse_response(body.encode()), method="M") == '{"data":[],"totalSize":0}'
    forged = baofoo_encrypt(rsa_key("attacker"), '{"data":[]}')
    body = json.dumps({"success": "true", "result": forged, "sign": ""})
    with pytest.raises(ResponseVerificationError):
        open_response(creds, parse_response(body.encode()), method="M")
    notice = {"signType": "CFCA", "merchantNo": creds.merchant_no, "sign": ""}
    content = '{"actionType":"USER_RESPONSE","complaintId":"1"}'
    assert (
        open_notification(creds, notice | {"signContent": baofoo_encrypt(rsa_key("platform"), content)})
        == content
    )
    with pytest.raises(DecryptFailed):
        open_notification(creds, notice | {"signContent": baofoo_encrypt(rsa_key("attacker"), content)})
