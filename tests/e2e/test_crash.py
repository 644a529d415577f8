"""Kill -9 the server in the middle of a burst: every acknowledged notification must be stored."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from tests.e2e.harness import keys

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.db import make_engine, make_session_factory, unit_of_work
from complaintdesk.migrate import upgrade
from complaintdesk.sandbox.wechatpay import SimulatorState, write_merchant_files
from complaintdesk.sandbox.wechatpay.model import Notification
from complaintdesk.sandbox.wechatpay.notifier import notification_body, notification_headers

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, db_url: str, port: int) -> Path:
    key_file = tmp_path / "data_key"
    key_file.write_text("k" * 48, encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    lines = [f'database_url = "{db_url}"', f'data_key_file = "{key_file}"', f"port = {port}"]
    config.write_text("\n".join([*lines, "run_jobs_in_process = false", ""]), encoding="utf-8")
    return config


def add_shop(db_url: str, tmp_path: Path) -> None:
    platform, shop, _ = keys()
    files = write_merchant_files(tmp_path / "shop", shop, platform)
    engine = make_engine(db_url, pool_size=0)
    upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as s:
        account_service.create(
            session=s,
            name="shop",
            channel="wechatpay",
            mchid=shop.mchid,
            merchant_serial=shop.serial_no,
            private_key_ref=f"file:{files['private_key']}",
            apiv3_key_ref=f"file:{files['apiv3_key']}",
            platform_cert_refs=[f"file:{files['platform_certificate']}"],
        )
    engine.dispose()


def start_server(config: Path, port: int, *, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COMPLAINTDESK_CONFIG": str(config)}
    command = [sys.executable, "-m", "complaintdesk.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the server and its worker processes form one group, killed together
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def wait_until_group_gone(pgid: int) -> None:
    """Wait until no process of the killed server is left (its workers die with it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("a server process survived SIGKILL of its group")


async def test_killing_the_server_mid_burst_loses_no_acknowledged_notification(
    db_url: str, tmp_path: Path
) -> None:
    platform, shop, _ = keys()
    add_shop(db_url, tmp_path)
    port = free_port()
    server = start_server(write_config(tmp_path, db_url, port), port)
    state = SimulatorState(platform=platform)
    state.register_merchant(shop)
    prepared = []
    for i in range(1000):
        n = Notification(
            id=f"crash-{i}",
            complaint_id=f"2002018202611{i:014d}",
            action_type="CREATE_COMPLAINT",
            mchid=shop.mchid,
            create_time=datetime.now(UTC),
        )
        body = notification_body(state, n)
        prepared.append((n.id, body, notification_headers(state, body)))

    acknowledged: list[str] = []
    url = f"http://127.0.0.1:{port}/webhooks/wechatpay/shop"
    queue: asyncio.Queue[tuple[str, bytes, dict[str, str]]] = asyncio.Queue()
    for item in prepared:
        queue.put_nowait(item)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            nid, body, headers = queue.get_nowait()
            try:
                answer = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                continue
            if answer.status_code == 204:
                acknowledged.append(nid)
            if len(acknowledged) == 300:
                os.killpg(server.pid, signal.SIGKILL)  # every process of the server, no shutdown

    async with httpx.AsyncClient(timeout=5.0, limits=httpx.Limits(max_connections=64)) as client:
        await asyncio.gather(*(sender(client) for _ in range(48)))
    server.wait(timeout=10)
    assert server.returncode == -signal.SIGKILL
    wait_until_group_gone(server.pid)
    assert 300 <= len(acknowledged) < len(prepared), "the kill must land in the middle of the burst"

    engine = make_engine(db_url, pool_size=0)
    with engine.connect() as conn:
        stored = set(conn.scalars(select(InboxEvent.dedupe_key)))
    engine.dispose()
    assert set(acknowledged) <= stored


def test_workers_stop_when_the_serving_process_is_killed(tmp_path: Path) -> None:
    """``kill -9`` of ``complaintdesk serve`` alone must not leave a worker answering webhooks."""
    db_url = f"sqlite:///{tmp_path / 'cd.db'}"
    add_shop(db_url, tmp_path)
    port = free_port()
    server = start_server(write_config(tmp_path, db_url, port), port, workers=2)
    workers = [pid for pid in _group_members(server.pid) if pid != server.pid]
    assert len(workers) >= 2, "serve --workers 2 answers through worker processes"
    server.send_signal(signal.SIGKILL)  # the parent only
    server.wait(timeout=10)
    wait_until_group_gone(server.pid)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0)


def test_serve_answers_without_naming_its_server_software(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cd.db'}"
    add_shop(db_url, tmp_path)
    port = free_port()
    server = start_server(write_config(tmp_path, db_url, port), port)
    try:
        for path in ("/healthz", "/webhooks/wechatpay/nobody"):
            response = httpx.request(
                "GET" if path == "/healthz" else "POST", f"http://127.0.0.1:{port}{path}"
            )
            assert response.status_code in (200, 404)
            assert "server" not in response.headers
            assert "date" in response.headers
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


def test_serve_with_workers_refuses_a_port_another_server_holds(tmp_path: Path) -> None:
    """Per-worker sockets share a port with SO_REUSEPORT: they must never share it with a stranger."""
    db_url = f"sqlite:///{tmp_path / 'cd.db'}"
    add_shop(db_url, tmp_path)
    port = free_port()
    first = start_server(write_config(tmp_path, db_url, port), port, workers=2)
    try:
        env = {**os.environ, "COMPLAINTDESK_CONFIG": str(tmp_path / "complaintdesk.toml")}
        command = [sys.executable, "-m", "complaintdesk.cli.main", "serve", "--port", str(port), "--workers"]
        second = subprocess.run([*command, "2"], env=env, capture_output=True, timeout=60, check=False)
        assert second.returncode == 3
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr.decode()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        assert first.poll() is None  # the first server still has its port and its workers
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(timeout=15)


def _group_members(pgid: int) -> list[int]:
    """Process ids in a process group (from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members
