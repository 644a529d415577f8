"""Tier 1: the request signer."""

from __future__ import annotations

import re

import httpx

from complaintdesk.channels.wechatpay.auth import (
    SIGN_BODY_EXTENSION,
    WeChatPayAuth,
    build_authorization,
    build_sign_message,
    make_nonce,
)

from .keys import rsa_key, rsa_verify

MCHID = "1900000001"
MERCHANT_SERIAL = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
AUTH_RE = re.compile(
    r'^WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>[^"]+)",nonce_str="(?P<nonce>[^"]+)",'
    r'timestamp="(?P<ts>\d+)",serial_no="(?P<serial>[^"]+)",signature="(?P<sig>[^"]+)"$'
)


def test_sign_message_for_spec_example() -> None:
    url = "/v3/merchant-service/complaints-v2?limit=50&offset=0&begin_date=2024-01-01&end_date=2024-01-30"
    message = build_sign_message("get", url, "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", "")
    assert message == (
        "GET\n"
        "/v3/merchant-service/complaints-v2?limit=50&offset=0&begin_date=2024-01-01&end_date=2024-01-30\n"
        "1554208460\n"
        "593BEC0C930BF1AFEB40B4A08C8FB242\n"
        "\n"
    )


def test_authorization_shape() -> None:
    value = build_authorization(
        mchid=MCHID, serial_no=MERCHANT_SERIAL, nonce="N", timestamp="1", signature="S"
    )
    assert value == (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{MCHID}",nonce_str="N",timestamp="1",'
        f'serial_no="{MERCHANT_SERIAL}",signature="S"'
    )


def test_nonce_is_32_alphanumerics_and_fresh() -> None:
    nonces = {make_nonce() for _ in range(20)}
    assert len(nonces) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", n) for n in nonces)


def _send(request: httpx.Request, auth: WeChatPayAuth) -> httpx.Request:
    """Run the request through the auth flow and return what would go on the wire."""
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        client.send(request)
    return seen[0]


def _auth(wechatpay_serial: str | None = None) -> WeChatPayAuth:
    return WeChatPayAuth(
        mchid=MCHID,
        serial_no=MERCHANT_SERIAL,
        private_key=rsa_key("merchant"),
        wechatpay_serial=wechatpay_serial,
        time=lambda: 1700000000.9,
    )


def _check(sent: httpx.Request, expected_path: str, expected_body: str) -> dict[str, str]:
    match = AUTH_RE.match(sent.headers["Authorization"])
    assert match, sent.headers["Authorization"]
    parts = match.groupdict()
    assert parts["mchid"] == MCHID
    assert parts["serial"] == MERCHANT_SERIAL
    assert parts["ts"] == "1700000000"
    message = f"{sent.method}\n{expected_path}\n{parts['ts']}\n{parts['nonce']}\n{expected_body}\n"
    rsa_verify(rsa_key("merchant"), message.encode(), parts["sig"])
    return parts


def test_get_signature_verifies_with_public_key() -> None:
    request = httpx.Request(
        "GET", "https://api.mch.weixin.qq.com/v3/merchant-service/complaints-v2?limit=5&offset=0"
    )
    sent = _send(request, _auth())
    _check(sent, "/v3/merchant-service/complaints-v2?limit=5&offset=0", "")
    assert "Wechatpay-Serial" not in sent.headers


def test_post_signs_exact_body_and_sets_wechatpay_serial() -> None:
    body = '{"complainted_mchid":"1900000001","response_content":"您好"}'.encode()
    request = httpx.Request("POST", "https://api.mch.weixin.qq.com/v3/x/response", content=body)
    sent = _send(request, _auth(wechatpay_serial="PUB_KEY_ID_0001"))
    _check(sent, "/v3/x/response", body.decode())
    assert sent.headers["Wechatpay-Serial"] == "PUB_KEY_ID_0001"


def test_multipart_signs_meta_override() -> None:
    meta = '{"filename":"filea.jpg","sha256":"abc"}'
    request = httpx.Request(
        "POST",
        "https://api.mch.weixin.qq.com/v3/merchant-service/images/upload",
        files={"meta": (None, meta, "application/json"), "file": ("filea.jpg", b"\xff\xd8", "image/jpeg")},
        extensions={SIGN_BODY_EXTENSION: meta},
    )
    sent = _send(request, _auth())
    _check(sent, "/v3/merchant-service/images/upload", meta)


def test_escaped_media_path_is_signed_and_sent_verbatim() -> None:
    url = httpx.URL("https://api.mch.weixin.qq.com/v3/merchant-service/images/ab%2Fcd%2Bef%3D%3D")
    sent = _send(httpx.Request("GET", url), _auth())
    assert sent.url.raw_path == b"/v3/merchant-service/images/ab%2Fcd%2Bef%3D%3D"
    _check(sent, "/v3/merchant-service/images/ab%2Fcd%2Bef%3D%3D", "")


def test_repr_has_no_key_material() -> None:
    assert "PRIVATE" not in repr(_auth())
