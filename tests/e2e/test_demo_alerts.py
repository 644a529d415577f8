"""The demo's alert wiring: the local receiver, registered as a WeCom-shaped robot and a Standard Webhooks
endpoint, gets the alerts (verified) and lists them on its page."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from tests.core.consolekit import account, complaint
from tests.web.live import Server

from complaintdesk.cli import demo_alerts
from complaintdesk.core.alerts import events
from complaintdesk.jobs.alerts import deliver_due
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox.receiver import Inbox, create_app
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


async def test_the_demo_receiver_gets_robot_digests_and_verified_endpoint_events(
    db_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path, data_key=secrets.token_urlsafe(40))
    ctx = AppContext(settings)
    receiver: Server | None = None
    try:
        with ctx.session() as s:
            shop = account(s, "demo-shop")
        inbox = Inbox(key="")
        receiver = Server(create_app(inbox)).start()
        url = receiver.url
        with ctx.session() as s:
            demo_alerts.setup(s, ctx.cipher, settings.alerts, url, "demo-shop", inbox)
        with ctx.session() as s:
            owner = s.merge(shop)
            for _ in range(3):
                c = complaint(s, owner, amount_fen=990, phone="13800138000")
                events.record(session=s, kind=events.EventKind.NEW_COMPLAINT, key=str(c.id),
                              now=ctx.clock.now(), complaint=c)  # fmt: skip
        for _ in range(5):
            await deliver_due(ctx)
        got = httpx.get(f"{url}/messages.json").json()
        kinds = [m["kind"] for m in got]
        assert kinds.count("endpoint") == 3 and kinds.count("wecom") == 1  # the robot: one digest
        assert all(m["verified"] for m in got)
        robot = next(m for m in got if m["kind"] == "wecom")
        assert "投诉提醒汇总" in robot["title"] and "新投诉: 3" in robot["text"]
        page = httpx.get(f"{url}/").text
        assert "complaint.new_complaint" in page and "13800138000" not in page
        wrong = httpx.post(f"{url}/cgi-bin/webhook/send?key=nope", json={"msgtype": "markdown"}).json()
        assert wrong["errcode"] == 93000
        forged = httpx.post(f"{url}/endpoint", content=b"{}", headers={"webhook-id": "x"})
        assert forged.status_code == 400 and len(httpx.get(f"{url}/messages.json").json()) == 4
    finally:
        if receiver is not None:
            receiver.stop()
        ctx.engine.dispose()
