"""Request signing for WeChat Pay APIv3 as an ``httpx.Auth``."""

from __future__ import annotations

import secrets
import string
import time as _time
from collections.abc import Callable, Generator

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from complaintdesk.channels.wechatpay.crypto import sign

__all__ = [
    "AUTH_SCHEME",
    "SIGN_BODY_EXTENSION",
    "WeChatPayAuth",
    "build_authorization",
    "build_sign_message",
    "make_nonce",
]

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
#: Request extension that overrides the signed body (multipart upload signs the ``meta`` JSON only).
SIGN_BODY_EXTENSION = "wechatpay_sign_body"
_NONCE_ALPHABET = string.ascii_letters + string.digits
_BODYLESS_METHODS = frozenset({"GET", "DELETE", "HEAD"})


def make_nonce() -> str:
    """Return 32 random alphanumerics."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(32))


def build_sign_message(method: str, canonical_url: str, timestamp: str, nonce: str, body: str) -> str:
    """Return the five-line string that is signed for a request."""
    return f"{method.upper()}\n{canonical_url}\n{timestamp}\n{nonce}\n{body}\n"


def build_authorization(*, mchid: str, serial_no: str, nonce: str, timestamp: str, signature: str) -> str:
    """Return the ``Authorization`` header value."""
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",timestamp="{timestamp}",'
        f'serial_no="{serial_no}",signature="{signature}"'
    )


def _sign_body(request: httpx.Request) -> str:
    """Return the BODY line: the override extension, nothing for GET/DELETE, else the sent content."""
    override = request.extensions.get(SIGN_BODY_EXTENSION)
    if override is not None:
        return override.decode("utf-8") if isinstance(override, bytes) else str(override)
    if request.method.upper() in _BODYLESS_METHODS:
        return ""
    return request.content.decode("utf-8")


class WeChatPayAuth(httpx.Auth):
    """Sign every request with the merchant API private key.

    The canonical URL is ``request.url.raw_path`` (path and query exactly as they go on the request line),
    so percent-escapes in media ids are signed as sent::

        auth = WeChatPayAuth(mchid="1900000001", serial_no="5157F0...", private_key=key)
        httpx.AsyncClient(base_url="https://api.mch.weixin.qq.com", auth=auth)
    """

    requires_request_body = True

    def __init__(
        self,
        *,
        mchid: str,
        serial_no: str,
        private_key: RSAPrivateKey,
        wechatpay_serial: str | None = None,
        time: Callable[[], float] = _time.time,
        nonce: Callable[[], str] = make_nonce,
    ) -> None:
        self._mchid = mchid
        self._serial_no = serial_no
        self._private_key = private_key
        self._wechatpay_serial = wechatpay_serial
        self._time = time
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"WeChatPayAuth(mchid={self._mchid!r}, serial_no={self._serial_no!r})"

    def authorization_for(self, request: httpx.Request) -> str:
        """Return a fresh ``Authorization`` value for ``request``."""
        timestamp = str(int(self._time()))
        nonce = self._nonce()
        message = build_sign_message(
            request.method, request.url.raw_path.decode("ascii"), timestamp, nonce, _sign_body(request)
        )
        return build_authorization(
            mchid=self._mchid,
            serial_no=self._serial_no,
            nonce=nonce,
            timestamp=timestamp,
            signature=sign(self._private_key, message),
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add ``Authorization`` (and ``Wechatpay-Serial`` when configured) to the request."""
        request.headers["Authorization"] = self.authorization_for(request)
        if self._wechatpay_serial and "Wechatpay-Serial" not in request.headers:
            request.headers["Wechatpay-Serial"] = self._wechatpay_serial
        yield request
