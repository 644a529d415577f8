"""Key material for the Huishouqian simulator, generated at run time (never committed)."""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

RSA2, CFCA = "RSA2", "CFCA"
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class MerchantCredentials:
    """What Huishouqian issues to a merchant: ``*_pri.pfx`` + password, its certificate, the sign key."""

    merchant_no: str
    pkcs12: bytes  # private key and certificate, encrypted with ``pkcs12_password``
    pkcs12_password: str
    certificate_pem: bytes  # the merchant's public certificate (what the gateway verifies with)
    sign_key: str  # 32 lowercase hex characters ("签名混淆KEY"), appended as ``&key=`` and never sent
    sign_type: str = RSA2  # how the merchant is provisioned: ``RSA2`` (signatures) or ``CFCA`` (encryption)


@dataclass(frozen=True)
class PlatformKeys:
    """Huishouqian's own key pair; its certificate is what merchants receive as ``MANDAO_<no>_pub.cer``."""

    private_key_pem: bytes
    certificate_pem: bytes

    def certificate_der(self) -> bytes:
        """The platform certificate DER-encoded."""
        cert = x509.load_pem_x509_certificate(self.certificate_pem)
        return cert.public_bytes(serialization.Encoding.DER)


def _new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _self_signed(key: rsa.RSAPrivateKey, common_name: str, organization: str) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=5 * 365))
        .sign(key, hashes.SHA256())
    )


def generate_merchant(
    merchant_no: str, *, sign_type: str = RSA2, key_size: int = 2048
) -> MerchantCredentials:
    """Fresh credentials: RSA key pair in a password-protected PKCS#12, certificate, random sign key."""
    if sign_type not in (RSA2, CFCA):
        raise ValueError("sign_type must be RSA2 or CFCA")
    key = _new_key(key_size)
    cert = _self_signed(key, merchant_no, "慧收钱商户 (sandbox)")
    password = "".join(secrets.choice(_ALNUM) for _ in range(16))
    bundle = pkcs12.serialize_key_and_certificates(
        merchant_no.encode("ascii"),
        key,
        cert,
        None,
        serialization.BestAvailableEncryption(password.encode("ascii")),
    )
    return MerchantCredentials(
        merchant_no=merchant_no,
        pkcs12=bundle,
        pkcs12_password=password,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM),
        sign_key=secrets.token_hex(16),
        sign_type=sign_type,
    )


def generate_platform() -> PlatformKeys:
    """Fresh platform key pair and self-signed certificate (RSA 2048)."""
    key = _new_key()
    cert = _self_signed(key, "MANDAO Huishouqian platform (sandbox)", "MANDAO")
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return PlatformKeys(private_pem, cert.public_bytes(serialization.Encoding.PEM))


def _write(path: Path, data: bytes, mode: int) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)
    return path


def write_merchant_files(
    directory: Path,
    merchant: MerchantCredentials,
    platform: PlatformKeys,
    *,
    certificate_format: Literal["pem", "der"] = "pem",
) -> dict[str, Path]:
    """Write what a merchant configures (``<no>_pri.pfx``, its password, ``MANDAO_<no>_pub.cer``, sign key).

    Secrets are mode 0600; the platform certificate is PEM unless ``certificate_format="der"``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    no = merchant.merchant_no
    cert = platform.certificate_pem if certificate_format == "pem" else platform.certificate_der()
    return {
        "private_key_p12": _write(directory / f"{no}_pri.pfx", merchant.pkcs12, 0o600),
        "private_key_password": _write(
            directory / f"{no}_pri_password.txt", merchant.pkcs12_password.encode("ascii"), 0o600
        ),
        "platform_certificate": _write(directory / f"MANDAO_{no}_pub.cer", cert, 0o644),
        "sign_key": _write(directory / f"{no}_sign_key.txt", merchant.sign_key.encode("ascii"), 0o600),
    }
