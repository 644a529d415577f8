"""The simulator's own WeChat message crypto (消息加解密): SHA-1 signatures, AES-256-CBC.

Layout of an encrypted message (spec A.6): ``base64(AES-256-CBC(key, iv=key[:16],
pkcs7_32(random16 | len(msg) big-endian u32 | msg | appid)))``
where ``key = b64decode(EncodingAESKey + "=")``.
Written independently of the channel client: a bug there must not be mirrored here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from complaintdesk.sandbox.common.png import gradient_png

BLOCK = 32  # WeChat pads to 32 bytes, not to the AES block size
_ALNUM = string.ascii_letters + string.digits


class MessageCryptoError(ValueError):
    """A message that cannot be decrypted or does not belong to the expected appid."""


def random_string(length: int = 16, alphabet: str = _ALNUM) -> str:
    """Random characters from ``alphabet`` (nonces, ids, secrets)."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def sha1_signature(*parts: str) -> str:
    """Hex SHA-1 of the parts sorted lexicographically and concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def url_signature(token: str, timestamp: str, nonce: str) -> str:
    """``signature``: over token, timestamp and nonce (URL check and every push)."""
    return sha1_signature(token, timestamp, nonce)


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``msg_signature``: over token, timestamp, nonce and the ``Encrypt`` value."""
    return sha1_signature(token, timestamp, nonce, encrypt)


def same_signature(expected: str, given: str) -> bool:
    """Constant-time comparison of two hex signatures."""
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", errors="replace"))


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey."""
    if len(encoding_aes_key) != 43 or not all(ch in _ALNUM for ch in encoding_aes_key):
        raise MessageCryptoError("EncodingAESKey must be 43 characters from [A-Za-z0-9]")
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise MessageCryptoError("EncodingAESKey does not decode to 32 bytes")
    return key


def pkcs7_pad(data: bytes, block: int = BLOCK) -> bytes:
    """PKCS#7 padding to a multiple of ``block`` (a full block when already aligned)."""
    amount = block - len(data) % block
    return data + bytes([amount]) * amount


def pkcs7_unpad(data: bytes, block: int = BLOCK) -> bytes:
    """Remove PKCS#7 padding of 1..``block`` bytes; ``MessageCryptoError`` when malformed."""
    if not data:
        raise MessageCryptoError("empty plaintext")
    amount = data[-1]
    if not 1 <= amount <= block or amount > len(data) or data[-amount:] != bytes([amount]) * amount:
        raise MessageCryptoError("bad PKCS#7 padding")
    return data[:-amount]


def encrypt_message(
    encoding_aes_key: str, appid: str, message: bytes, *, random16: bytes | None = None
) -> str:
    """The base64 ``Encrypt`` value carrying ``message`` for ``appid``."""
    key = aes_key(encoding_aes_key)
    prefix = random16 if random16 is not None else secrets.token_bytes(16)
    if len(prefix) != 16:
        raise MessageCryptoError("the random prefix must be 16 bytes")
    plain = pkcs7_pad(prefix + struct.pack(">I", len(message)) + message + appid.encode("utf-8"))
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def decrypt_message(encoding_aes_key: str, appid: str, encrypt: str) -> bytes:
    """The message inside an ``Encrypt`` value; the trailing appid must equal ``appid``."""
    key = aes_key(encoding_aes_key)
    try:
        sealed = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError):
        raise MessageCryptoError("Encrypt is not base64") from None
    if not sealed or len(sealed) % 16:
        raise MessageCryptoError("ciphertext length is not a multiple of 16")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = pkcs7_unpad(decryptor.update(sealed) + decryptor.finalize())
    if len(plain) < 20:
        raise MessageCryptoError("plaintext too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise MessageCryptoError("message length exceeds the plaintext")
    if plain[20 + length :] != appid.encode("utf-8"):
        raise MessageCryptoError("appid mismatch")
    return plain[20 : 20 + length]


def png_for(seed: str, size: int = 24) -> bytes:
    """A small deterministic RGB PNG whose colours derive from ``seed`` (complaint images)."""
    return gradient_png(seed, size, step=5)
