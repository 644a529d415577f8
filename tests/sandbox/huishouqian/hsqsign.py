"""A tiny Huishouqian gateway client written for the simulator tests only (cryptography directly).

Deliberately independent of both the simulator's crypto and ``complaintdesk.channels``: it loads the
merchant's PKCS#12 file, signs the fixed-order string in lowercase hex, verifies answers with the platform
certificate, and has its own CFCA routine (32-character chunks, as in the PHP samples).
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from complaintdesk.sandbox.huishouqian.keys import MerchantCredentials, PlatformKeys

BASE = "https://test-api.huishouqian.com"
PATHS = {
    "COMPLAINT_QUERY": "/complaint/query",
    "COMPLAINT_QUERY_HISTORY": "/complaint/queryHistory",
    "COMPLAINT_COMMIT_RESPONSE": "/complaint/commitResponse",
    "COMPLAINT_COMMIT_COMPLETE": "/complaint/commitComplete",
    "COMPLAINT_FILE_UPLOAD": "/complaint/upload",
    "COMPLAINT_FILE_DOWNLOAD": "/complaint/download",
}


@functools.cache
def merchant_key(bundle: bytes, password: str) -> rsa.RSAPrivateKey:
    key, _, _ = pkcs12.load_key_and_certificates(bundle, password.encode())
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@functools.cache
def cert_key(cert_pem: bytes) -> rsa.RSAPublicKey:
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def sign_text(fields: dict[str, str], key: str) -> str:
    order = ("method", "version", "format", "merchantNo", "signType", "signContent")
    return "&".join(f"{name}={fields[name]}" for name in order) + f"&key={key}"


def hex_sign(key: rsa.RSAPrivateKey, text: str) -> str:
    return key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()).hex()


def hex_verifies(key: rsa.RSAPublicKey, text: str, signature: str) -> bool:
    try:
        key.verify(bytes.fromhex(signature), text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _width(n: int) -> int:
    return (n.bit_length() + 7) // 8


def cfca_seal(key: rsa.RSAPrivateKey, plaintext: str, chunk: int = 32) -> str:
    """Base64, 32-character chunks, raw RSA with type-1 padding under the private key, hex."""
    numbers = key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    width = _width(n)
    text = base64.b64encode(plaintext.encode("utf-8"))
    out = []
    for start in range(0, len(text), chunk):
        piece = text[start : start + chunk]
        block = b"\x00\x01" + b"\xff" * (width - 3 - len(piece)) + b"\x00" + piece
        out.append(pow(int.from_bytes(block, "big"), d, n).to_bytes(width, "big").hex())
    return "".join(out)


def cfca_open(key: rsa.RSAPublicKey, ciphertext: str) -> str:
    """Split into key-size hex blocks, raise each to e, strip the type-1 padding, Base64-decode."""
    numbers = key.public_numbers()
    width = _width(numbers.n)
    pieces = []
    for start in range(0, len(ciphertext), 2 * width):
        value = int(ciphertext[start : start + 2 * width], 16)
        block = pow(value, numbers.e, numbers.n).to_bytes(width, "big")
        assert block[:2] == b"\x00\x01", "bad padding"
        pieces.append(block[block.index(b"\x00", 2) + 1 :])
    return base64.b64decode(b"".join(pieces)).decode("utf-8")


def verify_answer(document: dict[str, Any], platform: PlatformKeys, sign_key: str) -> bool:
    """Check an RSA2 answer's ``sign`` over the raw ``result`` (or the error fields)."""
    success = document["success"]
    flag = str(success).lower() if not isinstance(success, bool) else ("true" if success else "false")
    if flag == "true":
        text = f"result={document['result']}&success={flag}&key={sign_key}"
    else:
        text = (
            f"errorCode={document['errorCode']}&errorMsg={document['errorMsg']}&success={flag}&key={sign_key}"
        )
    return hex_verifies(cert_key(platform.certificate_pem), text, document["sign"])


@dataclass
class Answer:
    """A parsed gateway answer."""

    response: httpx.Response
    document: dict[str, Any]

    @property
    def ok(self) -> bool:
        return str(self.document["success"]).lower() == "true" and not self.document["errorCode"]

    @property
    def code(self) -> str | None:
        code: str | None = self.document["errorCode"]
        return code

    @property
    def message(self) -> str:
        return str(self.document["errorMsg"])


class Gateway:
    """Calls the simulator as one merchant, signing every request itself."""

    def __init__(
        self, client: httpx.AsyncClient, merchant: MerchantCredentials, platform: PlatformKeys
    ) -> None:
        self.client = client
        self.merchant = merchant
        self.platform = platform

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return merchant_key(self.merchant.pkcs12, self.merchant.pkcs12_password)

    def fields(self, method: str, content: dict[str, Any] | str, **overrides: str) -> dict[str, str]:
        """The seven envelope fields, signed (``overrides`` replace values after signing, except ``key``)."""
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        sign_key = overrides.pop("key", self.merchant.sign_key)
        fields = {
            "method": method,
            "version": "1.0",
            "format": "JSON",
            "merchantNo": overrides.pop("signed_merchant_no", self.merchant.merchant_no),
            "signType": self.merchant.sign_type,
            "signContent": text,
        }
        if self.merchant.sign_type == "CFCA":
            fields["signContent"] = cfca_seal(self.key, text)
            fields["sign"] = ""
        else:
            fields["sign"] = hex_sign(self.key, sign_text(fields, sign_key))
        fields.update(overrides)
        return fields

    async def send(
        self, method: str, content: dict[str, Any] | str, *, path: str | None = None, **overrides: str
    ) -> Answer:
        response = await self.client.post(
            path or PATHS[method], data=self.fields(method, content, **overrides)
        )
        assert response.status_code == 200, response.text
        return Answer(response, json.loads(response.text))

    async def ok(self, method: str, content: dict[str, Any], **overrides: str) -> dict[str, Any]:
        """Call, require success and a valid signature; returns the parsed ``result``."""
        answer = await self.send(method, content, **overrides)
        assert answer.ok, answer.document
        document = answer.document
        if self.merchant.sign_type == "CFCA":
            assert document["sign"] == ""
            text = cfca_open(cert_key(self.platform.certificate_pem), document["result"])
        else:
            assert verify_answer(document, self.platform, self.merchant.sign_key)
            text = document["result"]
        result: dict[str, Any] = json.loads(text)
        return result

    async def error(self, method: str, content: dict[str, Any] | str, **overrides: str) -> Answer:
        """Call and require a (verified, for RSA2) error answer."""
        answer = await self.send(method, content, **overrides)
        assert not answer.ok, answer.document
        if self.merchant.sign_type != "CFCA":
            assert verify_answer(answer.document, self.platform, self.merchant.sign_key)
        return answer
