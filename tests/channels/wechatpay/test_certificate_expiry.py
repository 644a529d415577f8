"""An expired platform certificate is no longer trusted, however it was learnt."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from complaintdesk.channels.wechatpay.crypto import VerifierKeys
from complaintdesk.errors import UnknownSerial

from .keys import certificate_pem, rsa_key, serial_hex

SERIAL = 0x5A5A01


def _signed(message: bytes) -> str:
    signature = rsa_key("expiring").sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def _not_after() -> float:
    return x509.load_pem_x509_certificate(certificate_pem("expiring", SERIAL)).not_valid_after_utc.timestamp()


def test_valid_certificate_verifies() -> None:
    keys = VerifierKeys()
    keys.add_certificate(certificate_pem("expiring", SERIAL))
    keys.verify(serial_hex(SERIAL), b"ts\nnonce\nbody\n", _signed(b"ts\nnonce\nbody\n"))
    assert keys.expired_at(serial_hex(SERIAL)) is None


def test_expired_certificate_is_refused_with_its_expiry() -> None:
    now = [time.time()]
    keys = VerifierKeys(clock=lambda: now[0])
    keys.add_certificate(certificate_pem("expiring", SERIAL))
    copy = keys.copy()  # e.g. the candidate set of a certificate download
    now[0] = _not_after() + 1
    for verifier in (keys, copy):
        assert verifier.get(serial_hex(SERIAL)) is None
        with pytest.raises(UnknownSerial, match=r"expired at .* no longer trusted"):
            verifier.verify(serial_hex(SERIAL), b"m", _signed(b"m"))


def test_public_keys_never_expire() -> None:
    keys = VerifierKeys(clock=lambda: 4_000_000_000.0)
    pem = x509.load_pem_x509_certificate(certificate_pem("expiring", SERIAL)).public_key()
    keys.add_key("PUB_KEY_ID_0112345678901234567890123456789012", pem)
    keys.verify("PUB_KEY_ID_0112345678901234567890123456789012", b"m", _signed(b"m"))
