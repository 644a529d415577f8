"""Changes made at the command line are audited as the operator ``cli`` (tokens, accounts, users)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from consolekit import cheap_hashing, sessions_for
from sqlalchemy import select
from typer.testing import CliRunner

from complaintdesk.cli.main import app
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.audit.models import AuditEvent
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
    return db_url


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_changes_are_audited_as_the_cli_operator(cli_db: str, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("a long enough password\n", encoding="utf-8")
    run("merchants", "add", "shop-b", "--mchid", "1900000002")
    assert "display_name changed" in run("merchants", "set", "shop-b", "--display-name", "B 店")
    assert "nothing changed" in run("merchants", "set", "shop-b", "--display-name", "B 店")  # not audited
    run("merchants", "disable", "shop-b")
    run("merchants", "disable", "shop-b")  # already disabled: nothing to record
    run("merchants", "enable", "shop-b")
    run("tokens", "create", "erp", "--account", "shop-a")
    run("tokens", "revoke", "erp")
    run("users", "add", "carol", "--role", "agent", "--all-accounts", "--password-file", str(secret))
    run("users", "set-role", "carol", "viewer")
    run("users", "set-scope", "carol", "--account", "shop-b")
    run("users", "reset-password", "carol")
    with unit_of_work(sessions_for(cli_db)) as s:
        rows = [
            (e.action, e.actor, e.target_id) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]
        added = s.scalar(
            select(AuditEvent).where(AuditEvent.action == "account_added", AuditEvent.actor == "cli")
        )
        assert added is not None and added.details["name"] == "shop-b"
        changed = s.scalar(select(AuditEvent.details).where(AuditEvent.action == "account_changed"))
        assert changed == {"name": "shop-b", "changed": ["display_name"]}
        assert account_service.get_by_name_or_raise(session=s, name="shop-b").enabled
    assert ("account_added", "system", str(rows[0][2])) == rows[0]  # made by the fixture, not by an operator
    by_cli = [(action, target) for action, actor, target in rows if actor == "cli"]
    assert by_cli == [
        ("account_added", str(added.target_id)),
        ("account_changed", str(added.target_id)),
        ("account_disabled", str(added.target_id)),
        ("account_enabled", str(added.target_id)),
        ("token_created", "erp"),
        ("token_revoked", "erp"),
        ("user_created", "carol"),
        ("role_changed", "carol"),
        ("scope_changed", "carol"),
        ("password_reset", "carol"),
    ]
