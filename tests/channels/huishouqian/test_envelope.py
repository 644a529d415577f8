"""Tier 1: the envelope against an independent RSA2 implementation written here with ``cryptography``."""

from __future__ import annotations

import json

import pytest
from cryptography.exceptions import InvalidSignature

from complaintdesk.channels.huishouqian.envelope import (
    encode_business,
    encode_form,
    load_pkcs12_private_key,
    load_platform_certificate,
    normalise_sign_key,
    open_notification,
    open_response,
    parse_response,
    seal_request,
    sign_hex,
    verify_hex,
)
from complaintdesk.errors import ChannelError, ConfigError, ResponseVerificationError, SignatureInvalid

from .fakes import credentials
from .keys import (
    MERCHANT_NO,
    P12_PASSWORD,
    SIGN_KEY,
    certificate_bytes,
    error_body,
    notification_form,
    pkcs12_bytes,
    request_string,
    response_body,
    rsa2_sign,
    rsa2_verify,
    rsa_key,
)

BUSINESS = {"merchantNo": MERCHANT_NO, "limit": 100, "complaintId": "200210220211228100360913215"}


def test_request_signature_matches_an_independent_rsa2_signer() -> None:
    content = encode_business(BUSINESS)
    form = dict(seal_request(credentials(), "COMPLAINT_QUERY", content))
    expected_fields = {
        "method": "COMPLAINT_QUERY",
        "version": "1.0",
        "format": "JSON",
        "merchantNo": MERCHANT_NO,
        "signType": "RSA2",
        "signContent": content,
    }
    assert {k: v for k, v in form.items() if k != "sign"} == expected_fields
    # PKCS#1 v1.5 is deterministic: the independent signer must produce the very same hex
    independent = rsa2_sign(rsa_key("merchant"), request_string(expected_fields))
    assert form["sign"] == independent
    assert form["sign"] == form["sign"].lower() and len(form["sign"]) == 512
    rsa2_verify(rsa_key("merchant"), request_string(expected_fields), form["sign"])


def test_sign_string_is_fixed_order_raw_and_ends_with_the_key() -> None:
    content = '{"a":"x&y=z 中"}'
    form = dict(seal_request(credentials(), "COMPLAINT_QUERY", content))
    message = (
        f"method=COMPLAINT_QUERY&version=1.0&format=JSON&merchantNo={MERCHANT_NO}&signType=RSA2"
        f"&signContent={content}&key={SIGN_KEY}"
    )
    rsa2_verify(rsa_key("merchant"), message, form["sign"])
    with pytest.raises(InvalidSignature):  # a sorted string would be a different message
        rsa2_verify(rsa_key("merchant"), "&".join(sorted(message.split("&"))), form["sign"])


def test_form_body_order_and_encoding() -> None:
    body = encode_form(seal_request(credentials(), "COMPLAINT_QUERY", '{"a":"b c+中"}'))
    text = body.decode()
    assert text.startswith(
        "method=COMPLAINT_QUERY&version=1.0&format=JSON&merchantNo=814000473149&signType=RSA2"
    )
    assert "&signContent=%7B%22a%22%3A%22b+c%2B%E4%B8%AD%22%7D&sign=" in text


def test_business_json_is_compact_utf8_without_nulls() -> None:
    assert encode_business({"a": "中", "b": None, "c": 1}) == '{"a":"中","c":1}'


def test_verify_hex_accepts_uppercase_and_refuses_garbage() -> None:
    public = rsa_key("merchant").public_key()
    signature = sign_hex(rsa_key("merchant"), "hello")
    assert verify_hex(public, "hello", signature.upper())
    assert not verify_hex(public, "hello!", signature)
    assert not verify_hex(public, "hello", "zz")


def test_response_signed_independently_verifies_and_keeps_the_raw_string() -> None:
    # escapes and spacing inside the result string must survive exactly as signed
    raw_result = '{"data": [], "note": "引号\\"和\\\\斜杠", "totalSize": 0}'
    envelope = parse_response(response_body(raw_result))
    assert envelope.ok and envelope.result == raw_result
    assert open_response(credentials(), envelope, method="COMPLAINT_QUERY") == raw_result


def test_altered_result_is_refused() -> None:
    body = response_body({"data": [], "totalSize": 0}, tamper='{"data": [], "totalSize": 1}')
    with pytest.raises(ResponseVerificationError):
        open_response(credentials(), parse_response(body), method="COMPLAINT_QUERY")


def test_response_signed_by_another_key_or_with_another_salt_is_refused() -> None:
    for body in (
        response_body({"data": []}, signer="attacker"),
        response_body({"data": []}, key="f" * 32),
    ):
        with pytest.raises(ResponseVerificationError):
            open_response(credentials(), parse_response(body), method="COMPLAINT_QUERY")


def test_bad_sign_field_is_refused() -> None:
    doc = json.loads(response_body({"data": []}))
    for sign in ("", "00" * 256, "not-hex"):
        body = json.dumps(doc | {"sign": sign}).encode()
        with pytest.raises(ResponseVerificationError):
            open_response(credentials(), parse_response(body), method="COMPLAINT_QUERY")


@pytest.mark.parametrize(
    ("flag", "expected"), [(True, True), ("true", True), ("TRUE", True), ("false", False)]
)
def test_success_flag_forms(flag: object, expected: bool) -> None:
    envelope = parse_response(response_body({"x": 1}, success=flag))
    assert envelope.success is expected
    if expected:  # the flag is signed as received
        open_response(credentials(), envelope, method="M")


def test_malformed_envelopes() -> None:
    for body in (b"<html>", b"[]", b'{"result": "x"}', b'{"success": "yes"}'):
        with pytest.raises(ChannelError):
            parse_response(body)


def test_failure_envelope_fields() -> None:
    envelope = parse_response(error_body("130003", "投诉订单号不存在"))
    assert not envelope.ok
    assert (envelope.error_code, envelope.error_msg) == ("130003", "投诉订单号不存在")


def test_pkcs12_and_certificates_load() -> None:
    key = load_pkcs12_private_key(pkcs12_bytes("merchant"), P12_PASSWORD)
    assert key.private_numbers().d == rsa_key("merchant").private_numbers().d
    unprotected = load_pkcs12_private_key(pkcs12_bytes("other", password=None), None)
    assert unprotected.key_size == 2048
    for der in (False, True):
        public = load_platform_certificate(certificate_bytes("platform", der=der))
        assert public.public_numbers() == rsa_key("platform").public_key().public_numbers()


def test_key_material_errors_do_not_echo_secrets() -> None:
    with pytest.raises(ConfigError) as info:
        load_pkcs12_private_key(pkcs12_bytes("merchant"), b"wrong-password")
    assert "wrong-password" not in str(info.value)
    with pytest.raises(ConfigError):
        load_platform_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError):
        load_platform_certificate(b"\x30\x03\x02\x01\x00")
    with pytest.raises(ConfigError):
        normalise_sign_key(b"  ")
    with pytest.raises(ConfigError):
        normalise_sign_key(b"abc&key=1")
    assert normalise_sign_key(SIGN_KEY.encode() + b"\n") == SIGN_KEY


def test_notification_verification() -> None:
    form = notification_form({"actionType": "USER_RESPONSE", "complaintId": "1"})
    assert json.loads(open_notification(credentials(), form)) == {
        "actionType": "USER_RESPONSE",
        "complaintId": "1",
    }
    forged = notification_form({"actionType": "USER_RESPONSE", "complaintId": "1"}, signer="attacker")
    with pytest.raises(SignatureInvalid):
        open_notification(credentials(), forged)
    with pytest.raises(SignatureInvalid):
        open_notification(
            credentials(), form | {"signContent": '{"actionType":"USER_RESPONSE","complaintId":"2"}'}
        )
