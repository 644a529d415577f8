"""The standalone WeChat Pay sandbox: key folder, merchant specs, control endpoint, CLI input errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from complaintdesk.cli.main import app as main_cli
from complaintdesk.sandbox.wechatpay import SimulatorState, create_app
from complaintdesk.sandbox.wechatpay.standalone import (
    MerchantSpecError,
    Sandbox,
    add_control_routes,
    load_or_create_platform,
    parse_merchant_spec,
)

BASE = "http://127.0.0.1:8101"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _sandbox(root: Path) -> Sandbox:
    state = SimulatorState(platform=load_or_create_platform(root / "platform"))
    sandbox = Sandbox(state, root, BASE, seed=3)
    sandbox.load_saved()
    return sandbox


def test_keys_and_merchants_survive_a_restart(tmp_path: Path) -> None:
    first = _sandbox(tmp_path)
    info = first.register("1900000001", notify_url="http://127.0.0.1:9/hook")
    assert (tmp_path / "platform" / "cert_key.pem").stat().st_mode & 0o077 == 0
    second = _sandbox(tmp_path)
    assert second.state.platform.serial_no == first.state.platform.serial_no
    assert second.state.platform.public_key_id == first.state.platform.public_key_id
    [again] = second.describe_all()
    assert again == info  # same serials, files and notify URL


def test_partial_platform_folder_is_refused(tmp_path: Path) -> None:
    load_or_create_platform(tmp_path)
    (tmp_path / "pub_key.pem").unlink()
    with pytest.raises(MerchantSpecError, match=r"missing: pub_key\.pem"):
        load_or_create_platform(tmp_path)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("19000x", "mchid must be 6 to 20 digits"),
        ("1900000001:colour=red", "option 'colour' unknown"),
        ("1900000001:complaints=many", "complaints must be a whole number"),
        ("1900000001:complaints=501", "complaints must be a whole number"),
        ("1900000001:notify_url=ftp://x", "notify_url must be an http"),
    ],
)
def test_bad_merchant_specs(spec: str, message: str) -> None:
    with pytest.raises(MerchantSpecError, match=message):
        parse_merchant_spec(spec)


def test_good_merchant_spec() -> None:
    assert parse_merchant_spec("1900000001:notify_url=https://desk.example/w,complaints=4") == (
        "1900000001",
        {"notify_url": "https://desk.example/w", "complaints": 4},
    )


async def _control(root: Path) -> tuple[httpx.AsyncClient, Sandbox]:
    sandbox = _sandbox(root)
    app = create_app(sandbox.state)
    add_control_routes(app, sandbox)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE), sandbox


@pytest.mark.anyio
async def test_control_endpoint_registers_and_lists(tmp_path: Path) -> None:
    client, sandbox = await _control(tmp_path)
    async with client:
        response = await client.post("/sandbox/merchants", json={"mchid": "1900000009", "complaints": 3})
        assert response.status_code == 201
        info: dict[str, Any] = response.json()
        assert info["base_url"] == BASE and Path(info["private_key_file"]).is_file()
        assert "PRIVATE KEY" not in response.text  # paths, never key contents
        assert len(sandbox.state.complaint_ids()) == 3
        listed = (await client.get("/sandbox/merchants")).json()["data"]
        assert [m["mchid"] for m in listed] == ["1900000009"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "Expecting value"),
        (b"[1]", "the body must be a JSON object"),
        (b'{"mchid": 1900000001}', "mchid must be 6 to 20 digits"),
        (b'{"mchid": "1900000001", "complaints": true}', "complaints must be a whole number"),
        (b'{"mchid": "1900000001", "notify": "x"}', "unknown field(s): notify"),
    ],
)
async def test_control_endpoint_refuses_bad_input(tmp_path: Path, body: bytes, message: str) -> None:
    client, sandbox = await _control(tmp_path)
    async with client:
        response = await client.post("/sandbox/merchants", content=body)
    assert response.status_code == 400 and response.json()["code"] == "PARAM_ERROR"
    assert message in response.json()["message"]
    assert sandbox.state.merchants.ids() == [] and not (tmp_path / "merchants").exists()


def test_cli_refuses_bad_input_before_serving(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main_cli, ["sandbox", "wechatpay", "--state-dir", str(tmp_path), "--merchant", "abc"]
    )
    assert result.exit_code == 2 and "mchid must be 6 to 20 digits" in result.output
    result = runner.invoke(
        main_cli, ["sandbox", "wechatpay", "--state-dir", str(tmp_path), "--sign-mode", "rsa"]
    )
    assert result.exit_code == 2 and "--sign-mode must be one of" in result.output
    assert not (tmp_path / "merchants").exists()


@pytest.mark.anyio
async def test_certificate_controls_refuse_bad_input(tmp_path: Path) -> None:
    client, sandbox = await _control(tmp_path)
    first = sandbox.state.certificates.current.serial_no
    async with client:
        for body, message in (
            (b"{}", "the body must name the certificate"),
            (b'{"serial_no": "ABC"}', "no active platform certificate with serial ABC"),
            (f'{{"serial_no": "{first}"}}'.encode(), "the only platform certificate cannot be retired"),
        ):
            response = await client.post("/sandbox/certificates/retire", content=body)
            assert response.status_code == 400 and message in response.json()["message"]
        assert [c.serial_no for c in sandbox.state.certificates.active()] == [first]
