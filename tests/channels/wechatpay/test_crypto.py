"""Tier 1: key loading, signing, AEAD, OAEP and the verifier key set."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from complaintdesk.channels.wechatpay.crypto import (
    VerifierKeys,
    aead_open,
    decrypt_oaep,
    load_certificate,
    load_private_key,
    load_public_key,
    sign,
)
from complaintdesk.errors import ConfigError, DecryptFailed, SignatureInvalid, UnknownSerial

from .keys import (
    APIV3_KEY,
    PUB_KEY_ID,
    aead_seal,
    certificate_pem,
    oaep_encrypt,
    private_pem,
    public_pem,
    rsa_key,
    rsa_sign,
    rsa_verify,
    serial_hex,
)

SERIAL = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1


def test_sign_verifies_with_cryptography_directly() -> None:
    key = rsa_key("merchant")
    message = "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    rsa_verify(key, message.encode(), sign(load_private_key(private_pem(key)), message))


def test_load_private_key_refuses_garbage_and_non_rsa() -> None:
    with pytest.raises(ConfigError):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigError, match="RSA"):
        load_private_key(ec_pem)


def test_load_certificate_returns_uppercase_hex_serial() -> None:
    serial, key = load_certificate(certificate_pem("platform", SERIAL))
    assert serial == "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    assert key.public_numbers() == rsa_key("platform").public_key().public_numbers()
    with pytest.raises(ConfigError):
        load_certificate(b"not a certificate")


def test_load_public_key() -> None:
    key = load_public_key(public_pem(rsa_key("pubkey")))
    assert key.public_numbers() == rsa_key("pubkey").public_key().public_numbers()
    with pytest.raises(ConfigError):
        load_public_key(b"junk")


def test_aead_open_round_trip() -> None:
    sealed = aead_seal(APIV3_KEY, b'{"a":1}', associated_data="certificate", nonce="abcdefghijkl")
    assert aead_open(APIV3_KEY, nonce="abcdefghijkl", associated_data="certificate", ciphertext=sealed) == (
        b'{"a":1}'
    )


def test_aead_open_empty_associated_data() -> None:
    sealed = aead_seal(APIV3_KEY, b"x", associated_data="", nonce="abcdefghijkl")
    assert aead_open(APIV3_KEY, nonce="abcdefghijkl", associated_data="", ciphertext=sealed) == b"x"


def test_aead_open_wrong_key_says_apiv3_key() -> None:
    sealed = aead_seal(APIV3_KEY, b"x", associated_data="complaint", nonce="abcdefghijkl")
    with pytest.raises(DecryptFailed, match="APIv3 key"):
        aead_open(b"X" * 32, nonce="abcdefghijkl", associated_data="complaint", ciphertext=sealed)


def test_aead_open_wrong_aad_and_tampering() -> None:
    sealed = aead_seal(APIV3_KEY, b"hello", associated_data="complaint", nonce="abcdefghijkl")
    with pytest.raises(DecryptFailed):
        aead_open(APIV3_KEY, nonce="abcdefghijkl", associated_data="other", ciphertext=sealed)
    raw = bytearray(base64.b64decode(sealed))
    raw[0] ^= 1
    with pytest.raises(DecryptFailed):
        aead_open(
            APIV3_KEY,
            nonce="abcdefghijkl",
            associated_data="complaint",
            ciphertext=base64.b64encode(raw).decode(),
        )
    with pytest.raises(DecryptFailed, match="base64"):
        aead_open(APIV3_KEY, nonce="abcdefghijkl", associated_data="complaint", ciphertext="!!!")


def test_aead_open_key_length_is_config_error() -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        aead_open(b"short", nonce="abcdefghijkl", associated_data="", ciphertext="")


def test_decrypt_oaep_phone() -> None:
    key = rsa_key("merchant")
    ciphertext = oaep_encrypt(key, "13800138000")
    assert decrypt_oaep(key, ciphertext) == "13800138000"


def test_decrypt_oaep_failure_hides_value() -> None:
    ciphertext = oaep_encrypt(rsa_key("other"), "13800138000")
    with pytest.raises(DecryptFailed) as info:
        decrypt_oaep(rsa_key("merchant"), ciphertext)
    assert "13800138000" not in str(info.value)
    assert ciphertext not in str(info.value)


def _keys() -> VerifierKeys:
    keys = VerifierKeys()
    keys.add_certificate(certificate_pem("platform", SERIAL))
    keys.add_public_key(PUB_KEY_ID, public_pem(rsa_key("pubkey")))
    return keys


def test_verifier_holds_certificate_and_public_key_together() -> None:
    keys = _keys()
    assert keys.serials() == sorted([serial_hex(SERIAL), PUB_KEY_ID])
    keys.verify(serial_hex(SERIAL), "m\n", rsa_sign(rsa_key("platform"), b"m\n"))
    keys.verify(PUB_KEY_ID, b"m\n", rsa_sign(rsa_key("pubkey"), b"m\n"))
    with pytest.raises(SignatureInvalid):
        keys.verify(PUB_KEY_ID, "m\n", rsa_sign(rsa_key("platform"), b"m\n"))


def test_verifier_serial_lookup_is_case_and_zero_tolerant() -> None:
    keys = _keys()
    signature = rsa_sign(rsa_key("platform"), b"m")
    keys.verify(serial_hex(SERIAL).lower(), "m", signature)
    keys.verify("00" + serial_hex(SERIAL), "m", signature)
    assert serial_hex(SERIAL).lower() in keys


def test_verifier_refusals() -> None:
    keys = _keys()
    with pytest.raises(UnknownSerial):
        keys.verify("ABCDEF", "m", rsa_sign(rsa_key("platform"), b"m"))
    with pytest.raises(SignatureInvalid, match="probe"):
        keys.verify(serial_hex(SERIAL), "m", "WECHATPAY/SIGNTEST/" + rsa_sign(rsa_key("platform"), b"m"))
    with pytest.raises(SignatureInvalid, match="base64"):
        keys.verify(serial_hex(SERIAL), "m", "not base64!")
    with pytest.raises(SignatureInvalid):
        keys.verify(serial_hex(SERIAL), "m2", rsa_sign(rsa_key("platform"), b"m"))


def test_signtest_probe_refused_even_for_unknown_serial() -> None:
    with pytest.raises(SignatureInvalid, match="probe"):
        VerifierKeys().verify("NOPE", "m", "WECHATPAY/SIGNTEST/abc")


def test_add_public_key_requires_prefix_and_copy_is_independent() -> None:
    keys = _keys()
    with pytest.raises(ConfigError):
        keys.add_public_key("1234", public_pem(rsa_key("pubkey")))
    other = keys.copy()
    other.add_certificate(certificate_pem("platform2", 0xABC))
    assert "ABC" in other
    assert "ABC" not in keys
    assert len(other) == len(keys) + 1
