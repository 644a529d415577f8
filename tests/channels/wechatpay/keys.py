"""Test key material and independent WeChat-side primitives, built with ``cryptography`` directly.

Nothing here calls the code under test: these helpers play WeChat Pay's role.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

APIV3_KEY = b"0123456789abcdefghijABCDEFGHIJ01"  # 32 bytes
PUB_KEY_ID = "PUB_KEY_ID_0112345678901234567890123456789012"


@cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """Return a 2048-bit RSA key, one per name (cached: generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def certificate_pem(name: str, serial: int) -> bytes:
    """Return a self-signed certificate for ``rsa_key(name)`` with the given serial."""
    key = rsa_key(name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Tenpay.com {name}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def serial_hex(serial: int) -> str:
    """Uppercase hex form WeChat uses for a certificate serial."""
    return format(serial, "X")


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#8 PEM of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    """SubjectPublicKeyInfo PEM of a key's public half."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 SHA256withRSA PKCS#1 v1.5."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(key: rsa.RSAPrivateKey, message: bytes, signature_b64: str) -> None:
    """Raise InvalidSignature unless the signature verifies."""
    key.public_key().verify(base64.b64decode(signature_b64), message, padding.PKCS1v15(), hashes.SHA256())


def oaep_encrypt(key: rsa.RSAPrivateKey, text: str) -> str:
    """Encrypt like WeChat does for ``payer_phone``: RSA-OAEP SHA-1/MGF1-SHA-1, base64."""
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    return base64.b64encode(key.public_key().encrypt(text.encode(), oaep)).decode()


def aead_seal(apiv3_key: bytes, plaintext: bytes, *, associated_data: str, nonce: str) -> str:
    """AES-256-GCM encrypt; return base64(ciphertext || tag)."""
    sealed = AESGCM(apiv3_key).encrypt(nonce.encode(), plaintext, associated_data.encode() or None)
    return base64.b64encode(sealed).decode()


def new_nonce(length: int = 12) -> str:
    """Random alphanumeric nonce."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def signed_headers(
    key: rsa.RSAPrivateKey, serial: str, body: bytes, *, timestamp: int, nonce: str | None = None
) -> dict[str, str]:
    """Headers WeChat puts on a signed response or notification."""
    nonce = nonce or new_nonce(32)
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(key, message),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Request-ID": "08F4A1B2C3D4E5F6-" + new_nonce(8),
    }


def notification_body(
    plaintext: dict[str, Any] | bytes,
    *,
    apiv3_key: bytes = APIV3_KEY,
    event_type: str = "COMPLAINT.STATE_CHANGE",
    algorithm: str = "AEAD_AES_256_GCM",
    notification_id: str = "1f5b9cd1-7205-58fe-827e-ee8b12bc8169",
    associated_data: str = "complaint",
) -> bytes:
    """Build an encrypted complaint notification body like WeChat sends."""
    raw = plaintext if isinstance(plaintext, bytes) else json.dumps(plaintext).encode()
    nonce = new_nonce(12)
    doc = {
        "id": notification_id,
        "create_time": "2024-03-01T10:20:30+08:00",
        "event_type": event_type,
        "resource_type": "encrypt-resource",
        "summary": "投诉状态变更",
        "resource": {
            "algorithm": algorithm,
            "ciphertext": aead_seal(apiv3_key, raw, associated_data=associated_data, nonce=nonce),
            "nonce": nonce,
            "associated_data": associated_data,
            "original_type": "complaint",
        },
    }
    return json.dumps(doc, ensure_ascii=False).encode()
