"""Issue #15 item 1: merchant accounts in the console, per channel, with "test connection" on loopback.

The three simulators run as real HTTP servers on 127.0.0.1 with keys generated here; the console is the
in-process app of the ``wx`` harness. Key files are uploaded (multipart) or given as ``file:`` references.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.e2e.harness import Harness
from tests.e2e.harness_channels import MERCHANT_NO, hsq_keys
from tests.web.conftest import Console, add_user
from tests.web.live import Server

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.sandbox import huishouqian as hsq
from complaintdesk.sandbox import miniprogram as mp
from complaintdesk.sandbox.wechatpay import SimulatorState, generate_merchant, generate_platform
from complaintdesk.sandbox.wechatpay import create_app as create_wechatpay

pytestmark = pytest.mark.anyio
MCHID = "1900000777"


@dataclass
class Upstreams:
    """Three simulators on loopback and the credentials registered with them."""

    wx_url: str
    wx_merchant: Any
    wx_platform: Any
    mp_url: str
    mp_creds: Any
    hs_url: str
    hs_files: dict[str, Path]


@pytest.fixture
def upstreams(tmp_path: Path) -> Iterator[Upstreams]:
    platform, merchant = generate_platform(), generate_merchant(MCHID)
    wx_state = SimulatorState(platform=platform, seed=3)
    wx_state.register_merchant(merchant, notify_url="http://127.0.0.1:9/unused")
    creds = mp.generate_app()
    mp_state = mp.MiniProgramState(seed=3)
    mp_state.register(creds, push_url="http://127.0.0.1:9/unused", message_format="json")
    hs_platform, hs_merchant = hsq_keys()
    hs_state = hsq.HuishouqianState(hs_platform, seed=3)
    hs_state.register_merchant(hs_merchant, notify_url="http://127.0.0.1:9/unused")
    servers = [
        Server(create_wechatpay(wx_state)).start(),
        Server(mp.create_app(mp_state)).start(),
        Server(hsq.create_app(hs_state)).start(),
    ]
    files = hsq.write_merchant_files(tmp_path / "hsq-files", hs_merchant, hs_platform)
    try:
        yield Upstreams(servers[0].url, merchant, platform, servers[1].url, creds, servers[2].url, files)
    finally:
        for server in servers:
            server.stop()


def _actions(wx: Harness, name: str) -> list[str]:
    with wx.ctx.session() as s:
        account_id = s.scalar(select(MerchantAccount.id).where(MerchantAccount.name == name))
        rows = s.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_type == "merchant_account", AuditEvent.target_id == str(account_id))
            .order_by(AuditEvent.id)
        )
        return list(rows)


def _account(wx: Harness, name: str) -> MerchantAccount | None:
    with wx.ctx.session() as s:
        found = s.scalar(select(MerchantAccount).where(MerchantAccount.name == name))
        if found is not None:
            s.expunge(found)
        return found


def _audit_count(wx: Harness) -> int:
    with wx.ctx.session() as s:
        return len(list(s.scalars(select(AuditEvent.id))))


def _secret_files(wx: Harness) -> list[Path]:
    folder = wx.settings.data_dir / "secrets"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def _probe(console: Console, account_id: int) -> tuple[str, str]:
    await console.get(f"/admin/accounts/{account_id}")
    page = await console.post(f"/admin/accounts/{account_id}/test")
    assert page.status_code == 200
    found = re.search(r'data-testid="probe" data-ok="(yes|no)">([^<]+)<', page.text)
    assert found, page.text[:2000]
    return found.group(1), found.group(2).strip()


async def test_wechatpay_account_added_with_uploaded_keys_and_connection_tested(
    wx: Harness, console: Console, upstreams: Upstreams
) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    listing = await console.get("/admin/accounts")
    assert 'data-testid="add-wechatpay"' in listing.text
    form = await console.get("/admin/accounts/new/wechatpay")
    assert "账户中心" in form.text and "apiclient_key.pem" in form.text  # where to find it, its file name
    merchant = upstreams.wx_merchant
    answer = await console.post(
        "/admin/accounts/new/wechatpay",
        {
            "name": "shop-ui", "mchid": MCHID, "merchant_serial": merchant.serial_no,
            "apiv3_key__value": merchant.apiv3_key, "public_key_id": upstreams.wx_platform.public_key_id,
            "api_base_url": upstreams.wx_url,
        },
        files={
            "private_key__file": ("apiclient_key.pem", merchant.private_key_pem, "application/octet-stream"),
            "public_key__file": ("pub_key.pem", upstreams.wx_platform.public_key_pem, "text/plain"),
        },
    )  # fmt: skip
    assert answer.status_code == 303, answer.text[:3000]
    account = _account(wx, "shop-ui")
    assert account is not None and account.private_key_ref.startswith("file:")
    key_path = Path(account.private_key_ref.removeprefix("file:"))
    assert key_path.read_bytes() == merchant.private_key_pem
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.parent.stat().st_mode) == 0o700
    assert merchant.apiv3_key not in repr(account.__dict__)  # only references in the database
    assert _actions(wx, "shop-ui") == ["account_added"]
    ok, text = await _probe(console, account.id)
    assert ok == "yes" and text.startswith("连接成功"), text


async def test_mini_program_webhook_only_then_app_secret_added(
    wx: Harness, console: Console, upstreams: Upstreams
) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    creds = upstreams.mp_creds
    await console.get("/admin/accounts/new/miniprogram")
    answer = await console.post(
        "/admin/accounts/new/miniprogram",
        {
            "name": "mp-ui", "mchid": creds.appid, "token__value": creds.token,
            "encoding_aes_key__value": creds.encoding_aes_key, "message_mode": "safe",
            "message_format": "json", "api_base_url": upstreams.mp_url,
        },
    )  # fmt: skip
    assert answer.status_code == 303, answer.text[:3000]
    account = _account(wx, "mp-ui")
    assert account is not None and "app_secret" not in account.secret_refs
    assert account.options == {"message_mode": "safe", "message_format": "json"}
    page = await console.get(f"/admin/accounts/{account.id}")
    assert "同步、回复等操作不可用" in page.text  # the feature that is off without the AppSecret
    runtime = wx.ctx.runtime_for("mp-ui")  # webhooks work without the AppSecret
    assert runtime.webhook is not None
    ok, text = await _probe(console, account.id)
    assert ok == "no" and "未设置小程序密钥" in text
    same = {"api_base_url": upstreams.mp_url, "message_mode": "safe", "message_format": "json"}
    await console.get(f"/admin/accounts/{account.id}")
    wrong = await console.post(f"/admin/accounts/{account.id}", {**same, "app_secret__value": "0" * 32})
    assert wrong.status_code == 303
    ok, text = await _probe(console, account.id)
    assert ok == "no" and "拒绝" in text
    await console.get(f"/admin/accounts/{account.id}")
    fixed = await console.post(f"/admin/accounts/{account.id}", {**same, "app_secret__value": creds.secret})
    assert fixed.status_code == 303
    ok, text = await _probe(console, account.id)
    assert ok == "yes" and "接口调用凭据" in text
    assert _actions(wx, "mp-ui") == ["account_added", "account_changed", "account_changed"]


async def test_huishouqian_account_by_file_references_disabled_and_enabled(
    wx: Harness, console: Console, upstreams: Upstreams
) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    await console.get("/admin/accounts/new/huishouqian")
    refs = {f"{name}__ref": f"file:{path.resolve()}" for name, path in upstreams.hs_files.items()}
    answer = await console.post(
        "/admin/accounts/new/huishouqian",
        {
            "name": "hsq-ui",
            "mchid": MERCHANT_NO,
            "sign_type": "RSA2",
            "api_base_url": upstreams.hs_url,
            **refs,
        },
    )
    assert answer.status_code == 303, answer.text[:3000]
    account = _account(wx, "hsq-ui")
    assert account is not None
    assert account.secret_refs["private_key_p12"] == refs["private_key_p12__ref"]
    assert _secret_files(wx) == []  # references are kept as given, nothing copied
    ok, text = await _probe(console, account.id)
    assert ok == "yes" and "签名查询" in text
    for public, expected in ((upstreams.wx_url, "不是本账户"), ("http://127.0.0.1:9", "无法访问公网地址")):
        wx.settings.public_base_url = public  # a host that is not this desk, then nothing listening
        await console.get(f"/admin/accounts/{account.id}")
        page = await console.post(f"/admin/accounts/{account.id}/test-webhook")
        found = re.search(r'data-testid="hook" data-ok="(yes|no)">([^<]+)<', page.text)
        assert found and found.group(1) == "no" and expected in found.group(2), page.text[:2000]
    await console.get(f"/admin/accounts/{account.id}")
    assert (await console.post(f"/admin/accounts/{account.id}/enabled", {"op": "disable"})).status_code == 303
    assert (await console.post(f"/admin/accounts/{account.id}/enabled", {"op": "enable"})).status_code == 303
    assert _actions(wx, "hsq-ui") == ["account_added", "account_disabled", "account_enabled"]


@pytest.mark.parametrize(
    ("channel", "fields", "files", "message"),
    [
        ("wechatpay", {"mchid": MCHID, "apiv3_key__value": "k" * 32}, {}, "必须填写商户 API 私钥"),
        (
            "wechatpay",
            {"mchid": MCHID, "apiv3_key__value": "k" * 32},
            {"private_key__file": ("apiclient_key.pem", b"not a key", "text/plain")},
            "不是未加密的私钥文件",
        ),
        ("wechatpay", {"mchid": "12ab"}, {}, "商户号为 8 到 12 位数字"),
        ("miniprogram", {"mchid": "wx123", "token__value": "tok123"}, {}, "小程序 ID 以"),
        (
            "miniprogram",
            {"mchid": "wx0123456789abcdef", "encoding_aes_key__value": "a" * 43},
            {},
            "必须填写消息推送令牌",
        ),
        (
            "miniprogram",
            {"mchid": "wx0123456789abcdef", "token__value": "tok123"},
            {},
            "必须填写消息加解密密钥",
        ),
        ("miniprogram", {"mchid": "wx0123456789abcdef", "token__value": "t!"}, {}, "令牌为 3 到 32 位"),
        (
            "huishouqian",
            {"mchid": MERCHANT_NO, "sign_key__value": "abc"},
            {"platform_certificate__file": ("x.cer", b"garbage", "application/octet-stream")},
            "不是有效的证书文件",
        ),
        ("huishouqian", {"mchid": MERCHANT_NO, "sign_key__ref": "env:NO_SUCH_VARIABLE_X"}, {}, "无法读取"),
        ("huishouqian", {"mchid": MERCHANT_NO, "sign_key__ref": "relative/path"}, {}, "绝对路径"),
    ],
)
async def test_bad_input_is_refused_precisely_and_changes_nothing(
    wx: Harness,
    console: Console,
    channel: str,
    fields: dict[str, str],
    files: dict[str, Any],
    message: str,
) -> None:
    add_user(wx, "boss", "admin")
    await console.login("boss")
    await console.get(f"/admin/accounts/new/{channel}")
    audited = _audit_count(wx)
    answer = await console.post(
        f"/admin/accounts/new/{channel}", {"name": "bad", **fields}, **({"files": files} if files else {})
    )
    assert answer.status_code == 422
    errors = re.findall(r'data-testid="error">([^<]+)<', answer.text)
    assert any(message in e for e in errors), errors
    assert _account(wx, "bad") is None
    assert _secret_files(wx) == []  # nothing written before the form was accepted
    assert _audit_count(wx) == audited


async def test_agents_cannot_manage_accounts(wx: Harness, console: Console) -> None:
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    for path in ("/admin/accounts", "/admin/accounts/new/wechatpay"):
        assert (await console.get(path)).status_code == 403, path
