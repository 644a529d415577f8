"""Test keys and an independent Huishouqian side (RSA2 and CFCA with ``cryptography`` / plain integers).

Nothing here calls the code under test: these helpers play the gateway's role.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from functools import cache
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

MERCHANT_NO = "814000473149"
SIGN_KEY = "0123456789abcdef0123456789abcdef"
P12_PASSWORD = b"123456"
ORDER = ("method", "version", "format", "merchantNo", "signType", "signContent")


@cache
def _generate(name: str, size: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def rsa_key(name: str, size: int = 2048) -> rsa.RSAPrivateKey:
    """One RSA key per (name, size); cached because generation is slow."""
    return _generate(name, size)


@cache
def _certificate(name: str, size: int) -> x509.Certificate:
    key = rsa_key(name, size)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"MANDAO_{name}")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def certificate(name: str, size: int = 2048) -> x509.Certificate:
    """A self-signed certificate for ``rsa_key(name, size)`` (cached)."""
    return _certificate(name, size)


def certificate_bytes(name: str, *, der: bool = False, size: int = 2048) -> bytes:
    """The certificate as PEM (default) or DER (``.cer`` files are often DER)."""
    encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
    return certificate(name, size).public_bytes(encoding)


def pkcs12_bytes(name: str, password: bytes | None = P12_PASSWORD, size: int = 2048) -> bytes:
    """A ``*_pri.pfx`` holding ``rsa_key(name)`` and its certificate."""
    algorithm = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return pkcs12.serialize_key_and_certificates(
        b"merchant", rsa_key(name, size), certificate(name, size), None, algorithm
    )


def rsa2_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    """SHA256withRSA PKCS#1 v1.5 over UTF-8, lowercase hex (the gateway's signer)."""
    return key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()).hex()


def rsa2_verify(key: rsa.RSAPrivateKey, message: str, signature_hex: str) -> None:
    """Raise InvalidSignature unless ``signature_hex`` verifies."""
    key.public_key().verify(
        bytes.fromhex(signature_hex), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def request_string(fields: dict[str, str], key: str = SIGN_KEY) -> str:
    """The fixed-order request string, written out independently."""
    return (
        f"method={fields['method']}&version={fields['version']}&format={fields['format']}"
        f"&merchantNo={fields['merchantNo']}&signType={fields['signType']}"
        f"&signContent={fields['signContent']}&key={key}"
    )


def response_body(
    result: dict[str, Any] | str,
    *,
    signer: str = "platform",
    key: str = SIGN_KEY,
    success: Any = True,
    tamper: str | None = None,
) -> bytes:
    """A success envelope whose ``result`` string is signed the documented way."""
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    success_text = success if isinstance(success, str) else ("true" if success else "false")
    sign = rsa2_sign(rsa_key(signer), f"result={text}&success={success_text}&key={key}")
    doc = {"success": success, "result": tamper if tamper is not None else text, "errorCode": None}
    doc |= {"errorMsg": None, "sign": sign}
    return json.dumps(doc, ensure_ascii=False).encode()


def error_body(code: str, message: str, *, signed: bool = True, signer: str = "platform") -> bytes:
    """A failure envelope (``success`` false), signed over errorCode/errorMsg/success/key."""
    sign = ""
    if signed:
        sign = rsa2_sign(rsa_key(signer), f"errorCode={code}&errorMsg={message}&success=false&key={SIGN_KEY}")
    doc = {"success": "false", "result": None, "errorCode": code, "errorMsg": message, "sign": sign}
    return json.dumps(doc, ensure_ascii=False).encode()


def notification_form(
    content: dict[str, Any] | str,
    *,
    signer: str = "platform",
    merchant_no: str = MERCHANT_NO,
    method: str = "COMPLAINT_NOTIFY",
) -> dict[str, str]:
    """A notification's form fields, signed like a request by the platform."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    fields = {
        "method": method,
        "version": "1.0",
        "format": "JSON",
        "merchantNo": merchant_no,
        "signType": "RSA2",
        "signContent": text,
    }
    return fields | {"sign": rsa2_sign(rsa_key(signer), request_string(fields))}


def form_body(fields: dict[str, str]) -> bytes:
    """URL-encode form fields."""
    return urlencode(fields).encode()


def textbook_private_encrypt(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """OpenSSL ``private_encrypt`` written with plain integers: type-1 padding, m^d mod n."""
    numbers = key.private_numbers()
    size = (key.key_size + 7) // 8
    block = b"\x00\x01" + b"\xff" * (size - 3 - len(data)) + b"\x00" + data
    value = pow(int.from_bytes(block, "big"), numbers.d, numbers.public_numbers.n)
    return value.to_bytes(size, "big")


def textbook_public_decrypt(key: rsa.RSAPrivateKey, block: bytes) -> bytes:
    """OpenSSL ``public_decrypt`` with plain integers: c^e mod n, then strip type-1 padding."""
    public = key.public_key().public_numbers()
    size = (key.key_size + 7) // 8
    padded = pow(int.from_bytes(block, "big"), public.e, public.n).to_bytes(size, "big")
    assert padded[:2] == b"\x00\x01"
    return padded[padded.index(b"\x00", 2) + 1 :]


def baofoo_encrypt(key: rsa.RSAPrivateKey, text: str, chunk: int = 32) -> str:
    """The PHP routine: base64, 32-character chunks, private_encrypt each, hex concatenated."""
    encoded = base64.b64encode(text.encode())
    return "".join(
        textbook_private_encrypt(key, encoded[i : i + chunk]).hex() for i in range(0, len(encoded), chunk)
    )


def baofoo_decrypt(key: rsa.RSAPrivateKey, hex_text: str) -> str:
    """The PHP routine reversed: key-size hex blocks, public_decrypt each, base64-decode."""
    width = 2 * ((key.key_size + 7) // 8)
    parts = [
        textbook_public_decrypt(key, bytes.fromhex(hex_text[i : i + width]))
        for i in range(0, len(hex_text), width)
    ]
    return base64.b64decode(b"".join(parts)).decode()
