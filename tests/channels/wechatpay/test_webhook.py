"""Tier 1: verify_and_open on notifications built independently (AESGCM and RSA used directly)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from complaintdesk.channels.wechatpay.crypto import VerifierKeys
from complaintdesk.channels.wechatpay.webhook import KNOWN_ACTION_TYPES, KNOWN_EVENT_TYPES, verify_and_open
from complaintdesk.errors import (
    ConfigError,
    DecryptFailed,
    MalformedNotification,
    MissingHeaders,
    SignatureInvalid,
    TimestampOutOfWindow,
    UnknownSerial,
    UnsupportedAlgorithm,
)

from .keys import (
    APIV3_KEY,
    PUB_KEY_ID,
    certificate_pem,
    notification_body,
    public_pem,
    rsa_key,
    serial_hex,
    signed_headers,
)

NOW = 1_709_259_630
SERIAL = serial_hex(0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1)
PAYLOAD = {"complaint_id": "200201820200101080076610000", "action_type": "USER_RESPONSE"}


@pytest.fixture(scope="module")
def keys() -> VerifierKeys:
    keys = VerifierKeys()
    keys.add_certificate(certificate_pem("platform", 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1))
    keys.add_public_key(PUB_KEY_ID, public_pem(rsa_key("pubkey")))
    return keys


def _signed(body: bytes, *, ts: int = NOW, key: str = "platform", serial: str = SERIAL) -> dict[str, str]:
    return signed_headers(rsa_key(key), serial, body, timestamp=ts)


def _open(body: bytes, headers: dict[str, str], keys: VerifierKeys, **kwargs: Any) -> Any:
    return verify_and_open(
        body, headers, keys=keys, apiv3_key=kwargs.pop("apiv3_key", APIV3_KEY), now=NOW, **kwargs
    )


def test_opens_a_genuine_notification(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD)
    opened = _open(body, _signed(body), keys)
    assert opened.dedupe_key == "1f5b9cd1-7205-58fe-827e-ee8b12bc8169"
    assert opened.event_type == "COMPLAINT.STATE_CHANGE"
    assert opened.external_id == PAYLOAD["complaint_id"]
    assert opened.action == "USER_RESPONSE"
    assert opened.payload == PAYLOAD
    assert opened.known is True
    assert opened.occurred_at == datetime(2024, 3, 1, 2, 20, 30, tzinfo=UTC)


def test_headers_are_case_insensitive_and_public_key_mode_works(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD, event_type="COMPLAINT.CREATE")
    headers = {k.lower(): v for k, v in _signed(body, key="pubkey", serial=PUB_KEY_ID).items()}
    assert _open(body, headers, keys).known


def test_forged_signature(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD)
    with pytest.raises(SignatureInvalid):
        _open(body, _signed(body, key="attacker"), keys)


def test_body_altered_after_signing(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD)
    headers = _signed(body)
    with pytest.raises(SignatureInvalid):
        _open(body.replace(b"STATE_CHANGE", b"CREATE"), headers, keys)


def test_wrong_serial(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD)
    with pytest.raises(UnknownSerial):
        _open(body, _signed(body, serial="0123456789ABCDEF"), keys)


@pytest.mark.parametrize("offset", [-299, 0, 299])
def test_timestamp_inside_window(keys: VerifierKeys, offset: int) -> None:
    body = notification_body(PAYLOAD)
    assert _open(body, _signed(body, ts=NOW + offset), keys).known


@pytest.mark.parametrize("offset", [-300, 300, -86400, 86400])
def test_timestamp_stale_or_future(keys: VerifierKeys, offset: int) -> None:
    body = notification_body(PAYLOAD)
    with pytest.raises(TimestampOutOfWindow):
        _open(body, _signed(body, ts=NOW + offset), keys)


def test_custom_tolerance_and_garbage_timestamp(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD)
    with pytest.raises(TimestampOutOfWindow):
        _open(body, _signed(body, ts=NOW - 61), keys, tolerance=60)
    headers = _signed(body) | {"Wechatpay-Timestamp": "yesterday"}
    with pytest.raises(TimestampOutOfWindow):
        _open(body, headers, keys)


def test_signtest_probe_refused(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD)
    headers = _signed(body)
    headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]
    with pytest.raises(SignatureInvalid, match="probe"):
        _open(body, headers, keys)


def test_tampered_ciphertext_signed_correctly(keys: VerifierKeys) -> None:
    doc = json.loads(notification_body(PAYLOAD))
    ciphertext = doc["resource"]["ciphertext"]
    doc["resource"]["ciphertext"] = ("B" if ciphertext[0] == "A" else "A") + ciphertext[1:]
    body = json.dumps(doc).encode()
    with pytest.raises(DecryptFailed):
        _open(body, _signed(body), keys)


def test_wrong_apiv3_key(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD)
    with pytest.raises(DecryptFailed, match="APIv3 key"):
        _open(body, _signed(body), keys, apiv3_key=b"Z" * 32)
    with pytest.raises(ConfigError):
        _open(body, _signed(body), keys, apiv3_key=b"short")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"resource": {}}',
        b'{"id": "x"}',
        b'{"id": "x", "resource": "s"}',
        b"\xff\xfe",
    ],
)
def test_malformed_but_correctly_signed(keys: VerifierKeys, body: bytes) -> None:
    with pytest.raises(MalformedNotification):
        _open(body, _signed(body), keys)


def test_plaintext_not_json(keys: VerifierKeys) -> None:
    body = notification_body(b"complaint_id=1")
    with pytest.raises(MalformedNotification):
        _open(body, _signed(body), keys)


def test_missing_nonce_in_resource(keys: VerifierKeys) -> None:
    doc = json.loads(notification_body(PAYLOAD))
    del doc["resource"]["nonce"]
    body = json.dumps(doc).encode()
    with pytest.raises(MalformedNotification):
        _open(body, _signed(body), keys)


def test_missing_headers_are_named(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD)
    headers = _signed(body)
    del headers["Wechatpay-Nonce"]
    del headers["Wechatpay-Serial"]
    with pytest.raises(MissingHeaders) as info:
        _open(body, headers, keys)
    assert "Wechatpay-Nonce" in info.value.message
    assert "Wechatpay-Serial" in info.value.message
    assert info.value.context["missing"] == ["Wechatpay-Nonce", "Wechatpay-Serial"]
    with pytest.raises(MissingHeaders):
        _open(body, {}, keys)


def test_wrong_resource_algorithm(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD, algorithm="AEAD_SM4_GCM")
    with pytest.raises(UnsupportedAlgorithm):
        _open(body, _signed(body), keys)


def test_wrong_signature_type(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD)
    headers = _signed(body) | {"Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}
    with pytest.raises(UnsupportedAlgorithm):
        _open(body, headers, keys)


def test_unknown_event_and_action_types_are_not_errors(keys: VerifierKeys) -> None:
    body = notification_body(PAYLOAD, event_type="COMPLAINT.SOMETHING_NEW")
    opened = _open(body, _signed(body), keys)
    assert (opened.known, opened.event_type) == (False, "COMPLAINT.SOMETHING_NEW")
    body = notification_body({"complaint_id": "1", "action_type": "BRAND_NEW_ACTION"})
    opened = _open(body, _signed(body), keys)
    assert (opened.known, opened.action, opened.external_id) == (False, "BRAND_NEW_ACTION", "1")


def test_misspelled_action_is_known(keys: VerifierKeys) -> None:
    body = notification_body({"complaint_id": "1", "action_type": "USER_APPLY_PLATFORM_SERIVCE"})
    assert _open(body, _signed(body), keys).known


def test_known_enums_follow_spec() -> None:
    assert {"COMPLAINT.CREATE", "COMPLAINT.STATE_CHANGE"} == KNOWN_EVENT_TYPES
    assert len(KNOWN_ACTION_TYPES) == 14
    assert {
        "SELLER_REFUND",
        "USER_APPLY_PLATFORM_SERVICE",
        "USER_APPLY_PLATFORM_SERIVCE",
    } <= KNOWN_ACTION_TYPES
