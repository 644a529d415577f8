"""An independent reference of WeChat message crypto, written from the spec with ``cryptography`` directly.

Nothing here imports the code under test: messages built with it check our decryption and signatures.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OTHER_ENCODING_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
APPID = "wxb11529c136998cb6"
TOKEN = "pamtest"


def ref_signature(*parts: str) -> str:
    """sha1 over the lexicographically sorted, concatenated parts (hex)."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def ref_key(encoding_aes_key: str = ENCODING_AES_KEY) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    assert len(key) == 32
    return key


def ref_encrypt_plain(plain: bytes, encoding_aes_key: str = ENCODING_AES_KEY) -> str:
    """AES-256-CBC (IV = key[:16]) of an already padded plaintext, base64."""
    assert len(plain) % 16 == 0
    key = ref_key(encoding_aes_key)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def ref_layout(message: bytes, appid: str = APPID, random16: bytes = b"0123456789abcdef") -> bytes:
    """random16 | big-endian length | message | appid, without padding."""
    return random16 + struct.pack(">I", len(message)) + message + appid.encode("utf-8")


def ref_pad(data: bytes, block: int = 32) -> bytes:
    count = block - len(data) % block
    return data + bytes([count]) * count


def ref_encrypt(
    message: bytes,
    *,
    appid: str = APPID,
    encoding_aes_key: str = ENCODING_AES_KEY,
    random16: bytes = b"0123456789abcdef",
) -> str:
    """The ``Encrypt`` value WeChat would send for ``message``."""
    return ref_encrypt_plain(ref_pad(ref_layout(message, appid, random16)), encoding_aes_key)


def ref_decrypt(encrypted: str, encoding_aes_key: str = ENCODING_AES_KEY) -> tuple[bytes, bytes]:
    """(message, appid) of an ``Encrypt`` value."""
    key = ref_key(encoding_aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length], plain[20 + length :]


def signed_query(
    *,
    timestamp: str = "1714036504",
    nonce: str = "1514711492",
    token: str = TOKEN,
    encrypt: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """Query of a push: signature always; msg_signature and encrypt_type when ``encrypt`` is given."""
    query = {"timestamp": timestamp, "nonce": nonce, "signature": ref_signature(token, timestamp, nonce)}
    if encrypt is not None:
        query["msg_signature"] = ref_signature(token, timestamp, nonce, encrypt)
        query["encrypt_type"] = "aes"
    query.update(extra)
    return query
