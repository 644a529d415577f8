"""The Huishouqian gateway envelope (HS1): keys, request form, RSA2 signatures, response verification.

Pure functions, no IO. A request is a form POST (UTF-8) of seven fields; the RSA2 string to sign is the
first six in this fixed order (never sorted, raw values, all six even when empty) plus the merchant key::

    method=…&version=…&format=…&merchantNo=…&signType=…&signContent=<as sent>&key=<merchant key>

signed SHA256withRSA (PKCS#1 v1.5) with the PKCS#12 private key, hex in lowercase. A response is verified
with the platform certificate over ``result=<result as received>&success=<success>&key=…`` or, for a
failure, ``errorCode=…&errorMsg=…&success=…&key=…``. Notifications are verified like requests.
``signType=CFCA`` encrypts instead of signing (see :mod:`.cfca`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import pkcs12

from complaintdesk.channels.huishouqian import cfca
from complaintdesk.channels.huishouqian.errors import OK_CODES
from complaintdesk.errors import (
    ChannelError,
    ConfigError,
    DecryptFailed,
    ResponseVerificationError,
    SignatureInvalid,
    UnsupportedAlgorithm,
)

__all__ = [
    "FORMAT",
    "SIGNED_FIELDS",
    "SIGN_TYPES",
    "VERSION",
    "GatewayResponse",
    "HuishouqianCredentials",
    "encode_business",
    "encode_form",
    "load_pkcs12_private_key",
    "load_platform_certificate",
    "normalise_sign_key",
    "open_notification",
    "open_response",
    "parse_response",
    "request_sign_string",
    "response_sign_strings",
    "seal_request",
    "sign_hex",
    "verify_hex",
    "verify_response",
]

CHANNEL = "huishouqian"
SIGNED_FIELDS = ("method", "version", "format", "merchantNo", "signType", "signContent")
VERSION = "1.0"
FORMAT = "JSON"
SIGN_TYPES = ("RSA2", "CFCA")


@dataclass(frozen=True)
class HuishouqianCredentials:
    """Everything needed to call the gateway as one merchant (or agent) number."""

    merchant_no: str
    private_key: RSAPrivateKey | None = field(repr=False)  # None: webhooks only, no calls
    platform_key: RSAPublicKey = field(repr=False)
    sign_key: str = field(default="", repr=False)  # the 32-hex "签名混淆KEY"; never sent
    sign_type: str = "RSA2"
    cfca_chunk_size: int = cfca.DEFAULT_CHUNK_SIZE


@dataclass(frozen=True)
class GatewayResponse:
    """A parsed response envelope; ``result`` is the raw string exactly as received."""

    success: bool
    success_text: str  # as received ("true", "TRUE", or a JSON boolean written "true"/"false")
    result: str | None
    error_code: str | None
    error_msg: str | None
    sign: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the gateway reports success (``success`` true and an OK or empty code)."""
        return self.success and (self.error_code or "") in OK_CODES


# -- keys -------------------------------------------------------------------------------------------------


def load_pkcs12_private_key(data: bytes, password: bytes | None) -> RSAPrivateKey:
    """Load the merchant private key from a PKCS#12 file (``*_pri.pfx``)."""
    try:
        key, _cert, _chain = pkcs12.load_key_and_certificates(data, password or None)
    except (ValueError, TypeError) as exc:
        raise ConfigError("private_key_p12 does not open as PKCS#12 with the given password") from exc
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError("private_key_p12 must hold an RSA private key")
    return key


def load_platform_certificate(data: bytes) -> RSAPublicKey:
    """Load the platform certificate (``MANDAO_<merchantNo>_pub.cer``), PEM or DER."""
    try:
        if b"-----BEGIN" in data:
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise ConfigError("platform_certificate is not an X.509 certificate (PEM or DER)") from exc
    key = cert.public_key()
    if not isinstance(key, RSAPublicKey):
        raise ConfigError("platform_certificate must carry an RSA public key")
    return key


def normalise_sign_key(raw: bytes) -> str:
    """Return the merchant sign key (surrounding whitespace removed); refuse unusable values."""
    try:
        key = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError("sign_key must be ASCII (32 hexadecimal characters)") from None
    if not key or not key.isprintable() or any(char in key for char in " &="):
        raise ConfigError("sign_key must be printable text without spaces, '&' or '='")
    return key


# -- signatures -------------------------------------------------------------------------------------------


def sign_hex(private_key: RSAPrivateKey, message: str) -> str:
    """Return SHA256withRSA (PKCS#1 v1.5) over the UTF-8 message, lowercase hex."""
    return private_key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()).hex()


def verify_hex(public_key: RSAPublicKey, message: str, signature: str) -> bool:
    """Whether ``signature`` (hex, any case) is SHA256withRSA over ``message`` by ``public_key``."""
    try:
        raw = bytes.fromhex(signature.strip())
        public_key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature):
        return False
    return True


def request_sign_string(fields: Mapping[str, str], sign_key: str) -> str:
    """The fixed-order RSA2 string of a request or notification (absent fields count as empty)."""
    pairs = "&".join(f"{name}={fields.get(name, '')}" for name in SIGNED_FIELDS)
    return f"{pairs}&key={sign_key}"


def response_sign_strings(response: GatewayResponse, sign_key: str) -> list[str]:
    """Candidate strings a response was signed over.

    A success is signed over ``result``/``success``; a failure over ``errorCode``/``errorMsg``/``success``
    (a JSON null written either "" or "null"). A contradictory answer (``success`` true with an error code)
    may have been signed either way, so both are tried.
    """
    candidates: list[str] = []
    if response.success and response.result is not None:
        candidates.append(f"result={response.result}&success={response.success_text}&key={sign_key}")
    if not response.ok:
        codes = [response.error_code] if response.error_code is not None else ["", "null"]
        messages = [response.error_msg] if response.error_msg is not None else ["", "null"]
        candidates.extend(
            f"errorCode={code}&errorMsg={msg}&success={response.success_text}&key={sign_key}"
            for code, msg in itertools.product(codes, messages)
        )
    return candidates


# -- requests ---------------------------------------------------------------------------------------------


def _drop_nulls(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if value is not None}


def encode_business(doc: Mapping[str, Any]) -> str:
    """Serialise business parameters once: compact UTF-8 JSON, null members dropped."""
    return orjson.dumps(_drop_nulls(doc)).decode("utf-8")


def seal_request(credentials: HuishouqianCredentials, method: str, business: str) -> list[tuple[str, str]]:
    """Return the request form (ordered pairs) for ``method`` with ``business`` JSON as ``signContent``."""
    if credentials.private_key is None:
        raise ConfigError(
            f"merchant {credentials.merchant_no}: private_key_p12 is not set (needed to call Huishouqian)"
        )
    content = business
    if credentials.sign_type == "CFCA":
        content = cfca.encrypt(credentials.private_key, business, chunk_size=credentials.cfca_chunk_size)
    fields = {
        "method": method,
        "version": VERSION,
        "format": FORMAT,
        "merchantNo": credentials.merchant_no,
        "signType": credentials.sign_type,
        "signContent": content,
    }
    signature = ""
    if credentials.sign_type != "CFCA":
        signature = sign_hex(credentials.private_key, request_sign_string(fields, credentials.sign_key))
    return [*fields.items(), ("sign", signature)]


def encode_form(pairs: list[tuple[str, str]]) -> bytes:
    """URL-encode form pairs in their given order (UTF-8)."""
    return urlencode(pairs, encoding="utf-8").encode("ascii")


# -- responses --------------------------------------------------------------------------------------------


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def parse_response(body: bytes) -> GatewayResponse:
    """Parse a response envelope, keeping ``result`` as the exact string received."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        raise ChannelError("response is not a Huishouqian JSON envelope", channel=CHANNEL)
    flag = doc.get("success")
    if isinstance(flag, bool):
        success, success_text = flag, "true" if flag else "false"
    elif isinstance(flag, str) and flag.strip().lower() in ("true", "false"):
        success, success_text = flag.strip().lower() == "true", flag
    else:
        raise ChannelError("response envelope has no true/false 'success'", channel=CHANNEL)
    result = doc.get("result")
    sign = doc.get("sign")
    return GatewayResponse(
        success=success,
        success_text=success_text,
        result=result if isinstance(result, str) else None,
        error_code=_text_or_none(doc.get("errorCode")),
        error_msg=_text_or_none(doc.get("errorMsg")),
        sign=sign if isinstance(sign, str) else "",
        raw=doc,
    )


def open_response(credentials: HuishouqianCredentials, response: GatewayResponse, *, method: str) -> str:
    """Verify a successful response and return its business JSON text (decrypted in CFCA mode)."""
    if response.result is None:
        raise ResponseVerificationError(
            f"{method}: success response without a string 'result' cannot be verified", channel=CHANNEL
        )
    if credentials.sign_type == "CFCA":
        try:
            return cfca.decrypt(credentials.platform_key, response.result)
        except cfca.CfcaError as exc:
            raise ResponseVerificationError(
                f"{method}: CFCA result refused: {exc}", channel=CHANNEL
            ) from None
    verify_response(credentials, response, method=method)
    return response.result


def verify_response(credentials: HuishouqianCredentials, response: GatewayResponse, *, method: str) -> None:
    """Refuse an RSA2 response whose signature does not verify (unsigned failures are let through)."""
    if credentials.sign_type == "CFCA":
        return
    if not response.sign:
        if not response.success:
            return  # an unsigned refusal can only make us fail; its code is still worth showing
        raise ResponseVerificationError(f"{method}: response is not signed", channel=CHANNEL)
    for message in response_sign_strings(response, credentials.sign_key):
        if verify_hex(credentials.platform_key, message, response.sign):
            return
    raise ResponseVerificationError(
        f"{method}: response signature does not verify with the platform certificate", channel=CHANNEL
    )


def open_notification(credentials: HuishouqianCredentials, form: Mapping[str, str]) -> str:
    """Verify (RSA2) or decrypt (CFCA) an inbound form and return its business JSON text."""
    sign_type = form.get("signType") or credentials.sign_type
    if sign_type != credentials.sign_type:
        raise UnsupportedAlgorithm(
            f"notification signType {sign_type[:16]!r}, account uses {credentials.sign_type}", channel=CHANNEL
        )
    content = form.get("signContent", "")
    if sign_type == "CFCA":
        try:
            return cfca.decrypt(credentials.platform_key, content)
        except cfca.CfcaError as exc:
            raise DecryptFailed(f"CFCA signContent refused: {exc}", channel=CHANNEL) from None
    signature = form.get("sign", "")
    if not signature:
        raise SignatureInvalid("notification has no sign", channel=CHANNEL)
    if not verify_hex(credentials.platform_key, request_sign_string(form, credentials.sign_key), signature):
        raise SignatureInvalid(
            "notification signature does not verify with the platform certificate", channel=CHANNEL
        )
    return content
