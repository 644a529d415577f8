"""Platform-certificate rotation in the WeChat Pay simulator: issue a new one, overlap, retire the old.

WeChat Pay lists every valid platform certificate in ``GET /v3/certificates`` and signs with the newest;
a merchant seeing an unknown ``Wechatpay-Serial`` downloads the list again (spec §3.3). ``rotate`` issues
a certificate that becomes the signer while the old one stays listed (the overlap); ``retire`` removes one.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from complaintdesk.sandbox.wechatpay.crypto import load_private_key
from complaintdesk.sandbox.wechatpay.keys import PlatformKeys, _new_key, _self_signed


@dataclass(frozen=True)
class IssuedCertificate:
    """One platform certificate with its signing key."""

    serial_no: str
    certificate_pem: bytes
    private_key: rsa.RSAPrivateKey

    @property
    def certificate(self) -> x509.Certificate:
        """The parsed certificate."""
        return x509.load_pem_x509_certificate(self.certificate_pem)


class CertificateRing:
    """The platform certificates currently valid, oldest first; the newest signs."""

    def __init__(self, platform: PlatformKeys) -> None:
        first = IssuedCertificate(
            platform.serial_no, platform.certificate_pem, load_private_key(platform.cert_private_key_pem)
        )
        self._issued: list[IssuedCertificate] = [first]

    @property
    def current(self) -> IssuedCertificate:
        """The certificate that signs answers and notifications."""
        return self._issued[-1]

    def active(self) -> list[IssuedCertificate]:
        """Every listed certificate, oldest first."""
        return list(self._issued)

    def rotate(self) -> IssuedCertificate:
        """Issue a new certificate; it signs from now on, the old ones stay listed until retired."""
        key = _new_key()
        pem, serial = _self_signed(key, "Tenpay.com Root CA (sandbox)", "Tenpay.com")
        issued = IssuedCertificate(serial, pem, key)
        self._issued.append(issued)
        return issued

    def retire(self, serial_no: str) -> None:
        """Stop listing ``serial_no`` and stop trusting it (``ValueError``: unknown, or the last one)."""
        wanted = serial_no.upper().lstrip("0")
        matches = [c for c in self._issued if c.serial_no.lstrip("0") == wanted]
        if not matches:
            raise ValueError(f"no active platform certificate with serial {serial_no[:64]}")
        if len(self._issued) == 1:
            raise ValueError("the only platform certificate cannot be retired; rotate first")
        self._issued.remove(matches[0])
