"""``complaintdesk export``: filtered complaints and the report, CSV and XLSX, refusals, audit."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from consolekit import sessions_for
from sqlalchemy import select, update
from tests.core import report_data
from typer.testing import CliRunner

from complaintdesk.cli.main import app
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.db import unit_of_work
from complaintdesk.security import DataCipher

PHONE = "13912345678"


@pytest.fixture
def cli_db(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[int, int]:
    key_file = tmp_path / "data_key"
    key_file.write_text("d" * 48, encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(f'database_url = "{db_url}"\ndata_key_file = "{key_file}"\n', encoding="utf-8")
    monkeypatch.setenv("COMPLAINTDESK_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "200")
    from complaintdesk.settings import load_settings

    cipher = DataCipher(load_settings().data_key_bytes())
    with unit_of_work(sessions_for(db_url)) as s:
        data = report_data.build(s)
        s.execute(
            update(Complaint).where(Complaint.id == data.ids[1]).values(payer_phone_enc=cipher.encrypt(PHONE))
        )
    return data.ids


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_export_complaints_csv_and_xlsx_with_filters(
    cli_db: dict[int, int], tmp_path: Path, db_url: str
) -> None:
    out = tmp_path / "c.csv"
    printed = run(
        "export", "complaints", "--status", "", "--account", "rep-a", "--sort", "newest", "-o", str(out)
    )
    assert "wrote 5 complaints" in printed  # nos. 6, 4 (sub-merchant), 2, 5, 1
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["Complaint id", "Channel", "Merchant"]
    assert [int(r[0]) for r in rows[1:]] == [cli_db[n] for n in (6, 4, 2, 1, 5)]
    assert PHONE not in out.read_text(encoding="utf-8-sig")
    book_path = tmp_path / "c.xlsx"
    run("export", "complaints", "--status", "", "--channel", "miniprogram", "-f", "xlsx",
        "-o", str(book_path), "--reveal-phones", "--actor", "ops")  # fmt: skip
    sheet = openpyxl.load_workbook(book_path, read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert [v[0] for v in values[1:]] == [cli_db[3], cli_db[7]]  # deadline order: undated, by id
    run("export", "complaints", "--status", "", "--channel", "wechatpay", "--reveal-phones", "-o", str(out))
    assert PHONE in out.read_text(encoding="utf-8-sig")
    with unit_of_work(sessions_for(db_url)) as s:
        events = list(
            s.scalars(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id))
        )
    assert [(e.actor, e.details["phones"]) for e in events] == [
        ("cli", "masked"),
        ("ops", "full"),
        ("cli", "full"),
    ]


def test_export_report(cli_db: dict[int, int], tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    run("export", "report", "--from", "2026-06-01", "--to", "2026-06-10", "-o", str(out))
    lines = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert ["First response", "4", "2.0", "8.0"] in lines and ["bob", "2"] in lines
    book = tmp_path / "r.xlsx"
    run("export", "report", "--from", "2026-06-01", "--to", "2026-06-10", "--account", "rep-b", "-f", "xlsx",
        "-o", str(book))  # fmt: skip
    sheets = openpyxl.load_workbook(book, read_only=True)
    assert list(sheets["merchants"].iter_rows(values_only=True))[1] == ("Mini B", 2)


@pytest.mark.parametrize(
    "args",
    [("complaints", "-f", "pdf"), ("complaints", "--status", "bogus"), ("complaints", "--from", "2026-02-30"),
     ("complaints", "--account", "nobody"), ("report", "--period", "1y"), ("report", "--channel", "alipay"),
     ("report", "-f", "ods")],
)  # fmt: skip
def test_bad_options_are_refused_and_write_nothing(
    cli_db: dict[int, int], tmp_path: Path, args: tuple[str, ...]
) -> None:
    out = tmp_path / "x.out"
    result = CliRunner().invoke(app, ["export", *args, "-o", str(out)], catch_exceptions=False)
    assert result.exit_code != 0
    assert not out.exists()
