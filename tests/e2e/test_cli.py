"""The CLI against a simulator served over real HTTP on loopback."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import func, select
from tests.core import report_data
from tests.e2e.doctor_env import Loopback
from tests.e2e.harness import keys
from tests.e2e.test_api import png
from tests.e2e.test_crash import free_port
from typer.testing import CliRunner

from complaintdesk.app import create_app as create_desk
from complaintdesk.cli.main import app
from complaintdesk.core.reports.rollup_models import ReportDay, ReportRollupState
from complaintdesk.db import make_engine, make_session_factory
from complaintdesk.migrate import upgrade
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox.wechatpay import SimulatorState, create_app, seed, write_merchant_files
from complaintdesk.settings import load_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def simulator() -> Iterator[tuple[SimulatorState, str]]:
    platform, shop, _ = keys()
    state = SimulatorState(platform=platform, seed=4)
    state.register_merchant(shop)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield state, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def cli_env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    key_file = tmp_path / "data_key"
    key_file.write_text("d" * 48, encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(f'database_url = "{db_url}"\ndata_key_file = "{key_file}"\n', encoding="utf-8")
    monkeypatch.setenv("COMPLAINTDESK_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "240")
    return tmp_path


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_merchants_sync_list_show_and_doctor(simulator: tuple[SimulatorState, str], cli_env: Path) -> None:
    state, url = simulator
    platform, shop, _ = keys()
    files = write_merchant_files(cli_env / "shop", shop, platform)
    invoke(
        "merchants", "add", "shop", "--mchid", shop.mchid, "--serial", shop.serial_no,
        "--private-key", f"file:{files['private_key']}", "--merchant-cert", f"file:{files['certificate']}",
        "--apiv3-key", f"file:{files['apiv3_key']}", "--api-base-url", url,
    )  # fmt: skip
    listing = invoke("merchants", "list")
    assert "shop" in listing and shop.mchid in listing
    assert shop.apiv3_key not in listing and str(files["private_key"]) not in listing

    ids = seed(state, shop.mchid, count=7, days=5, notify=False)
    out = invoke("sync")
    assert "7 new" in out and "7 complaints were found by sync but never announced" in out
    listing = invoke("complaints", "list")
    assert "7 complaints stored" in listing
    detail = invoke("complaints", "show", ids[0])
    assert ids[0] in detail and "USER_CREATE_COMPLAINT" in detail
    upstream_phone = "13800138000"
    assert upstream_phone not in detail

    port = free_port()  # our own server on loopback: the callback URL is fetched through public_base_url
    config = cli_env / "complaintdesk.toml"
    config.write_text(f'public_base_url = "http://127.0.0.1:{port}"\n' + config.read_text(), encoding="utf-8")
    desk = Loopback(create_desk(ctx=AppContext(load_settings()), run_jobs=False), port)
    try:
        doctor = invoke("doctor")
    finally:
        desk.stop()
    assert "FAIL" not in doctor
    assert "private key matches the merchant certificate" in doctor
    assert "signed request accepted" in doctor
    assert (
        f"callback URL http://127.0.0.1:{port}/webhooks/wechatpay/shop reachable: answered as this" in doctor
    )
    assert "clock skew against" in doctor


def test_doctor_reports_a_wrong_serial_and_a_short_apiv3_key(
    simulator: tuple[SimulatorState, str], cli_env: Path
) -> None:
    _, url = simulator
    platform, shop, _ = keys()
    files = write_merchant_files(cli_env / "shop", shop, platform)
    short = cli_env / "short_key"
    short.write_text("tooshort", encoding="utf-8")
    invoke(
        "merchants", "add", "shop", "--mchid", shop.mchid, "--serial", "0123456789ABCDEF",
        "--private-key", f"file:{files['private_key']}", "--merchant-cert", f"file:{files['certificate']}",
        "--apiv3-key", f"file:{short}", "--api-base-url", url,
    )  # fmt: skip
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "configured serial matches the certificate" in result.output and "FAIL" in result.output
    assert "APIv3 key is 32 bytes — it is 8 bytes" in result.output


def test_bad_input_to_merchants_add_is_refused_clearly(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["merchants", "add", "Bad Name!", "--mchid", "1"])
    assert result.exit_code == 1 and "account name" in result.output
    invoke("merchants", "add", "shop", "--mchid", "1900000001")
    result = CliRunner().invoke(app, ["merchants", "add", "shop", "--mchid", "1900000002"])
    assert result.exit_code == 1 and "exists already" in result.output


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free ports (the demo uses simulator-port, +1, +2 and +3)."""
    for _ in range(50):
        base = free_port()
        sockets = []
        try:
            for offset in range(count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no run of free ports")


def test_demo_serves_and_receives_seeded_complaints(tmp_path: Path) -> None:
    port = free_port_run(5)  # DEMO_PORT alone: the four other ports follow it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPLAINTDESK_", "DEMO_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "complaintdesk.cli.main", "demo", "--complaints", "6"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**env, "DEMO_PORT": str(port)},
    )  # fmt: skip
    db = tmp_path / ".demo" / "complaintdesk.db"
    stored = 0
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and stored < 6:
            time.sleep(0.5)
            if db.exists():
                with sqlite3.connect(db) as conn:
                    try:
                        stored = conn.execute("select count(*) from complaint").fetchone()[0]
                    except sqlite3.OperationalError:
                        stored = 0
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0].decode()
    assert stored >= 6, output
    assert proc.returncode == 0, output
    # The first screen: nothing before it, the sign-in line near the top, every simulator and webhook.
    lines = output.splitlines()
    assert lines[1] == "complaintdesk demo is running", output
    assert lines[2].startswith(f"  console          http://127.0.0.1:{port}/   login: admin / "), output
    desk = f"http://127.0.0.1:{port}/webhooks"
    for expected in (
        f"WeChat Pay     http://127.0.0.1:{port + 1}/sandbox/state",
        f"-> {desk}/wechatpay/demo-shop, {desk}/wechatpay/demo-provider",
        f"Mini Program   http://127.0.0.1:{port + 2}/sandbox/state",
        f"-> {desk}/miniprogram/demo-mp",
        f"Huishouqian    http://127.0.0.1:{port + 3}/sandbox/state",
        f"-> {desk}/huishouqian/demo-hsq",
        f"alert receiver   http://127.0.0.1:{port + 4}/",
    ):
        assert expected in output, output
    assert "warning" not in output.lower(), output  # warnings go to .demo/demo.log
    # No notification was refused for want of the platform certificate (fetched before they flow).
    assert "UnknownSerial" not in (tmp_path / ".demo" / "demo.log").read_text(encoding="utf-8")


def test_demo_refuses_ports_in_use_or_given_twice_and_changes_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPLAINTDESK_", "DEMO_"))}
    (tmp_path / ".demo").mkdir()
    (tmp_path / ".demo" / "keep.txt").write_text("previous run", encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        free = free_port()
        cases = {
            ("--port", str(busy)): f"complaintdesk (--port): port {busy} is in use on 127.0.0.1",
            ("--port", str(free), "--simulator-port", str(free)): (
                f"WeChat Pay simulator (--simulator-port): port {free} is already given to the complaintdesk"
            ),
            ("--port", "65535"): "WeChat Pay simulator (--simulator-port): port 65536 is outside 1-65535",
        }
        for args, message in cases.items():
            result = subprocess.run(
                [sys.executable, "-m", "complaintdesk.cli.main", "demo", *args],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert result.returncode == 1, result.stdout + result.stderr
            assert f"cannot start the demo: {message}" in result.stdout, result.stdout
    assert [p.name for p in (tmp_path / ".demo").iterdir()] == ["keep.txt"]


def test_reply_refund_complete_and_callback_url_from_the_cli(
    simulator: tuple[SimulatorState, str], cli_env: Path, tmp_path: Path
) -> None:
    state, url = simulator
    platform, shop, _ = keys()
    state.allow_http_callbacks = True
    files = write_merchant_files(cli_env / "shop", shop, platform)
    invoke(
        "merchants", "add", "shop", "--mchid", shop.mchid, "--serial", shop.serial_no,
        "--private-key", f"file:{files['private_key']}", "--apiv3-key", f"file:{files['apiv3_key']}",
        "--api-base-url", url,
    )  # fmt: skip
    plain = state.create_complaint(shop.mchid, detail="发货太慢", notify=False)
    refund = state.create_complaint(
        shop.mchid, problem_type="REFUND", apply_refund_amount_fen=500, notify=False
    )
    invoke("sync")
    image = tmp_path / "proof.png"
    image.write_bytes(png())
    out = invoke("complaints", "reply", plain, "--text", "已加急发货，请留意物流。", "--image", str(image))
    assert "sent" in out
    assert [e["operate_details"] for e in state.merchant_actions(plain, api_only=True)] == [
        "已加急发货，请留意物流。"
    ]
    invoke("complaints", "complete", plain)
    assert state.complaint(plain)["complaint_state"] == "PROCESSED"
    result = CliRunner().invoke(app, ["complaints", "reply", plain, "--text", "再次回复"])
    assert result.exit_code == 1 and "PROCESSED" in result.output  # refused before sending
    invoke("complaints", "refund", refund, "--reject", "--reason", "已超过退款期限")
    assert [e["operate_type"] for e in state.merchant_actions(refund, api_only=True)] == [
        "MERCHANT_REFUSE_RERUND"
    ]

    assert "no callback URL" in invoke("callback-url", "get", "--account", "shop")
    invoke(
        "callback-url",
        "set",
        "--account",
        "shop",
        "--url",
        "https://desk.example.com/webhooks/wechatpay/shop",
    )
    assert "https://desk.example.com/webhooks/wechatpay/shop" in invoke(
        "callback-url", "get", "--account", "shop"
    )
    invoke(
        "callback-url",
        "set",
        "--account",
        "shop",
        "--url",
        "https://desk2.example.com/webhooks/wechatpay/shop",
    )
    assert "desk2" in invoke("callback-url", "get", "--account", "shop")
    invoke("callback-url", "delete", "--account", "shop")
    assert "no callback URL" in invoke("callback-url", "get", "--account", "shop")


def test_reports_refresh_rolls_up_the_ended_days_once(cli_env: Path, db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        report_data.build(session)
    out = invoke("reports", "refresh")
    assert "rolled up" in out and "(2026-05-31 …" in out
    assert "up to date" in invoke("reports", "refresh")
    with make_session_factory(engine)() as session:
        state = session.get(ReportRollupState, 1)
        assert state is not None and state.complete_until is not None
        assert session.scalar(select(func.sum(ReportDay.received))) == 7
    engine.dispose()
