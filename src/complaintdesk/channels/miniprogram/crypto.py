"""WeChat message crypto of the Mini Program message server: SHA-1 signatures and AES-256-CBC envelopes.

The protocol (spec A.6):

* ``signature`` = hex SHA-1 of the lexicographically sorted, concatenated token, timestamp and nonce;
  ``msg_signature`` adds the ``Encrypt`` value to the sorted list;
* AESKey = base64-decode(EncodingAESKey + "="): 43 letters and digits become 32 bytes; IV = AESKey[:16];
* ``Encrypt`` = base64(AES-256-CBC(PKCS#7 padded to 32-byte blocks of random16 | len (4 bytes, big-endian)
  | message | appid)); the trailing appid must be ours.

Every refusal raises a ``WebhookError`` subclass naming what is wrong (never a key or the plaintext).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from complaintdesk.errors import ConfigError, DecryptFailed, SignatureInvalid

__all__ = [
    "ENCODING_AES_KEY_LENGTH",
    "PAD_BLOCK",
    "aes_key",
    "check_signature",
    "decrypt",
    "encrypt",
    "signature",
]

CHANNEL = "miniprogram"
ENCODING_AES_KEY_LENGTH = 43
#: PKCS#7 padding of WeChat messages is computed for 32-byte blocks (pad bytes 1..32).
PAD_BLOCK = 32
_AES_BLOCK = 16
_RANDOM_PREFIX = 16
_LENGTH_FIELD = 4
_KEY_RE = re.compile(rf"[A-Za-z0-9]{{{ENCODING_AES_KEY_LENGTH}}}")


def signature(*parts: str) -> str:
    """Return the hex SHA-1 of the sorted, concatenated ``parts`` (WeChat's ``signature`` scheme)."""
    joined = "".join(sorted(parts)).encode("utf-8")
    # SHA-1 is what the WeChat message protocol mandates for these signatures
    return hashlib.sha1(joined).hexdigest()  # noqa: S324


def check_signature(presented: str | None, *parts: str, what: str) -> None:
    """Compare ``presented`` with the signature of ``parts`` in constant time, else ``SignatureInvalid``."""
    if not presented:
        raise SignatureInvalid(f"{what} is missing", channel=CHANNEL)
    expected = signature(*parts).encode("ascii")
    given = presented.strip().lower().encode("utf-8", errors="replace")
    if not hmac.compare_digest(expected, given):
        raise SignatureInvalid(
            f"{what} does not verify: check the Token configured for this mini program's message server",
            channel=CHANNEL,
        )


def aes_key(encoding_aes_key: str | bytes) -> bytes:
    """Turn the 43-character EncodingAESKey into the 32-byte AES key; ``ConfigError`` when it is malformed."""
    text = (
        encoding_aes_key.decode("ascii", errors="replace")
        if isinstance(encoding_aes_key, bytes)
        else encoding_aes_key
    )
    text = text.strip()
    if not _KEY_RE.fullmatch(text):
        raise ConfigError(
            f"the EncodingAESKey must be exactly {ENCODING_AES_KEY_LENGTH} letters and digits "
            f"(got {len(text)} characters)"
        )
    key = base64.b64decode(text + "=")
    if len(key) != 32:  # pragma: no cover - 43 base64 characters plus "=" always decode to 32 bytes
        raise ConfigError("the EncodingAESKey does not decode to 32 bytes")
    return key


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    if len(key) != 32:
        raise ConfigError("the AES key must be 32 bytes (use aes_key() on the EncodingAESKey)")
    return Cipher(algorithms.AES(key), modes.CBC(key[:_AES_BLOCK]))


def decrypt(key: bytes, encrypted: str, *, appid: str) -> bytes:
    """Open an ``Encrypt`` value and return the message bytes; the trailing appid must equal ``appid``."""
    try:
        data = base64.b64decode(encrypted.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptFailed("Encrypt is not valid base64 (truncated or altered)", channel=CHANNEL) from exc
    if not data or len(data) % _AES_BLOCK:
        raise DecryptFailed(
            f"Encrypt holds {len(data)} bytes, not a whole number of AES blocks (truncated or altered)",
            channel=CHANNEL,
        )
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= PAD_BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
        raise DecryptFailed(
            "decrypted message has bad padding: the EncodingAESKey is probably wrong "
            "(or the message was altered)",
            channel=CHANNEL,
        )
    body = plain[:-pad]
    header = _RANDOM_PREFIX + _LENGTH_FIELD
    if len(body) < header:
        raise DecryptFailed("decrypted message is too short to hold its length field", channel=CHANNEL)
    length = int.from_bytes(body[_RANDOM_PREFIX:header], "big")
    if header + length > len(body):
        raise DecryptFailed(
            "decrypted message length field exceeds the data: the EncodingAESKey is probably wrong",
            channel=CHANNEL,
        )
    message = body[header : header + length]
    sender = body[header + length :]
    if not hmac.compare_digest(sender, appid.encode("utf-8")):
        shown = sender[:40].decode("utf-8", errors="replace")
        raise DecryptFailed(
            f"the message is for appid {shown!r}, not this account's appid {appid[:40]!r}", channel=CHANNEL
        )
    return message


def encrypt(key: bytes, message: bytes, *, appid: str, random16: bytes | None = None) -> str:
    """Build an ``Encrypt`` value for ``message`` (used for encrypted replies and round-trip tests)."""
    prefix = os.urandom(_RANDOM_PREFIX) if random16 is None else random16
    if len(prefix) != _RANDOM_PREFIX:
        raise ValueError("random16 must be 16 bytes")
    plain = prefix + len(message).to_bytes(_LENGTH_FIELD, "big") + message + appid.encode("utf-8")
    pad = PAD_BLOCK - len(plain) % PAD_BLOCK
    plain += bytes([pad]) * pad
    encryptor = _cipher(key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")
