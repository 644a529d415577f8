"""Through deploy/nginx/complaintdesk.conf to a real complaintdesk: a signed, encrypted WeChat Pay
notification is verified and stored; a tampered one is refused and changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
from pathlib import Path

import httpx
import pytest
import uvicorn
from tests.deploy.nginx_harness import free_port, nginx_in_front
from tests.e2e.harness import Harness

from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.sandbox.wechatpay import Notifier
from complaintdesk.web.server import HTTP_PROTOCOL

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)"),
]


async def test_signed_notification_passes_nginx_and_a_tampered_one_does_not(
    wx: Harness, tmp_path: Path
) -> None:
    assert NGINX is not None
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            wx.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", http=HTTP_PROTOCOL
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        with nginx_in_front(NGINX, tmp_path, upstream_port=port) as (_, _, https_port):
            wx.state.set_notify_url(wx.shop.mchid, f"https://127.0.0.1:{https_port}/webhooks/wechatpay/shop")
            trust = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
            sent: list[httpx.Request] = []

            async def record(request: httpx.Request) -> None:
                sent.append(request)

            async with httpx.AsyncClient(verify=trust, event_hooks={"request": [record]}) as client:
                external = wx.state.create_complaint(wx.shop.mchid)
                notifier = Notifier(wx.state, client=client, retry_delays=(0.0,))
                assert await notifier.deliver_pending() >= 1
                await wx.process()
                assert external in wx.complaints()
                stored = wx.count(InboxEvent)

                # The same notification with one byte of its body changed: refused, nothing stored.
                original = sent[0]
                assert original.headers["wechatpay-signature"]
                tampered = original.content.replace(b'"', b' "', 1)  # same JSON, one more byte
                headers = {k: v for k, v in original.headers.items() if k.lower() != "content-length"}
                answer = await client.post(original.url, content=tampered, headers=headers)
                assert answer.status_code == 401, answer.text
                assert wx.count(InboxEvent) == stored
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
