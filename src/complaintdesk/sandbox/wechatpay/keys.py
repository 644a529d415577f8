"""Key material for the WeChat Pay simulator, generated at run time (never committed)."""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class MerchantCredentials:
    """What a merchant downloads from 商户平台: API key pair, certificate, APIv3 key."""

    mchid: str
    private_key_pem: bytes
    certificate_pem: bytes
    serial_no: str
    apiv3_key: str


@dataclass(frozen=True)
class PlatformKeys:
    """WeChat Pay's own keys: a platform certificate and a "WeChat Pay public key"."""

    cert_private_key_pem: bytes
    certificate_pem: bytes
    serial_no: str
    pubkey_private_key_pem: bytes
    public_key_pem: bytes
    public_key_id: str


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _self_signed(key: rsa.RSAPrivateKey, common_name: str, organization: str) -> tuple[bytes, str]:
    """A self-signed certificate and its serial as 40 uppercase hex digits."""
    serial = secrets.randbits(159) | (1 << 156)  # always exactly 40 hex digits, < 2**159
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=5 * 365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), format(serial, "X")


def generate_merchant(mchid: str) -> MerchantCredentials:
    """Fresh merchant credentials (RSA 2048, self-signed "apiclient_cert.pem", random APIv3 key)."""
    key = _new_key()
    cert_pem, serial = _self_signed(key, mchid, "微信商户系统")
    apiv3 = "".join(secrets.choice(_ALNUM) for _ in range(32))
    return MerchantCredentials(mchid, _private_pem(key), cert_pem, serial, apiv3)


def generate_platform() -> PlatformKeys:
    """Fresh WeChat Pay platform certificate and public key (with a ``PUB_KEY_ID_`` + 32 digits id)."""
    cert_key = _new_key()
    cert_pem, serial = _self_signed(cert_key, "Tenpay.com Root CA (sandbox)", "Tenpay.com")
    pub_key = _new_key()
    public_pem = pub_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_id = "PUB_KEY_ID_" + "".join(secrets.choice(string.digits) for _ in range(32))
    return PlatformKeys(_private_pem(cert_key), cert_pem, serial, _private_pem(pub_key), public_pem, key_id)


def _write(path: Path, data: bytes, mode: int) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)
    return path


def write_merchant_files(
    directory: Path, merchant: MerchantCredentials, platform: PlatformKeys
) -> dict[str, Path]:
    """Write the files a merchant would configure; secrets are mode 0600."""
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "private_key": _write(directory / "apiclient_key.pem", merchant.private_key_pem, 0o600),
        "certificate": _write(directory / "apiclient_cert.pem", merchant.certificate_pem, 0o644),
        "apiv3_key": _write(directory / "apiv3_key.txt", merchant.apiv3_key.encode("ascii"), 0o600),
        "platform_certificate": _write(directory / "platform_cert.pem", platform.certificate_pem, 0o644),
        "public_key": _write(directory / "wechatpay_pub_key.pem", platform.public_key_pem, 0o644),
    }
