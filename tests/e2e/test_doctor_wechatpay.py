"""``complaintdesk doctor`` for WeChat Pay against its simulator on loopback, our app as the public URL:
a wrong key, a wrong APIv3 key, a skewed clock and an unreachable callback, each reported precisely."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.e2e.doctor_env import Loopback, add_account, desk, secret_file
from tests.e2e.harness import keys
from tests.e2e.test_crash import free_port

from complaintdesk.cli.doctor import account_checks
from complaintdesk.cli.doctor_checks import Check
from complaintdesk.clock import ManualClock
from complaintdesk.core.accounts import service as account_service
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox.wechatpay import SimulatorState, create_app, write_merchant_files
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    public, our_server = desk(settings)
    platform, shop, _ = keys()
    state = SimulatorState(platform=platform, seed=6)
    state.register_merchant(shop)
    simulator = Loopback(create_app(state))
    yield public, simulator.url
    for server in (our_server, simulator):
        server.stop()


def _ctx(
    env: tuple[Settings, str], tmp: Path, *, private_key: bytes | None = None, apiv3: str = ""
) -> AppContext:
    settings, url = env
    platform, shop, _ = keys()
    files = write_merchant_files(tmp / "shop", shop, platform)
    ctx = AppContext(settings)
    key_ref = secret_file(tmp, "key.pem", private_key) if private_key else f"file:{files['private_key']}"
    add_account(
        ctx, name="shop", channel="wechatpay", mchid=shop.mchid, merchant_serial=shop.serial_no,
        private_key_ref=key_ref,
        merchant_cert_ref=f"file:{files['certificate']}",
        apiv3_key_ref=secret_file(tmp, "v3", apiv3) if apiv3 else f"file:{files['apiv3_key']}",
        api_base_url=url,
    )  # fmt: skip
    return ctx


async def _failed(ctx: AppContext) -> list[str]:
    with ctx.session() as session:
        account = account_service.get_by_name(session=session, name="shop")
        assert account is not None
        session.expunge(account)
    try:
        checks: list[Check] = await account_checks(ctx, account)
    finally:
        await ctx.aclose()
    return [f"{c.what} — {c.hint}" for c in checks if not c.ok]


async def test_all_good(env: tuple[Settings, str], tmp_path: Path) -> None:
    assert await _failed(_ctx(env, tmp_path)) == []


async def test_a_private_key_that_is_not_the_certificates(env: tuple[Settings, str], tmp_path: Path) -> None:
    _, _, other = keys()
    failed = await _failed(_ctx(env, tmp_path, private_key=other.private_key_pem))
    assert "private key matches the merchant certificate — wrong key file" in failed
    assert any(f.startswith("signed request accepted — ") for f in failed)


async def test_a_wrong_apiv3_key(env: tuple[Settings, str], tmp_path: Path) -> None:
    failed = await _failed(_ctx(env, tmp_path, apiv3="0123456789abcdef0123456789abcdef"))
    assert len(failed) == 1 and failed[0].startswith("signed request accepted — "), failed
    assert "the APIv3 key is probably wrong" in failed[0]


async def test_a_skewed_clock(env: tuple[Settings, str], tmp_path: Path) -> None:
    ctx = _ctx(env, tmp_path)
    ctx.clock = ManualClock(datetime.now(UTC) + timedelta(seconds=90))
    failed = await _failed(ctx)
    assert any("s ahead of" in f and "signatures expire after 300 s" in f for f in failed), failed


async def test_an_unreachable_callback(env: tuple[Settings, str], tmp_path: Path) -> None:
    ctx = _ctx(env, tmp_path)
    ctx.settings = ctx.settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{free_port()}"})
    failed = await _failed(ctx)
    assert len(failed) == 1 and "/webhooks/wechatpay/shop reachable — unreachable (ConnectError)" in failed[0]
