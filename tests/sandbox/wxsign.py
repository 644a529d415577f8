"""A tiny WeChat Pay APIv3 signer/verifier written for the simulator tests only (cryptography directly).

Deliberately independent of both the simulator and ``complaintdesk.channels``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials, PlatformKeys

API = "https://api.mch.weixin.qq.com"


@functools.cache
def _private_key(private_pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def rsa_sign(private_pem: bytes, message: bytes) -> str:
    key = _private_key(private_pem)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def authorization(
    merchant: MerchantCredentials,
    method: str,
    url: str,
    body: str,
    *,
    timestamp: int,
    nonce: str | None = None,
    serial: str | None = None,
    reverse: bool = False,
) -> str:
    nonce = nonce or secrets.token_hex(16).upper()
    message = f"{method}\n{url}\n{timestamp}\n{nonce}\n{body}\n".encode()
    pairs = [
        ("mchid", merchant.mchid),
        ("nonce_str", nonce),
        ("timestamp", str(timestamp)),
        ("serial_no", serial or merchant.serial_no),
        ("signature", rsa_sign(merchant.private_key_pem, message)),
    ]
    if reverse:
        pairs.reverse()
    return "WECHATPAY2-SHA256-RSA2048 " + ",".join(f'{k}="{v}"' for k, v in pairs)


class Caller:
    """Calls the simulator as one merchant, signing every request itself."""

    def __init__(self, client: httpx.AsyncClient, merchant: MerchantCredentials, clock: ManualClock) -> None:
        self.client = client
        self.merchant = merchant
        self.clock = clock

    async def get(
        self,
        url: str,
        *,
        sign_url: str | None = None,
        serial: str | None = None,
        skew: int = 0,
        headers: dict[str, str] | None = None,
        reverse: bool = False,
    ) -> httpx.Response:
        """GET ``url`` (path + query, sent verbatim) signed over ``sign_url`` (default: the same)."""
        timestamp = int(self.clock.now().timestamp()) + skew
        auth = authorization(
            self.merchant, "GET", sign_url or url, "", timestamp=timestamp, serial=serial, reverse=reverse
        )
        sent = {"Authorization": auth, "Accept": "application/json", "User-Agent": "wxsim-tests/1.0"}
        sent.update(headers or {})
        return await self.client.get(url, headers=sent)

    async def send(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        *,
        signed: str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """``method url`` with ``body``, signed over ``signed`` (default: the body as UTF-8 text)."""
        timestamp = int(self.clock.now().timestamp())
        text = body.decode() if signed is None else signed
        auth = authorization(self.merchant, method, url, text, timestamp=timestamp)
        sent = {"Authorization": auth, "Accept": "application/json", "User-Agent": "wxsim-tests/1.0"}
        if body:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        return await self.client.request(method, url, content=body, headers=sent)

    async def post(self, url: str, payload: Any = None, *, raw: str | None = None) -> httpx.Response:
        """POST a JSON body (``payload`` serialised compactly, or ``raw`` text verbatim)."""
        text = raw if raw is not None else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return await self.send("POST", url, text.encode())

    async def put(self, url: str, payload: Any) -> httpx.Response:
        """PUT a JSON body."""
        return await self.send("PUT", url, json.dumps(payload, ensure_ascii=False).encode())

    async def delete(self, url: str) -> httpx.Response:
        """DELETE with an empty body."""
        return await self.send("DELETE", url)

    async def upload(
        self,
        filename: str,
        data: bytes,
        *,
        sha256: str | None = None,
        meta: str | None = None,
        file_first: bool = False,
        with_file: bool = True,
        with_meta: bool = True,
    ) -> httpx.Response:
        """``POST /v3/merchant-service/images/upload`` as multipart; the signature covers the meta JSON."""
        meta = meta or json.dumps(
            {"filename": filename, "sha256": sha256 or hashlib.sha256(data).hexdigest()}
        )
        boundary = secrets.token_hex(12)
        meta_part = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\n'
                "Content-Type: application/json\r\n\r\n"
            ).encode()
            + meta.encode()
            + b"\r\n"
        )
        file_part = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
        parts = [part for part, used in ((meta_part, with_meta), (file_part, with_file)) if used]
        if file_first:
            parts.reverse()
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return await self.send(
            "POST",
            "/v3/merchant-service/images/upload",
            body,
            signed=meta,
            content_type=f"multipart/form-data; boundary={boundary}",
        )


def verify_response(response: httpx.Response, platform: PlatformKeys) -> str:
    """Check the Wechatpay-* signature; returns "certificate" or "public_key" (whichever signed it)."""
    serial = response.headers["Wechatpay-Serial"]
    return verify_signed(
        platform,
        serial,
        response.headers["Wechatpay-Timestamp"],
        response.headers["Wechatpay-Nonce"],
        response.headers["Wechatpay-Signature"],
        response.content,
    )


def verify_signed(
    platform: PlatformKeys, serial: str, ts: str, nonce: str, signature: str, body: bytes
) -> str:
    if serial == platform.serial_no:
        key: Any = x509.load_pem_x509_certificate(platform.certificate_pem).public_key()
        kind = "certificate"
    elif serial == platform.public_key_id:
        key = serialization.load_pem_public_key(platform.public_key_pem)
        kind = "public_key"
    else:
        raise AssertionError(f"unknown serial {serial}")
    message = f"{ts}\n{nonce}\n".encode() + body + b"\n"
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise AssertionError("signature does not verify") from exc
    return kind


def decrypt_oaep(private_pem: bytes, ciphertext_b64: str) -> str:
    key = _private_key(private_pem)
    pad = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    return key.decrypt(base64.b64decode(ciphertext_b64), pad).decode()


def decrypt_resource(apiv3_key: str, resource: dict[str, str]) -> bytes:
    return AESGCM(apiv3_key.encode()).decrypt(
        resource["nonce"].encode(),
        base64.b64decode(resource["ciphertext"]),
        resource["associated_data"].encode(),
    )


def decrypt_notification(apiv3_key: str, body: bytes) -> dict[str, Any]:
    document = json.loads(body)
    plain: dict[str, Any] = json.loads(decrypt_resource(apiv3_key, document["resource"]))
    return plain
