"""deploy/nginx/complaintdesk.conf, run by a real nginx: signatures untouched, limits, forwarding, SSE."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.deploy.nginx_harness import Upstream, nginx_in_front

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Upstream, int, int]]:
    assert NGINX is not None
    with nginx_in_front(NGINX, tmp_path_factory.mktemp("nginx")) as running:
        yield running


@pytest.fixture
def client(proxy: tuple[Upstream, int, int]) -> Iterator[httpx.Client]:
    upstream, _, https_port = proxy
    upstream.seen.clear()
    with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=20) as c:
        yield c


def test_wechatpay_signature_headers_and_body_reach_the_server_unchanged(
    client: httpx.Client, proxy: tuple[Upstream, int, int]
) -> None:
    upstream = proxy[0]
    body = '{"id":"EV-2018","resource":{"ciphertext":"a+b/c=="},"summary":"投诉 通知"}'.encode()
    headers = {
        "Wechatpay-Signature": "kX0i+Ab/9z==",
        "Wechatpay-Timestamp": "1700000000",
        "Wechatpay-Nonce": "fdasflkja484w",
        "Wechatpay-Serial": "PUB_KEY_ID_0114232134912410000000000000",
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Content-Type": "application/json",
    }
    answer = client.post("/webhooks/wechatpay/demo-shop", content=body, headers=headers)
    assert answer.status_code == 200
    (seen,) = upstream.seen
    assert seen.target == "/webhooks/wechatpay/demo-shop"
    assert seen.body == body
    for name, value in headers.items():
        assert seen.header(name) == [value]


@pytest.mark.parametrize(
    "target",
    [
        "/webhooks/miniprogram/mp?signature=5a%2Bb&timestamp=1700000000&nonce=1320562132"
        "&openid=o7esq5PHRGBQYmeNyfG064wEFVpQ&encrypt_type=aes&msg_signature=bb%2F%3D",
        "/webhooks/huishouqian/hs?sign=Zm9v%2Bbar%2F%3D%3D&signType=RSA&data=%7B%22a%22%3A%20%22%E6%8A%95%22%7D",
    ],
)
def test_query_strings_and_bodies_reach_the_server_byte_for_byte(
    client: httpx.Client, proxy: tuple[Upstream, int, int], target: str
) -> None:
    body = b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[a+b/c==]]></Encrypt></xml>"
    answer = client.post(target, content=body, headers={"Content-Type": "text/xml"})
    assert answer.status_code == 200
    (seen,) = proxy[0].seen
    assert seen.target == target  # not decoded, not re-encoded
    assert seen.body == body


def test_oversized_webhook_is_refused_by_nginx_and_never_reaches_the_server(
    client: httpx.Client, proxy: tuple[Upstream, int, int]
) -> None:
    answer = client.post("/webhooks/wechatpay/demo-shop", content=b"x" * (64 * 1024 + 1))
    assert answer.status_code == 413
    assert proxy[0].seen == []
    # An evidence upload of 5 MiB goes through to the console, which applies its own limit.
    assert client.post("/upload", content=b"x" * (5 * 1024 * 1024)).status_code == 200
    assert client.post("/upload", content=b"x" * (6 * 1024 * 1024 + 1)).status_code == 413


def test_forwarded_headers_are_set_by_nginx_not_by_the_client(
    client: httpx.Client, proxy: tuple[Upstream, int, int]
) -> None:
    answer = client.get("/api/v1/complaints", headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.status_code == 200
    (seen,) = proxy[0].seen
    assert seen.header("X-Forwarded-For") == ["127.0.0.1"]
    assert seen.header("X-Forwarded-Proto") == ["https"]
    assert seen.header("Host") == [f"127.0.0.1:{proxy[2]}"] or seen.header("Host") == ["127.0.0.1"]


def test_plain_http_is_redirected_to_https(proxy: tuple[Upstream, int, int]) -> None:
    answer = httpx.get(f"http://127.0.0.1:{proxy[1]}/login?next=/", timeout=20)
    assert answer.status_code == 301
    assert answer.headers["location"].startswith("https://127.0.0.1")
    assert answer.headers["location"].endswith("/login?next=/")


def test_live_stream_is_not_buffered(client: httpx.Client, proxy: tuple[Upstream, int, int]) -> None:
    upstream = proxy[0]
    with client.stream("GET", "/live") as stream:
        chunks = stream.iter_bytes()
        received = b""
        while b"data: 1\n\n" not in received:
            received += next(chunks)  # arrives while the upstream still holds the stream open
        assert b"event: last" not in received
        upstream.release_stream.set()
        received += b"".join(chunks)
    assert received.endswith(b"event: last\ndata: 2\n\n")
