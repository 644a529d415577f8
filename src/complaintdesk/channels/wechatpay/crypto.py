"""Key loading, request signing, AEAD opening, OAEP decryption and signature verification for APIv3."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from complaintdesk.errors import ConfigError, DecryptFailed, SignatureInvalid, UnknownSerial

__all__ = [
    "PUBLIC_KEY_ID_PREFIX",
    "SIGNTEST_PREFIX",
    "VerifierKeys",
    "aead_open",
    "decrypt_oaep",
    "load_certificate",
    "load_private_key",
    "load_public_key",
    "sign",
]

CHANNEL = "wechatpay"
#: WeChat Pay public keys are announced in ``Wechatpay-Serial`` with this prefix.
PUBLIC_KEY_ID_PREFIX = "PUB_KEY_ID_"
#: Signatures starting with this are deliberate probes that must fail verification.
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
APIV3_KEY_LENGTH = 32


def load_private_key(pem: bytes) -> RSAPrivateKey:
    """Load the merchant API private key (``apiclient_key.pem``)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError("merchant private key is not an unencrypted PEM private key") from exc
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError("merchant private key must be an RSA key")
    return key


def load_certificate(pem: bytes) -> tuple[str, RSAPublicKey]:
    """Load an X.509 platform certificate; return (serial as uppercase hex, public key)."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise ConfigError("platform certificate is not a PEM X.509 certificate") from exc
    key = cert.public_key()
    if not isinstance(key, RSAPublicKey):
        raise ConfigError("platform certificate must carry an RSA public key")
    return format(cert.serial_number, "X"), key


def load_public_key(pem: bytes) -> RSAPublicKey:
    """Load a WeChat Pay public key (``pub_key.pem``)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ConfigError("WeChat Pay public key is not a PEM public key") from exc
    if not isinstance(key, RSAPublicKey):
        raise ConfigError("WeChat Pay public key must be an RSA key")
    return key


def sign(private_key: RSAPrivateKey, message: str) -> str:
    """Return base64 SHA256withRSA (PKCS#1 v1.5) over the UTF-8 message."""
    signature = private_key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def aead_open(apiv3_key: bytes, *, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    """Open an AEAD_AES_256_GCM resource with the APIv3 key; return the plaintext bytes."""
    if len(apiv3_key) != APIV3_KEY_LENGTH:
        raise ConfigError(f"the APIv3 key must be exactly {APIV3_KEY_LENGTH} bytes")
    try:
        data = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptFailed("encrypted resource: ciphertext is not valid base64", channel=CHANNEL) from exc
    try:
        return AESGCM(apiv3_key).decrypt(
            nonce.encode("utf-8"), data, associated_data.encode("utf-8") if associated_data else None
        )
    except (InvalidTag, ValueError) as exc:
        raise DecryptFailed(
            "encrypted resource did not authenticate: the APIv3 key is probably wrong (or data was altered)",
            channel=CHANNEL,
        ) from exc


def decrypt_oaep(private_key: RSAPrivateKey, ciphertext_b64: str) -> str:
    """Decrypt an RSA-OAEP (SHA-1, MGF1-SHA-1) field such as ``payer_phone``."""
    try:
        data = base64.b64decode(ciphertext_b64, validate=True)
        # SHA-1 is what the protocol mandates for OAEP here (RSA/ECB/OAEPWithSHA-1AndMGF1Padding)
        oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
        plain = private_key.decrypt(data, oaep)
        return plain.decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise DecryptFailed(
            "sensitive field could not be decrypted with the merchant private key", channel=CHANNEL
        ) from exc


def _normalise(serial: str) -> str:
    """Return the lookup form of a serial: public-key ids verbatim, certificate serials as bare upper hex."""
    serial = serial.strip()
    if serial.startswith(PUBLIC_KEY_ID_PREFIX):
        return serial
    return serial.upper().lstrip("0") or "0"


class VerifierKeys:
    """The platform certificates and WeChat Pay public keys trusted for response and callback signatures.

    Both kinds may be held at once (public-key migration); keys are looked up by ``Wechatpay-Serial``.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._keys: dict[str, RSAPublicKey] = {}
        self._expires: dict[str, float] = {}  # certificate serial -> not-after (epoch seconds)
        self._clock = clock

    def add_certificate(self, pem: bytes) -> str:
        """Trust a platform certificate until it expires; return its serial."""
        serial, key = load_certificate(pem)
        expires = x509.load_pem_x509_certificate(pem).not_valid_after_utc
        self.add_key(serial, key, expires=expires)
        return serial

    def add_public_key(self, key_id: str, pem: bytes) -> None:
        """Trust a WeChat Pay public key under its ``PUB_KEY_ID_…`` id."""
        if not key_id.startswith(PUBLIC_KEY_ID_PREFIX):
            raise ConfigError(f"a WeChat Pay public key id starts with {PUBLIC_KEY_ID_PREFIX}")
        self._keys[key_id] = load_public_key(pem)

    def add_key(self, serial: str, key: RSAPublicKey, *, expires: datetime | None = None) -> None:
        """Trust an already loaded public key under a serial or public-key id (until ``expires``)."""
        self._keys[_normalise(serial)] = key
        if expires is not None:
            self._expires[_normalise(serial)] = expires.timestamp()

    def expired_at(self, serial: str) -> datetime | None:
        """When the certificate ``serial`` expired, if it has (an expired certificate is never trusted)."""
        deadline = self._expires.get(_normalise(serial))
        if deadline is None or self._clock() <= deadline:
            return None
        return datetime.fromtimestamp(deadline, UTC)

    def get(self, serial: str) -> RSAPublicKey | None:
        """Return the key for ``serial`` if trusted (known and not expired)."""
        return None if self.expired_at(serial) else self._keys.get(_normalise(serial))

    def serials(self) -> list[str]:
        """Return the trusted serials and public-key ids."""
        return sorted(self._keys)

    def copy(self) -> VerifierKeys:
        """Return an independent copy."""
        other = VerifierKeys(self._clock)
        other._keys = dict(self._keys)
        other._expires = dict(self._expires)
        return other

    def __contains__(self, serial: object) -> bool:
        return isinstance(serial, str) and _normalise(serial) in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self.serials())

    def verify(self, serial: str, message: str | bytes, signature_b64: str) -> None:
        """Check a base64 SHA256withRSA signature over ``message`` with the key named by ``serial``."""
        if signature_b64.startswith(SIGNTEST_PREFIX):
            raise SignatureInvalid(
                "signature probe (WECHATPAY/SIGNTEST/) refused: probes must never verify", channel=CHANNEL
            )
        expired = self.expired_at(serial)
        if expired is not None:
            raise UnknownSerial(
                f"platform certificate {serial[:64]!r} expired at {expired.isoformat()} and is no longer "
                "trusted; download certificates",
                channel=CHANNEL,
                serial=serial[:64],
            )
        key = self._keys.get(_normalise(serial))
        if key is None:
            raise UnknownSerial(
                f"no platform certificate or public key for serial {serial[:64]!r}; "
                "download certificates or configure the WeChat Pay public key",
                channel=CHANNEL,
                serial=serial[:64],
            )
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SignatureInvalid("signature is not valid base64", channel=CHANNEL) from exc
        data = message.encode("utf-8") if isinstance(message, str) else message
        try:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise SignatureInvalid("signature does not verify", channel=CHANNEL) from exc
