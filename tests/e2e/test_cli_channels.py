"""Mini Program and Huishouqian actions from the CLI, against simulators served over loopback HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.e2e.harness_channels import MERCHANT_NO, hsq_keys
from tests.e2e.test_api import png
from tests.e2e.test_crash import free_port
from typer.testing import CliRunner

from complaintdesk.app import create_app
from complaintdesk.cli.main import app
from complaintdesk.jobs.process import process_inbox
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox import huishouqian as hsq
from complaintdesk.sandbox import miniprogram as mp
from complaintdesk.settings import Settings

pytestmark = pytest.mark.slow


def _serve(asgi: Any) -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture
def sims() -> Iterator[dict[str, Any]]:
    creds = mp.generate_app()
    mp_state = mp.MiniProgramState(seed=8)
    mp_state.register(
        creds, push_url="http://desk/webhooks/miniprogram/mp", message_format="json", message_mode="safe"
    )
    platform, merchant = hsq_keys()
    hs_state = hsq.HuishouqianState(platform, seed=8)
    hs_state.register_merchant(merchant)
    mp_server, mp_url = _serve(mp.create_app(mp_state))
    hs_server, hs_url = _serve(hsq.create_app(hs_state))
    mp_state.public_base_url = mp_url
    yield {
        "mp": mp_state,
        "creds": creds,
        "mp_url": mp_url,
        "hs": hs_state,
        "hs_url": hs_url,
        "platform": platform,
        "merchant": merchant,
    }
    mp_server.should_exit = hs_server.should_exit = True


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_mini_program_and_huishouqian_actions_from_the_cli(
    sims: dict[str, Any], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "data_key"
    key_file.write_text("c" * 48, encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(
        f'database_url = "{db_url}"\ndata_key_file = "{key_file}"\ndata_dir = "{tmp_path}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("COMPLAINTDESK_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "240")
    creds = sims["creds"]
    for name, value in (("secret", creds.secret), ("token", creds.token), ("aes", creds.encoding_aes_key)):
        (tmp_path / name).write_text(value, encoding="utf-8")
    invoke(
        "merchants", "add", "mp", "--appid", creds.appid, "--api-base-url", sims["mp_url"],
        "--app-secret", f"file:{tmp_path / 'secret'}", "--token", f"file:{tmp_path / 'token'}",
        "--encoding-aes-key", f"file:{tmp_path / 'aes'}", "--message-format", "json",
    )  # fmt: skip
    files = hsq.write_merchant_files(tmp_path / "hsq", sims["merchant"], sims["platform"])
    secrets = [arg for name, path in files.items() for arg in ("--secret", f"{name}=file:{path}")]
    invoke(
        "merchants",
        "add",
        "hsq",
        "--channel",
        "huishouqian",
        "--mchid",
        MERCHANT_NO,
        "--api-base-url",
        sims["hs_url"],
        *secrets,
    )

    # Mini Program complaints arrive only by push: deliver one through the app, as WeChat would.
    mp_state = sims["mp"]
    complaint_id = mp_state.create_complaint(creds.appid)

    async def receive_push() -> None:
        ctx = AppContext(Settings())
        desk = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(ctx=ctx, run_jobs=False)), base_url="http://desk"
        )
        notifier = mp.MiniProgramNotifier(mp_state, client=desk, retry_delays=(0.0,))
        await notifier.deliver_pending()
        while await process_inbox(ctx):
            pass
        await desk.aclose()
        await ctx.aclose()

    asyncio.run(receive_push())
    assert complaint_id in invoke("complaints", "list")
    out = invoke(
        "complaints",
        "reply",
        complaint_id,
        "--mp-action",
        "respond",
        "--agree",
        "--text",
        "同意和解，今天退款",
    )
    assert "sent" in out
    assert len(mp_state.merchant_actions(complaint_id, api_only=True)) == 1

    hs_state = sims["hs"]
    hs_id = hs_state.create_complaint(MERCHANT_NO, notify=False)
    assert "1 new" in invoke("sync", "--account", "hsq")
    image = tmp_path / "proof.png"
    image.write_bytes(png())
    assert "sent" in invoke("complaints", "reply", hs_id, "--text", "您好，凭证见图", "--image", str(image))
    assert "sent" in invoke("complaints", "complete", hs_id, "--text", "已处理完毕")
    assert hs_state.complaint(hs_id)["complaintState"] == "PROCESSED"


def test_merchants_add_names_each_channels_credentials_and_refuses_mixed_or_bare_values(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    shown = CliRunner().invoke(app, ["merchants", "add", "--help"])
    assert shown.exit_code == 0
    for flag in ("--appid", "--token", "--encoding-aes-key", "--app-secret", "--message-mode",
                 "--message-format", "--merchant-no", "--platform-certificate", "--sign-key",
                 "--private-key-p12", "--private-key-password", "--sign-type"):  # fmt: skip
        assert flag in shown.output, flag
    assert "Mini Program" in shown.output and "Huishouqian" in shown.output
    key_file = tmp_path / "data_key"
    key_file.write_text("c" * 48, encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(
        f'database_url = "{db_url}"\ndata_key_file = "{key_file}"\ndata_dir = "{tmp_path}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("COMPLAINTDESK_CONFIG", str(config))
    invoke("db", "upgrade")
    mixed = CliRunner().invoke(
        app, ["merchants", "add", "x", "--channel", "huishouqian", "--merchant-no", MERCHANT_NO,
              "--token", "env:T"],
    )  # fmt: skip
    assert mixed.exit_code != 0 and "options of miniprogram and huishouqian" in mixed.output
    bare = CliRunner().invoke(
        app, ["merchants", "add", "x", "--appid", "wx0123456789abcdef", "--token", "abc"]
    )
    assert bare.exit_code != 0 and "never values" in bare.output
    out = invoke("merchants", "add", "hooks", "--appid", "wx0123456789abcdef", "--token", "env:MP_TOKEN")
    assert "miniprogram wx0123456789abcdef" in out
    assert "hooks" in invoke("merchants", "list") and "x" not in invoke("merchants", "list").split()
