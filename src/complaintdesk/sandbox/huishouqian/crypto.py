"""The simulator's own primitives: sign strings, SHA256withRSA in lowercase hex, the CFCA routine, images.

CFCA ("Baofoo-style", spec B.5, details UNCONFIRMED): Base64 the UTF-8 JSON, cut the Base64 text into
chunks (``CFCA_CHUNK`` characters), RSA-*private*-key encrypt each chunk with PKCS#1 v1.5 type-1 padding
(what PHP's ``openssl_private_encrypt`` does), concatenate the blocks as hex. Decryption splits the hex
into key-size blocks (512 hex characters for RSA 2048), public-key "decrypts" each, joins and Base64-decodes,
so it does not depend on the chunk size the other side chose.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from complaintdesk.sandbox.common.png import gradient_png, match_magic

#: Base64 characters per encrypted block (≤ 117 fits RSA 1024 and 2048; PHP samples use 32).
CFCA_CHUNK = 117
_LOWER_HEX = re.compile(r"[0-9a-f]+")
_HEX = re.compile(r"[0-9a-fA-F]+")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"BM", "bmp"))


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from unencrypted PEM (our generated keys: slow validation skipped)."""
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


SIGNED_FIELDS = ("method", "version", "format", "merchantNo", "signType", "signContent")


def request_sign_string(fields: dict[str, str], key: str) -> str:
    """``method=…&version=…&format=…&merchantNo=…&signType=…&signContent=…&key=…`` (fixed order, raw)."""
    return "&".join([*(f"{name}={fields.get(name, '')}" for name in SIGNED_FIELDS), f"key={key}"])


def success_sign_string(result: str, success: str, key: str) -> str:
    """``result=<result string>&success=<success>&key=<key>``."""
    return f"result={result}&success={success}&key={key}"


def error_sign_string(code: str, message: str, success: str, key: str) -> str:
    """``errorCode=…&errorMsg=…&success=…&key=…``."""
    return f"errorCode={code}&errorMsg={message}&success={success}&key={key}"


def sign_hex(key: rsa.RSAPrivateKey, text: str) -> str:
    """SHA256withRSA (PKCS#1 v1.5) over UTF-8 ``text``, lowercase hex."""
    return key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()).hex()


def verify_hex(key: rsa.RSAPublicKey, text: str, signature: str) -> bool:
    """True when ``signature`` is lowercase hex of a valid SHA256withRSA signature of ``text``."""
    if not _LOWER_HEX.fullmatch(signature) or len(signature) % 2:
        return False
    try:
        key.verify(bytes.fromhex(signature), text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _size(n: int) -> int:
    return (n.bit_length() + 7) // 8


def _private_block(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """``data`` padded with PKCS#1 v1.5 type 1, then raised to d (CRT)."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    size = _size(n)
    if len(data) > size - 11:
        raise ValueError("chunk too long for the key")
    block = b"\x00\x01" + b"\xff" * (size - 3 - len(data)) + b"\x00" + data
    m = int.from_bytes(block, "big")
    m1, m2 = pow(m, numbers.dmp1, numbers.p), pow(m, numbers.dmq1, numbers.q)
    c = m2 + ((numbers.iqmp * (m1 - m2)) % numbers.p) * numbers.q
    return c.to_bytes(size, "big")


def _public_block(key: rsa.RSAPublicKey, block: bytes) -> bytes:
    """Raise ``block`` to e and strip the type-1 padding; ``ValueError`` if it is not there."""
    numbers = key.public_numbers()
    c = int.from_bytes(block, "big")
    if c >= numbers.n:
        raise ValueError("block out of range")
    em = pow(c, numbers.e, numbers.n).to_bytes(_size(numbers.n), "big")
    end = em.find(b"\x00", 2)
    if em[:2] != b"\x00\x01" or end < 10 or em[2:end].strip(b"\xff"):
        raise ValueError("bad padding")
    return em[end + 1 :]


def cfca_encrypt(key: rsa.RSAPrivateKey, plaintext: str, chunk: int = CFCA_CHUNK) -> str:
    """The CFCA routine: Base64, chunks of ``chunk`` characters, private-key blocks, lowercase hex."""
    text = base64.b64encode(plaintext.encode("utf-8"))
    blocks = [_private_block(key, text[i : i + chunk]) for i in range(0, len(text), chunk)]
    return b"".join(blocks).hex()


def cfca_decrypt(key: rsa.RSAPublicKey, ciphertext: str) -> str:
    """Reverse ``cfca_encrypt`` with the signer's public key; ``ValueError`` when it does not decrypt."""
    step = 2 * _size(key.public_numbers().n)
    if not ciphertext or len(ciphertext) % step or not _HEX.fullmatch(ciphertext):
        raise ValueError("ciphertext is not whole hex blocks")
    text = b"".join(
        _public_block(key, bytes.fromhex(ciphertext[i : i + step])) for i in range(0, len(ciphertext), step)
    )
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("decrypted text is not Base64 UTF-8") from exc


def image_suffix(data: bytes) -> str | None:
    """``png``/``jpg``/``bmp`` judged by magic bytes, else None."""
    return match_magic(data, _MAGIC)


def png_for(seed: str, size: int = 24) -> bytes:
    """A small deterministic RGB PNG whose colours derive from ``seed``."""
    return gradient_png(seed, size, step=5)
