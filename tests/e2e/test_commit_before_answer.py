"""An answered write survives ``kill -9`` at the moment its answer arrives (issue #11, part 1).

A real ``complaintdesk serve`` is sent one write over a raw socket; as soon as the status line of the
answer arrives, the whole server is killed with SIGKILL (no shutdown, no pending thread finishes). The
database is then opened: a write the server announced (API 202 and 201, console 303) must be in it.
Each kind is repeated, on SQLite and PostgreSQL, so that a commit racing the answer would show.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from tests.core import consolekit
from tests.e2e.test_api import png
from tests.e2e.test_crash import add_shop, free_port, start_server, wait_until_group_gone

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.media.models import MediaFile
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.core.tokens import service as token_service
from complaintdesk.db import make_engine, make_session_factory, unit_of_work

pytestmark = pytest.mark.slow

ROUNDS = 3
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class Desk:
    """A database with a shop, complaints, an API token and a console user; the server serving it."""

    db_url: str
    config: Path
    port: int
    complaint_ids: list[int]
    bearer: str
    server: subprocess.Popen[bytes] | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = start_server(self.config, self.port)

    def kill(self) -> None:
        if self.server is not None and self.server.returncode is None:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait(timeout=10)
            wait_until_group_gone(self.server.pid)

    def count(self, query: object) -> int:
        engine = make_engine(self.db_url, pool_size=0)
        try:
            with engine.connect() as conn:
                return int(conn.scalar(query) or 0)  # type: ignore[call-overload]
        finally:
            engine.dispose()


@pytest.fixture
def desk(db_url: str, tmp_path: Path) -> Iterator[Desk]:
    add_shop(db_url, tmp_path)
    engine = make_engine(db_url, pool_size=0)
    with consolekit.cheap_hashing(), unit_of_work(make_session_factory(engine)) as s:
        shop = s.scalars(select(MerchantAccount).where(MerchantAccount.name == "shop")).one()
        complaints = [
            consolekit.complaint(s, shop, problem_type="OTHERS", detail=f"第{i}单没有发货")
            for i in range(ROUNDS)
        ]
        ids = [c.id for c in complaints]
        bearer, _ = token_service.create(session=s, name="erp", account_names=[], all_accounts=True)
        consolekit.user(s, "agent1", "agent", all_accounts=True)
    engine.dispose()
    key_file = tmp_path / "data_key"
    key_file.write_text("k" * 48, encoding="utf-8")
    port = free_port()
    config = tmp_path / "complaintdesk.toml"
    config.write_text(
        f'database_url = "{db_url}"\ndata_key_file = "{key_file}"\ndata_dir = "{tmp_path / "data"}"\n'
        f"port = {port}\nrun_jobs_in_process = false\n",
        encoding="utf-8",
    )
    running = Desk(db_url, config, port, ids, bearer)
    running.start()
    yield running
    running.kill()


def raw_request(request: httpx.Request) -> bytes:
    """The request as HTTP/1.1 bytes (``Connection: close``)."""
    body = request.read()
    target = urlsplit(str(request.url))
    head = [f"{request.method} {target.path} HTTP/1.1", f"Host: {target.netloc}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in ("host", "connection")]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def answer_then_kill(desk: Desk, request: httpx.Request) -> int:
    """Send ``request``; SIGKILL the server the moment the answer's status line arrives; its status."""
    assert desk.server is not None
    received = b""
    with socket.create_connection(("127.0.0.1", desk.port), timeout=30) as sock:
        sock.sendall(raw_request(request))
        while b"\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection without answering: {received!r}"
            received += chunk
        os.killpg(desk.server.pid, signal.SIGKILL)  # every process of the server, no shutdown
    desk.server.wait(timeout=10)
    assert desk.server.returncode == -signal.SIGKILL
    wait_until_group_gone(desk.server.pid)
    return int(received.split(b" ", 2)[1])


def sign_in(desk: Desk) -> str:
    """Sign ``agent1`` in through the console; keep its cookies and return the page's CSRF token."""
    with httpx.Client(base_url=desk.base, follow_redirects=False) as client:
        csrf = _csrf(client.get("/login").text)
        signed = client.post("/login", data={"csrf_token": csrf, "username": "agent1",
                                             "password": consolekit.PASSWORD})  # fmt: skip
        assert signed.status_code == 303, signed.text
        page = client.get(f"/complaints/{desk.complaint_ids[0]}")
        assert page.status_code == 200
        desk.cookies = dict(client.cookies)
        return _csrf(page.text)


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


def _each_round(desk: Desk, send: Callable[[int], int], expected: int, stored: Callable[[int], int]) -> None:
    for i in range(ROUNDS):
        if i:
            desk.start()
        status = send(i)
        assert status == expected, f"round {i}: answered {status}"
        assert stored(i) == 1, f"round {i}: answered {status}, then lost by kill -9"


def test_an_action_answered_202_survives_kill_9(desk: Desk) -> None:
    def send(i: int) -> int:
        request = httpx.Request(
            "POST", f"{desk.base}/api/v1/complaints/{desk.complaint_ids[i]}/actions",
            headers={"Authorization": f"Bearer {desk.bearer}"},
            json={"kind": "reply", "params": {"content": f"您好，第{i}单已发货。"}},
        )  # fmt: skip
        return answer_then_kill(desk, request)

    def stored(i: int) -> int:
        return desk.count(
            select(func.count())
            .select_from(OutboundAction)
            .where(OutboundAction.complaint_id == desk.complaint_ids[i], OutboundAction.kind == "reply")
        )

    _each_round(desk, send, 202, stored)


def test_an_upload_answered_201_survives_kill_9(desk: Desk) -> None:
    images = [png(width=i + 1, height=i + 2) for i in range(ROUNDS)]

    def send(i: int) -> int:
        request = httpx.Request(
            "POST", f"{desk.base}/api/v1/media", headers={"Authorization": f"Bearer {desk.bearer}"},
            files={"file": (f"proof{i}.png", images[i], "image/png")},
        )  # fmt: skip
        return answer_then_kill(desk, request)

    def stored(i: int) -> int:
        digest = hashlib.sha256(images[i]).hexdigest()
        return desk.count(select(func.count()).where(MediaFile.sha256 == digest))

    _each_round(desk, send, 201, stored)


def test_a_console_note_answered_303_survives_kill_9(desk: Desk) -> None:
    csrf = sign_in(desk)
    cookie = "; ".join(f"{k}={v}" for k, v in desk.cookies.items())

    def send(i: int) -> int:
        request = httpx.Request(
            "POST", f"{desk.base}/complaints/{desk.complaint_ids[i]}/notes",
            headers={"Cookie": cookie}, data={"csrf_token": csrf, "note": f"第{i}次来电，已安抚"},
        )  # fmt: skip
        return answer_then_kill(desk, request)

    def stored(i: int) -> int:
        return desk.count(
            select(func.count()).where(
                TimelineEntry.source == "note", TimelineEntry.text == f"第{i}次来电，已安抚"
            )
        )

    _each_round(desk, send, 303, stored)
