"""Standalone Mini Program and Huishouqian sandboxes: credential folders, control endpoints, bad input."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from complaintdesk.cli.main import app as main_cli
from complaintdesk.sandbox import huishouqian as hsq
from complaintdesk.sandbox import miniprogram as mp
from complaintdesk.sandbox.common.standalone import SpecError
from complaintdesk.sandbox.huishouqian import standalone as hs_standalone
from complaintdesk.sandbox.miniprogram import standalone as mp_standalone

BASE = "http://127.0.0.1:8102"
APPID = "wx0123456789abcdef"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _mp(root: Path) -> mp_standalone.MiniProgramSandbox:
    sandbox = mp_standalone.MiniProgramSandbox(mp.MiniProgramState(), root, BASE, seed=2)
    sandbox.load_saved()
    return sandbox


def _hs(root: Path) -> hs_standalone.HuishouqianSandbox:
    platform = hs_standalone.load_or_create_platform(root / "platform")
    sandbox = hs_standalone.HuishouqianSandbox(hsq.HuishouqianState(platform), root, BASE, seed=2)
    sandbox.load_saved()
    return sandbox


def test_mini_program_app_survives_a_restart(tmp_path: Path) -> None:
    first = _mp(tmp_path)
    info = first.register(APPID, push_url="http://127.0.0.1:9/mp", message_format="xml", complaints=4)
    assert Path(info["token_file"]).stat().st_mode & 0o077 == 0
    assert first.state.public_base_url == BASE  # CDN links of complaint images point at the sandbox
    second = _mp(tmp_path)
    assert second.describe_all() == [info]
    assert second.state.apps[APPID].credentials == first.state.apps[APPID].credentials


def test_huishouqian_merchant_survives_a_restart(tmp_path: Path) -> None:
    first = _hs(tmp_path)
    info = first.register("888000000001", notify_url="http://127.0.0.1:9/hs", complaints=2)
    assert Path(info["private_key_p12_file"]).stat().st_mode & 0o077 == 0
    second = _hs(tmp_path)
    assert second.describe_all() == [info]
    old = first.state.merchants.require("888000000001").credentials
    new = second.state.merchants.require("888000000001").credentials
    assert (new.certificate_pem, new.sign_key) == (old.certificate_pem, old.sign_key)
    assert second.state.platform == first.state.platform


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("wx12", "appid must be wx followed by 16"),
        (f"{APPID}:format=yaml", "message_format must be xml or json"),
        (f"{APPID}:mode=secret", "message_mode must be safe, compatible or plaintext"),
        (f"{APPID}:push_url=x", "push_url must be an http"),
        (f"{APPID}:colour=red", "option 'colour' unknown"),
    ],
)
def test_bad_app_specs(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        mp_standalone.parse_app_spec(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [("88800x", "merchant_no must be 6 to 20 digits"), ("888000000001:complaints=-1", "complaints must be")],
)
def test_bad_huishouqian_specs(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        hs_standalone.parse_merchant_spec(spec)


@pytest.mark.anyio
async def test_mini_program_control_endpoint(tmp_path: Path) -> None:
    sandbox = _mp(tmp_path)
    app = mp.create_app(sandbox.state)
    mp_standalone.add_control_routes(app, sandbox)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        bad = await client.post("/sandbox/apps", json={"appid": APPID, "message_format": "csv"})
        assert bad.status_code == 400 and "message_format" in bad.json()["errmsg"]
        assert sandbox.state.apps == {} and not (tmp_path / "apps").exists()
        good = await client.post("/sandbox/apps", json={"appid": APPID, "complaints": 2})
        assert good.status_code == 201 and good.json()["appid"] == APPID
        assert "token_file" in good.json() and sandbox.state.apps[APPID].credentials.token not in good.text
        listed = (await client.get("/sandbox/apps")).json()["data"]
        assert [a["appid"] for a in listed] == [APPID]


@pytest.mark.anyio
async def test_huishouqian_control_endpoint(tmp_path: Path) -> None:
    sandbox = _hs(tmp_path)
    app = hsq.create_app(sandbox.state)
    hs_standalone.add_control_routes(app, sandbox)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        bad = await client.post("/sandbox/merchants", json={"merchant_no": "888000000001", "agent": "x"})
        assert bad.status_code == 400 and bad.json()["message"] == "unknown field(s): agent"
        assert sandbox.state.merchants.ids() == []
        good = await client.post("/sandbox/merchants", json={"merchant_no": "888000000001", "complaints": 1})
        assert good.status_code == 201 and good.json()["merchant_no"] == "888000000001"
        listed = (await client.get("/sandbox/merchants")).json()["data"]
        assert [m["merchant_no"] for m in listed] == ["888000000001"]


def test_cli_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main_cli, ["sandbox", "miniprogram", "--state-dir", str(tmp_path), "--app", "wx1"])
    assert result.exit_code == 2 and "appid must be wx followed by 16" in result.output
    result = runner.invoke(
        main_cli, ["sandbox", "huishouqian", "--state-dir", str(tmp_path), "--merchant", "1"]
    )
    assert result.exit_code == 2 and "merchant_no must be 6 to 20 digits" in result.output
    assert list(tmp_path.iterdir()) == []
