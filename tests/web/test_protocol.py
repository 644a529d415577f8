"""``serve``'s HTTP protocol over real loopback sockets: the direct webhook path and its fallbacks.

Every test runs twice: on the direct path (``HTTP_PROTOCOL``) and on uvicorn's own protocol, where
webhooks take the app's ASGI route — what ``serve`` falls back to with an untested uvicorn.

Requests are written as raw bytes, so pipelining, HTTP/1.0, chunked bodies and early hang-ups are
exactly what the test says, not what an HTTP client library chooses to do.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from tests.e2e.harness import keys
from tests.e2e.test_crash import add_shop
from tests.web.live import Server

from complaintdesk.app import create_app
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.sandbox.wechatpay import SimulatorState
from complaintdesk.sandbox.wechatpay.model import Notification
from complaintdesk.sandbox.wechatpay.notifier import notification_body, notification_headers
from complaintdesk.settings import Settings
from complaintdesk.web.server import FALLBACK_PROTOCOL, HTTP_PROTOCOL

LIMIT = 4096
WEBHOOK = "/webhooks/wechatpay/shop"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Desk:
    port: int
    db_url: str
    state: SimulatorState
    mchid: str
    direct: bool  # the direct webhook path (else the ASGI fallback)

    def notification(self, nid: str, *, forged: bool = False) -> tuple[dict[str, str], bytes]:
        n = Notification(
            id=nid,
            complaint_id=f"200020261202{abs(hash(nid)) % 10**14:014d}",
            action_type="CREATE_COMPLAINT",
            mchid=self.mchid,
            create_time=datetime.now(UTC),
        )
        body = notification_body(self.state, n)
        headers = notification_headers(self.state, body)
        if forged:
            body = body.replace(b'"id":', b'"id" :', 1)  # the signature no longer covers the body
        return headers, body

    def stored(self) -> list[str]:
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return sorted(conn.scalars(select(InboxEvent.dedupe_key)))
        finally:
            engine.dispose()


@pytest.fixture(params=[HTTP_PROTOCOL, FALLBACK_PROTOCOL], ids=["direct", "asgi-fallback"])
def desk(settings: Settings, db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Desk]:
    platform, shop, _ = keys()
    add_shop(db_url, tmp_path)
    app = create_app(settings.model_copy(update={"max_body_bytes": LIMIT}), run_jobs=False)
    server = Server(app, http=request.param).start()
    state = SimulatorState(platform=platform)
    state.register_merchant(shop)
    try:
        yield Desk(server.port, db_url, state, shop.mchid, direct=request.param == HTTP_PROTOCOL)
    finally:
        server.stop()


def post(
    path: str, headers: dict[str, str], body: bytes, *, version: str = "1.1", length: int | None = None
) -> bytes:
    """A request; ``length`` declares another Content-Length than the body's."""
    declared = len(body) if length is None else length
    lines = [f"POST {path} HTTP/{version}", "Host: desk.test", f"Content-Length: {declared}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: desk.test\r\n\r\n".encode()


class Reader:
    """Reads HTTP/1.1 responses (Content-Length framed, or none for 204) off a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def answer(self) -> Answer:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("closed before a full response head")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not self._fill():
                raise ConnectionError("closed before the whole body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(int(status_line.split()[1]), headers, body)

    def closed(self) -> bool:
        """Whether the server closed the connection (nothing more arrives)."""
        return not self.buffer and not self._fill()


def connect(desk: Desk) -> tuple[socket.socket, Reader]:
    sock = socket.create_connection(("127.0.0.1", desk.port), timeout=10)
    return sock, Reader(sock)


def test_a_signed_notification_is_answered_204_after_it_is_stored(desk: Desk) -> None:
    sock, reader = connect(desk)
    with sock:
        for nid in ("n-1", "n-2"):  # one keep-alive connection, two requests
            sock.sendall(post(WEBHOOK, *desk.notification(nid)))
            answer = reader.answer()
            assert answer.status == 204
            assert answer.body == b""
            assert "date" in answer.headers
            if desk.direct:
                assert "content-length" not in answer.headers  # uvicorn's ASGI path sends "0"
            assert nid in desk.stored()  # stored before the answer: no waiting here


def test_pipelined_requests_are_answered_in_order_whichever_path_each_takes(desk: Desk) -> None:
    sock, reader = connect(desk)
    requests = [
        post(WEBHOOK, *desk.notification("p-1")),
        get("/healthz"),
        post(WEBHOOK, *desk.notification("p-forged", forged=True)),
        post(WEBHOOK, *desk.notification("p-2")),
        get("/healthz"),
        post("/webhooks/wechatpay/nobody", *desk.notification("p-unknown")),
    ]
    with sock:
        sock.sendall(b"".join(requests))
        answers = [reader.answer() for _ in requests]
    assert [a.status for a in answers] == [204, 200, 401, 204, 200, 404]
    assert json.loads(answers[1].body)["status"] == "ok"
    assert json.loads(answers[2].body) == {"code": "FAIL", "message": "signature does not verify"}
    assert json.loads(answers[5].body) == {"code": "FAIL", "message": "unknown merchant account"}
    assert desk.stored() == ["p-1", "p-2"]


def test_a_declared_oversized_body_is_refused_413_and_the_connection_closed(desk: Desk) -> None:
    sock, reader = connect(desk)
    headers, _ = desk.notification("big")
    with sock:
        sock.sendall(post(WEBHOOK, headers, b"x" * 100, length=LIMIT + 1))
        answer = reader.answer()
        assert answer.status == 413
        assert json.loads(answer.body)["code"] == "FAIL"
        assert answer.headers["connection"] == "close"
        assert reader.closed()
    assert desk.stored() == []


def test_a_chunked_body_is_read_within_the_limit_and_refused_past_it(desk: Desk) -> None:
    headers, body = desk.notification("chunked")
    lines = [f"POST {WEBHOOK} HTTP/1.1", "Host: desk.test", "Transfer-Encoding: chunked"]
    head = ("\r\n".join(lines + [f"{k}: {v}" for k, v in headers.items()]) + "\r\n\r\n").encode()
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    sock, reader = connect(desk)
    with sock:
        sock.sendall(head + chunks + b"0\r\n\r\n")
        assert reader.answer().status == 204
        too_much = b"".join(b"%x\r\n%s\r\n" % (1024, b"y" * 1024) for _ in range(LIMIT // 1024 + 1))
        sock.sendall(head + too_much)
        answer = reader.answer()
        assert answer.status == 413
        assert reader.closed()
    assert desk.stored() == ["chunked"]


def test_http_1_0_is_answered_and_closed(desk: Desk) -> None:
    sock, reader = connect(desk)
    with sock:
        sock.sendall(post(WEBHOOK, *desk.notification("old-client"), version="1.0"))
        answer = reader.answer()
        assert answer.status == 204
        assert answer.headers["connection"] == "close"
        assert reader.closed()


def test_other_webhook_shapes_fall_back_to_the_asgi_route(desk: Desk) -> None:
    sock, reader = connect(desk)
    with sock:
        sock.sendall(post("/webhooks/wechatpay/shop/extra", *desk.notification("too-deep")))
        assert (reader.answer().status, reader.buffer) == (404, b"")
        # "sh%6Fp" is "shop" once decoded: uvicorn's path decodes it, and the notification is stored.
        sock.sendall(post("/webhooks/wechatpay/sh%6Fp", *desk.notification("encoded")))
        assert reader.answer().status == 204
        sock.sendall(get(WEBHOOK))  # WeChat Pay only POSTs: the ASGI route refuses a GET
        answer = reader.answer()
        assert answer.status == 400
        assert json.loads(answer.body)["message"] == "WeChat Pay notifications are POST requests"
    assert desk.stored() == ["encoded"]


def test_a_caller_gone_before_the_commit_still_has_its_notification_kept(desk: Desk) -> None:
    sock, _ = connect(desk)
    sock.sendall(post(WEBHOOK, *desk.notification("hung-up")))
    sock.close()
    deadline = time.monotonic() + 10
    while "hung-up" not in desk.stored():
        assert time.monotonic() < deadline, "the notification of a caller that hung up was lost"
        time.sleep(0.05)


def test_when_the_inbox_cannot_be_written_the_answer_asks_for_a_retry(desk: Desk) -> None:
    engine = create_engine(desk.db_url)
    sock, reader = connect(desk)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbox_event RENAME TO inbox_event_away"))
        with sock:
            sock.sendall(post(WEBHOOK, *desk.notification("unwritable")))
            answer = reader.answer()
            assert answer.status >= 500
            assert json.loads(answer.body)["code"] == "FAIL"
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbox_event_away RENAME TO inbox_event"))
        engine.dispose()
    sock, reader = connect(desk)
    with sock:
        sock.sendall(post(WEBHOOK, *desk.notification("after-repair")))
        assert reader.answer().status == 204
    assert desk.stored() == ["after-repair"]


def test_one_notification_sent_on_many_connections_at_once_is_stored_once(desk: Desk) -> None:
    request = post(WEBHOOK, *desk.notification("duplicated"))
    connections = [connect(desk) for _ in range(24)]
    for sock, _ in connections:  # every copy is on its way before the first answer
        sock.sendall(request)
    statuses = []
    for sock, reader in connections:
        with sock:
            statuses.append(reader.answer().status)
    assert statuses == [204] * 24
    assert desk.stored() == ["duplicated"]
