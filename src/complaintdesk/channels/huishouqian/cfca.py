"""CFCA mode (account option ``sign_type="CFCA"``): business JSON is RSA-encrypted instead of signed.

UNCONFIRMED — no public document describes this mode; it follows the Baofoo-style routine found in
several PHP integrations (spec B.5), and a Java demo that disagrees (one unchunked block, Base64 output).
What we implement, and what is assumed:

* request ``signContent`` = ``encrypt(merchant private key, JSON)``; ``sign`` is sent empty;
* response ``result`` and notification ``signContent`` = ciphertext from the platform, opened with the
  platform certificate's public key; there is no signature (a forged ciphertext fails to open);
* ``encrypt``: Base64 of the UTF-8 text, split into chunks of ``chunk_size`` characters (32 in the PHP
  examples; account option ``cfca_chunk_size``, at most key size − 11 bytes), each chunk padded with
  PKCS#1 v1.5 type 1 and raised to the private exponent (OpenSSL ``private_encrypt``), each block written
  as lowercase hex of key-size bytes, all concatenated;
* ``decrypt``: the hex split into key-size blocks (256 hex characters for 1024-bit keys, 512 for 2048),
  each opened with the public key (type-1 padding removed), concatenated, Base64-decoded, UTF-8.

``cryptography`` offers no raw private-key encryption, so blocks are computed here with CRT and RSA
blinding, and each result is checked with the public exponent before it leaves.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

__all__ = ["DEFAULT_CHUNK_SIZE", "CfcaError", "decrypt", "encrypt"]

DEFAULT_CHUNK_SIZE = 32
_PADDING_OVERHEAD = 11  # PKCS#1 v1.5: 00 01 FF×8+ 00


class CfcaError(ValueError):
    """A CFCA ciphertext could not be produced or opened (wrong key, bad hex, bad padding)."""


def _private_encrypt_block(key: RSAPrivateKey, data: bytes) -> bytes:
    """RSA private-key operation on ``data`` with PKCS#1 v1.5 type-1 padding (OpenSSL private_encrypt)."""
    size = (key.key_size + 7) // 8
    if len(data) > size - _PADDING_OVERHEAD:
        raise CfcaError(f"chunk of {len(data)} bytes does not fit a {key.key_size}-bit key")
    block = b"\x00\x01" + b"\xff" * (size - 3 - len(data)) + b"\x00" + data
    numbers = key.private_numbers()
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    m = int.from_bytes(block, "big")
    while True:  # blinding: the private exponent never meets the chosen message directly
        r = secrets.randbelow(n - 3) + 2
        if math.gcd(r, n) == 1:
            break
    blinded = (m * pow(r, e, n)) % n
    s1 = pow(blinded % numbers.p, numbers.dmp1, numbers.p)
    s2 = pow(blinded % numbers.q, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (s1 - s2)) % numbers.p
    s = ((s2 + h * numbers.q) * pow(r, -1, n)) % n
    if pow(s, e, n) != m:  # pragma: no cover - a computation fault must never leak a bad block
        raise CfcaError("RSA private operation failed its own check")
    return s.to_bytes(size, "big")


def encrypt(key: RSAPrivateKey, text: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> str:
    """Encrypt ``text`` the Baofoo way with a private key; return concatenated lowercase hex blocks."""
    limit = (key.key_size + 7) // 8 - _PADDING_OVERHEAD
    if not 1 <= chunk_size <= limit:
        raise CfcaError(f"chunk size must be between 1 and {limit} for a {key.key_size}-bit key")
    encoded = base64.b64encode(text.encode("utf-8"))
    chunks = [encoded[i : i + chunk_size] for i in range(0, len(encoded), chunk_size)]
    return "".join(_private_encrypt_block(key, chunk).hex() for chunk in chunks)


def decrypt(key: RSAPublicKey, ciphertext: str) -> str:
    """Open Baofoo-style hex blocks with a public key; return the UTF-8 text."""
    width = 2 * ((key.key_size + 7) // 8)
    hex_text = ciphertext.strip()
    if not hex_text or len(hex_text) % width:
        raise CfcaError(f"ciphertext is not a whole number of {width}-hex-character blocks")
    parts: list[bytes] = []
    for start in range(0, len(hex_text), width):
        try:
            block = bytes.fromhex(hex_text[start : start + width])
            parts.append(key.recover_data_from_signature(block, padding.PKCS1v15(), None))
        except (ValueError, InvalidSignature) as exc:
            raise CfcaError(f"block {start // width + 1} does not open with this key") from exc
    try:
        return base64.b64decode(b"".join(parts), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CfcaError("opened blocks are not Base64 of UTF-8 text") from exc
