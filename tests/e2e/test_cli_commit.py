"""CLI commands that write report success only after their commit: a failed commit prints no success."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from complaintdesk.cli.main import app
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.users.models import User
from complaintdesk.db import make_engine


@pytest.fixture
def cli_env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    key_file = tmp_path / "data_key"
    key_file.write_text("d" * 48, encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(f'database_url = "{db_url}"\ndata_key_file = "{key_file}"\n', encoding="utf-8")
    monkeypatch.setenv("COMPLAINTDESK_CONFIG", str(config))
    return tmp_path


@pytest.fixture
def failing_commits() -> Iterator[None]:
    """Every ORM commit runs a statement the database rejects, so ``Session.commit`` fails in the driver."""

    def refuse(session: Session) -> None:
        session.execute(text("SELECT no_such_column FROM merchant_account"))

    event.listen(Session, "before_commit", refuse)
    try:
        yield
    finally:
        event.remove(Session, "before_commit", refuse)


def _count(db_url: str, model: type[object]) -> int:
    engine = make_engine(db_url, pool_size=0)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "success", "model"),
    [
        (["merchants", "add", "shop", "--mchid", "1900000001"], "added", MerchantAccount),
        (["users", "add", "alice", "--all-accounts"], "user alice added", User),
    ],
)
def test_a_command_whose_commit_fails_prints_no_success(
    cli_env: Path, db_url: str, failing_commits: None, args: list[str], success: str, model: type[object]
) -> None:
    password = cli_env / "password"
    password.write_text("a long enough password", encoding="utf-8")
    extra = ["--password-file", str(password)] if args[0] == "users" else []
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code != 0 and result.exception is not None
    assert success not in result.output
    assert _count(db_url, model) == 0


def test_a_command_whose_commit_succeeds_prints_its_success(cli_env: Path, db_url: str) -> None:
    result = CliRunner().invoke(app, ["merchants", "add", "shop", "--mchid", "1900000001"])
    assert result.exit_code == 0, result.output
    assert "added shop (wechatpay 1900000001)" in result.output
    assert _count(db_url, MerchantAccount) == 1
