"""The PyPI SDK ``wechatpy`` (1.8.18, unchanged) as a Mini Program message server for our simulator's pushes.

A receiver written only with wechatpy (``check_signature`` for the URL check and plaintext pushes,
``WeChatCrypto.decrypt_message`` for safe and compatible mode) is served by uvicorn on loopback; the
simulator's notifier reaches it over real HTTP. wechatpy 1.8 speaks XML only, so the pushes are XML.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
import xmltodict
from fastapi import FastAPI, Request, Response
from wechatpy.crypto import WeChatCrypto  # type: ignore[import-untyped]
from wechatpy.exceptions import InvalidSignatureException  # type: ignore[import-untyped]
from wechatpy.utils import check_signature  # type: ignore[import-untyped]

from complaintdesk.sandbox import miniprogram as mp

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _receiver(creds: mp.AppCredentials, seen: list[dict[str, Any]]) -> FastAPI:
    """A message server as a wechatpy user writes it (answers ``success``; 401 on a bad signature)."""
    app = FastAPI()

    @app.get("/push")
    async def url_check(signature: str, timestamp: str, nonce: str, echostr: str) -> Response:
        try:
            check_signature(creds.token, signature, timestamp, nonce)
        except InvalidSignatureException:
            return Response(status_code=401)
        return Response(echostr, media_type="text/plain")

    @app.post("/push")
    async def push(request: Request) -> Response:
        query, body = request.query_params, await request.body()
        try:
            if query.get("encrypt_type") == "aes":
                crypto = WeChatCrypto(creds.token, creds.encoding_aes_key, creds.appid)
                xml = crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
            else:
                check_signature(creds.token, query["signature"], query["timestamp"], query["nonce"])
                xml = body.decode("utf-8")
        except InvalidSignatureException:
            return Response(status_code=401)
        seen.append(xmltodict.parse(xml)["xml"])
        return Response("success", media_type="text/plain")

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def served() -> AsyncIterator[tuple[mp.AppCredentials, list[dict[str, Any]], str]]:
    creds, seen = mp.generate_app(), []
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(_receiver(creds, seen), host="127.0.0.1", port=port, log_level="error")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield creds, seen, f"http://127.0.0.1:{port}/push"
    finally:
        server.should_exit = True
        await task


@pytest.mark.parametrize("mode", ["safe", "compatible", "plaintext"])
async def test_wechatpy_receives_every_push(served: Any, mode: str) -> None:
    creds, seen, url = served
    state = mp.MiniProgramState(seed=4)
    state.register(creds, push_url=url, message_format="xml", message_mode=mode)
    ids = mp.seed(state, creds.appid, count=5, days=2)
    async with httpx.AsyncClient() as client:
        notifier = mp.MiniProgramNotifier(state, client=client, retry_delays=(0.0,))
        assert await notifier.verify_url(creds.appid)  # the URL check, answered through wechatpy
        await notifier.deliver_pending()
    complaint_pushes = [m for m in seen if m["Event"] == "complaint_callback"]
    assert {m["ToUserName"] for m in seen} == {creds.original_id}
    assert len(complaint_pushes) >= len(ids) and all(m["MsgType"] == "event" for m in seen)
    assert all(p.delivered for p in state.pushes)


async def test_wechatpy_refuses_a_push_signed_with_another_token(served: Any) -> None:
    creds, seen, url = served
    impostor = mp.AppCredentials(
        creds.appid, creds.secret, "x" * 32, creds.encoding_aes_key, creds.original_id
    )
    state = mp.MiniProgramState(seed=4)
    state.register(impostor, push_url=url, message_format="xml", message_mode="safe")
    mp.seed(state, creds.appid, count=1, days=1)
    async with httpx.AsyncClient() as client:
        notifier = mp.MiniProgramNotifier(state, client=client, retry_delays=(0.0,))
        assert not await notifier.verify_url(creds.appid)
        await notifier.deliver_pending()
    assert seen == [] and not any(p.delivered for p in state.pushes)
