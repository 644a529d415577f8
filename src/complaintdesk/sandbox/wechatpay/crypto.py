"""The simulator's own primitives: SHA256withRSA, RSA-OAEP(SHA-1), AES-256-GCM, PNG bytes."""

from __future__ import annotations

import base64
import secrets
import string

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from complaintdesk.sandbox.common.png import gradient_png

_ALNUM = string.ascii_letters + string.digits


def random_string(length: int = 32) -> str:
    """Random ASCII alphanumerics (nonces)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM (our own generated keys: the slow validation is skipped)."""
    key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("expected an RSA private key")
    return key


def certificate_public_key(cert_pem: bytes) -> rsa.RSAPublicKey:
    """The RSA public key inside an X.509 PEM certificate."""
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("expected an RSA certificate")
    return key


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 SHA256withRSA (PKCS#1 v1.5)."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def verify(key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is a valid SHA256withRSA signature of ``message``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def oaep_encrypt(key: rsa.RSAPublicKey, plaintext: str) -> str:
    """Base64 RSAES-OAEP with SHA-1 / MGF1-SHA-1 (how WeChat encrypts ``payer_phone``)."""
    pad = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    return base64.b64encode(key.encrypt(plaintext.encode("utf-8"), pad)).decode("ascii")


def aead_encrypt(apiv3_key: str, plaintext: bytes, associated_data: str) -> tuple[str, str]:
    """AES-256-GCM with the APIv3 key; returns (12-char nonce, base64 ciphertext||tag)."""
    nonce = random_string(12)
    sealed = AESGCM(apiv3_key.encode("ascii")).encrypt(
        nonce.encode("ascii"), plaintext, associated_data.encode("utf-8")
    )
    return nonce, base64.b64encode(sealed).decode("ascii")


def png_for(media_id: str, size: int = 32) -> bytes:
    """A small deterministic RGB PNG whose colours derive from ``media_id``."""
    return gradient_png(media_id, size, step=4)
