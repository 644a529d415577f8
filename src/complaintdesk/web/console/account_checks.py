"""Check one credential by loading it the way its channel will (the message is in the UI's language)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from complaintdesk.channels.huishouqian.envelope import (
    load_pkcs12_private_key,
    load_platform_certificate,
    normalise_sign_key,
)
from complaintdesk.errors import ConfigError
from complaintdesk.web.console.i18n import gettext as _

__all__ = ["check_secret"]

_TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")
_AES = re.compile(r"^[A-Za-z0-9]{43}$")


def check_secret(
    channel: str, name: str, data: bytes, values: Mapping[str, bytes], options: Mapping[str, Any]
) -> str:
    """'' when ``data`` is usable as secret ``name``, else what is wrong with it."""
    text = data.decode("utf-8", "replace").strip()
    if channel == "wechatpay":
        return _wechatpay(name, data, text)
    if channel == "miniprogram":
        if name == "token" and not _TOKEN.match(text):
            return _("the token is 3 to 32 letters or digits.")
        if name == "encoding_aes_key" and not _AES.match(text):
            return _("the message encryption key is exactly 43 letters or digits.")
        if name == "app_secret" and not re.match(r"^[A-Za-z0-9]{32}$", text):
            return _("the Mini Program secret is 32 letters or digits.")
        return ""
    return _huishouqian(name, data, values, options)


def _wechatpay(name: str, data: bytes, text: str) -> str:
    if name == "private_key":
        try:
            key = load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            return _("this file is not an unencrypted PEM private key.")
        return "" if isinstance(key, RSAPrivateKey) else _("this must be an RSA key.")
    if name == "public_key":
        try:
            public = load_pem_public_key(data)
        except ValueError:
            return _("this file is not a PEM public key.")
        return "" if isinstance(public, RSAPublicKey) else _("this must be an RSA key.")
    if name == "apiv3_key" and len(text.encode("utf-8")) != 32:
        return _("the version 3 API key is exactly 32 characters.")
    return ""


def _huishouqian(name: str, data: bytes, values: Mapping[str, bytes], options: Mapping[str, Any]) -> str:
    try:
        if name == "private_key_p12":
            password = values.get("private_key_password")
            load_pkcs12_private_key(data, password.strip() if password else None)
        elif name == "platform_certificate":
            load_platform_certificate(data)
        elif name == "sign_key" and options.get("sign_type", "RSA2") == "RSA2":
            normalise_sign_key(data)
    except ConfigError:
        if name == "private_key_p12":
            return _("this file does not open as PKCS#12 with the given password.")
        if name == "platform_certificate":
            return _("this file is not an X.509 certificate (PEM or DER).")
        return _("the signature key is 32 hexadecimal characters.")
    return ""
