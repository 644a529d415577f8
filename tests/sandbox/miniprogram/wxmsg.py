"""The test's own, independent implementation of WeChat's message signatures and AES-CBC envelope."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree


def sha1_sorted(*values: str) -> str:
    joined = "".join(sorted(values))
    return hashlib.sha1(joined.encode()).hexdigest()


def _key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    assert len(key) == 32
    return key


def decrypt(encoding_aes_key: str, encrypt: str) -> tuple[bytes, str, int]:
    """(message, trailing appid, pad length) of an ``Encrypt`` value."""
    key = _key(encoding_aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    raw = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
    pad = raw[-1]
    assert 1 <= pad <= 32 and raw.endswith(bytes([pad]) * pad), "PKCS#7 to 32 bytes"
    raw = raw[:-pad]
    (length,) = struct.unpack("!I", raw[16:20])
    return raw[20 : 20 + length], raw[20 + length :].decode(), pad


def encrypt(encoding_aes_key: str, appid: str, message: bytes) -> str:
    key = _key(encoding_aes_key)
    plain = os.urandom(16) + struct.pack("!I", len(message)) + message + appid.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def xml_fields(body: bytes) -> dict[str, Any]:
    """Top-level XML children as text; ``BussiCallBackInfo`` as a dict with a ``history`` list."""
    root = ElementTree.fromstring(body)
    out: dict[str, Any] = {}
    for child in root:
        if child.tag == "BussiCallBackInfo":
            info: dict[str, Any] = {"history": []}
            for field in child:
                if field.tag == "history":
                    info["history"].append({sub.tag: sub.text or "" for sub in field})
                else:
                    info[field.tag] = field.text or ""
            out["BussiCallBackInfo"] = info
        else:
            out[child.tag] = child.text or ""
    return out


def parse(body: bytes, fmt: str) -> dict[str, Any]:
    return xml_fields(body) if fmt == "xml" else json.loads(body)
