"""``complaintdesk doctor`` for the Mini Program and Huishouqian, against the simulators on loopback.

Our own app runs on loopback too: its address is ``public_base_url``, so the callback check fetches
the real webhook from outside. Each failure is reported precisely: a wrong key, a wrong token, a skewed
clock, an unreachable callback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.doctor_env import Loopback, add_account, desk, secret_file
from tests.e2e.harness_channels import MERCHANT_NO, hsq_keys
from tests.e2e.test_crash import free_port
from typer.testing import CliRunner

from complaintdesk.cli.doctor import account_checks
from complaintdesk.cli.doctor_channels import MP_ADMIN_PLACE
from complaintdesk.cli.doctor_checks import Check
from complaintdesk.cli.main import app
from complaintdesk.clock import ManualClock
from complaintdesk.core.accounts import service as account_service
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox import huishouqian as hsq
from complaintdesk.sandbox import miniprogram as mp
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


@dataclass
class Env:
    settings: Settings
    tmp: Path
    mp_url: str
    mp_creds: Any
    hs_url: str

    def ctx(self, **update: Any) -> AppContext:
        return AppContext(self.settings.model_copy(update=update))


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> Iterator[Env]:
    public, our_server = desk(settings)
    creds = mp.generate_app()
    mp_state = mp.MiniProgramState(seed=5)
    mp_state.register(creds, push_url=f"{public.public_base_url}/webhooks/miniprogram/mp")
    platform, merchant = hsq_keys()
    hs_state = hsq.HuishouqianState(platform, seed=5)
    hs_state.register_merchant(merchant, notify_url=f"{public.public_base_url}/webhooks/huishouqian/hsq")
    mp_server, hs_server = Loopback(mp.create_app(mp_state)), Loopback(hsq.create_app(hs_state))
    yield Env(public, tmp_path, mp_server.url, creds, hs_server.url)
    for server in (our_server, mp_server, hs_server):
        server.stop()


def _add_mp(env: Env, **override: str) -> AppContext:
    ctx = env.ctx()
    values = {
        "app_secret": env.mp_creds.secret,
        "token": env.mp_creds.token,
        "encoding_aes_key": env.mp_creds.encoding_aes_key,
    } | override
    refs = {name: secret_file(env.tmp / "mp", name, value) for name, value in values.items()}
    add_account(
        ctx, name="mp", channel="miniprogram", mchid=env.mp_creds.appid, api_base_url=env.mp_url,
        secret_refs=refs, options={"message_format": "xml", "message_mode": "safe"},
    )  # fmt: skip
    return ctx


def _add_hsq(env: Env, *, merchant: Any = None, sign_key: str | None = None) -> AppContext:
    ctx = env.ctx()
    platform, registered = hsq_keys()
    files = hsq.write_merchant_files(env.tmp / "hsq", registered, platform)
    if merchant is not None:  # another PKCS#12 file (and its password), everything else right
        other = hsq.write_merchant_files(env.tmp / "other", merchant, platform)
        files |= {name: other[name] for name in ("private_key_p12", "private_key_password")}
    if sign_key is not None:
        Path(files["sign_key"]).write_text(sign_key, encoding="ascii")
    add_account(
        ctx, name="hsq", channel="huishouqian", mchid=MERCHANT_NO, api_base_url=env.hs_url,
        secret_refs={name: f"file:{path}" for name, path in files.items()},
    )  # fmt: skip
    return ctx


async def _run(ctx: AppContext, name: str) -> list[Check]:
    with ctx.session() as session:
        account = account_service.get_by_name(session=session, name=name)
        assert account is not None
        session.expunge(account)
    try:
        return await account_checks(ctx, account)
    finally:
        await ctx.aclose()


def _failed(checks: list[Check]) -> list[str]:
    return [f"{c.what} — {c.hint}" for c in checks if not c.ok]


# -- Mini Program -----------------------------------------------------------------------------------------


async def test_mini_program_all_good_and_the_url_check_end_to_end(env: Env) -> None:
    checks = await _run(_add_mp(env), "mp")
    assert _failed(checks) == []
    text = "\n".join(c.what for c in checks)
    assert "access token fetched" in text and "appid and AppSecret accepted" in text
    assert (
        f"callback URL {env.settings.public_base_url}/webhooks/miniprogram/mp answers WeChat's URL check"
        in text
    )
    assert "开发 → 开发管理 → 开发设置 → 消息推送" in text
    assert "clock skew against" in text


async def test_mini_program_wrong_encoding_aes_key(env: Env) -> None:
    failed = _failed(await _run(_add_mp(env, encoding_aes_key="too-short"), "mp"))
    assert len(failed) == 1 and "credentials readable" in failed[0] and "EncodingAESKey" in failed[0]


async def test_mini_program_wrong_app_secret(env: Env) -> None:
    failed = _failed(await _run(_add_mp(env, app_secret="0" * 32), "mp"))
    assert len(failed) == 1 and failed[0].startswith("access token fetched") and "AppSecret" in failed[0]


async def test_mini_program_skewed_clock(env: Env) -> None:
    ctx = _add_mp(env)
    ctx.clock = ManualClock(datetime.now(UTC) + timedelta(seconds=400))
    failed = _failed(await _run(ctx, "mp"))
    assert len(failed) == 1, failed
    assert "s ahead of" in failed[0] and "miniprogram.timestamp_tolerance_seconds" in failed[0]


async def test_mini_program_unreachable_callback(env: Env) -> None:
    ctx = _add_mp(env)
    ctx.settings = ctx.settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{free_port()}"})
    failed = _failed(await _run(ctx, "mp"))
    assert len(failed) == 1 and "/webhooks/miniprogram/mp reachable — unreachable (ConnectError)" in failed[0]


# -- Huishouqian ------------------------------------------------------------------------------------------


async def test_huishouqian_all_good(env: Env) -> None:
    checks = await _run(_add_hsq(env), "hsq")
    assert _failed(checks) == []
    text = "\n".join(c.what for c in checks)
    assert "platform certificate valid until" in text
    assert "private key matches the certificate in private_key_p12" in text
    assert "merchant certificate (in private_key_p12) valid until" in text
    assert "signed request accepted and its signed answer verified" in text
    assert f"notification URL {env.settings.public_base_url}/webhooks/huishouqian/hsq reachable" in text


async def test_huishouqian_wrong_private_key(env: Env) -> None:
    other = hsq.generate_merchant(MERCHANT_NO)  # not the key Huishouqian holds for this merchant
    failed = _failed(await _run(_add_hsq(env, merchant=other), "hsq"))
    assert len(failed) == 1 and failed[0].startswith("signed request accepted — "), failed
    assert "验签失败" in failed[0] and "private_key_p12 is not the key Huishouqian holds" in failed[0]


async def test_huishouqian_wrong_sign_key(env: Env) -> None:
    failed = _failed(await _run(_add_hsq(env, sign_key="0123456789abcdef0123456789abcdef"), "hsq"))
    assert len(failed) == 1 and failed[0].startswith("signed request accepted — "), failed
    assert "check sign_key" in failed[0]


async def test_huishouqian_skewed_clock(env: Env) -> None:
    ctx = _add_hsq(env)
    ctx.clock = ManualClock(datetime.now(UTC) - timedelta(seconds=120))
    failed = _failed(await _run(ctx, "hsq"))
    assert any("s behind" in f and "fix NTP" in f for f in failed), failed


async def test_huishouqian_unreachable_callback(env: Env) -> None:
    ctx = _add_hsq(env)
    ctx.settings = ctx.settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{free_port()}"})
    failed = _failed(await _run(ctx, "hsq"))
    assert (
        len(failed) == 1 and "/webhooks/huishouqian/hsq reachable — unreachable (ConnectError)" in failed[0]
    )


# -- callback-url -----------------------------------------------------------------------------------------


def _cli(env: Env, monkeypatch: pytest.MonkeyPatch, public_base_url: str | None = None) -> CliRunner:
    config = env.tmp / "complaintdesk.toml"
    key = env.settings.data_key.get_secret_value() if env.settings.data_key else ""
    config.write_text(
        f'database_url = "{env.settings.database_url}"\ndata_key = "{key}"\n'
        f'data_dir = "{env.tmp}"\npublic_base_url = "{public_base_url or env.settings.public_base_url}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("COMPLAINTDESK_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "240")
    return CliRunner()


def test_callback_url_get_for_a_mini_program_says_where_and_checks_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_mp(env).engine.dispose()
    runner = _cli(env, monkeypatch)
    result = runner.invoke(app, ["callback-url", "get", "--account", "mp"])
    assert result.exit_code == 0, result.output
    url = f"{env.settings.public_base_url}/webhooks/miniprogram/mp"
    assert f"push URL to set in the {MP_ADMIN_PLACE}:\n  {url}" in result.output
    assert f"ok   callback URL {url} answers WeChat's URL check" in result.output
    for command in ("set", "delete"):  # no API: refused, nothing sent anywhere
        refused = runner.invoke(app, ["callback-url", command, "--account", "mp"])
        assert refused.exit_code == 1 and "the Mini Program has no API for its push URL" in refused.output


def test_callback_url_get_for_huishouqian_states_the_notification_url(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_hsq(env).engine.dispose()
    result = _cli(env, monkeypatch).invoke(app, ["callback-url", "get", "--account", "hsq"])
    assert result.exit_code == 0, result.output
    url = f"{env.settings.public_base_url}/webhooks/huishouqian/hsq"
    assert f"notification URL to give Huishouqian (HTTP POST, form fields):\n  {url}" in result.output
    assert "ok   notification URL" in result.output and "this server's Huishouqian endpoint" in result.output


def test_callback_url_get_reports_an_unreachable_public_url(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_mp(env).engine.dispose()
    closed = f"http://127.0.0.1:{free_port()}"
    result = _cli(env, monkeypatch, closed).invoke(app, ["callback-url", "get", "--account", "mp"])
    assert result.exit_code == 1
    assert f"FAIL callback URL {closed}/webhooks/miniprogram/mp reachable — unreachable (ConnectError)" in (
        result.output
    )


def test_callback_url_refuses_an_unknown_account(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli(env, monkeypatch).invoke(app, ["callback-url", "get", "--account", "nobody"])
    assert result.exit_code == 1 and "no credentialed merchant account named 'nobody'" in result.output
