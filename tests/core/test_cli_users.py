from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from consolekit import T0, cheap_hashing, sessions_for
from sqlalchemy import select
from typer.testing import CliRunner

from complaintdesk.cli.main import app
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.users import login
from complaintdesk.core.users.models import User
from complaintdesk.db import unit_of_work


@pytest.fixture(autouse=True)
def _fast_hashes() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def cli_db(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    key_file = tmp_path / "data_key"
    key_file.write_text("d" * 48, encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(f'database_url = "{db_url}"\ndata_key_file = "{key_file}"\n', encoding="utf-8")
    monkeypatch.setenv("COMPLAINTDESK_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "200")
    with unit_of_work(sessions_for(db_url)) as s:
        account_service.create(session=s, name="shop-a", channel="wechatpay", mchid="1900000001")
        account_service.create(session=s, name="shop-b", channel="wechatpay", mchid="1900000002")
    return db_url


def run(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_users_commands(cli_db: str, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("a long enough password\n", encoding="utf-8")
    out = run(
        "users", "add", "Alice", "--role", "agent", "--account", "shop-a", "--password-file", str(secret)
    )
    assert "alice" in out and "a long enough password" not in out
    prompted = run(
        "users",
        "add",
        "root",
        "--role",
        "admin",
        "--all-accounts",
        stdin="another long one\nanother long one\n",
    )
    assert "another long one" not in prompted  # typed passwords are never echoed
    listing = run("users", "list")
    assert "alice" in listing and "shop-a" in listing and "all accounts" in listing
    one_time = run("users", "reset-password", "alice").strip()
    assert len(one_time) >= 10
    run("users", "set-role", "alice", "viewer")
    run("users", "set-scope", "alice", "--account", "shop-b")
    sessions = sessions_for(cli_db)
    with unit_of_work(sessions) as s:
        alice = login.authenticate(session=s, username="alice", password=one_time, ip="", now=T0)
        assert alice.role == "viewer" and alice.must_change_password
        shop_b = account_service.get_by_name_or_raise(session=s, name="shop-b")
        assert alice.account_ids == [shop_b.id]
        by_user = select(AuditEvent.action, AuditEvent.actor).where(AuditEvent.target_type == "user")
        actions = [tuple(row) for row in s.execute(by_user.order_by(AuditEvent.id))]
        assert actions[:5] == [  # the operator at the command line is named "cli"
            ("user_created", "cli"),
            ("user_created", "cli"),
            ("password_reset", "cli"),
            ("role_changed", "cli"),
            ("scope_changed", "cli"),
        ]
        details = " ".join(str(d) for d in s.scalars(select(AuditEvent.details)))
        assert one_time not in details and "a long enough password" not in details
        assert s.scalar(select(User.password_hash).where(User.username == "root")) != "another long one"


def test_users_add_refuses_a_short_password(cli_db: str, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("short", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["users", "add", "bob", "--account", "shop-a", "--password-file", str(secret)]
    )
    assert result.exit_code == 1
    assert "at least 10" in result.output
