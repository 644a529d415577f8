"""`make demo` ports and the demo's CJK font check (the demo itself runs in tests/e2e/test_cli.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from complaintdesk.cli.demo_screen import FONT_FIX, DemoPorts, cjk_font_missing

ROOT = Path(__file__).resolve().parents[2]


def test_ports_follow_the_console_port_unless_given() -> None:
    assert DemoPorts.derive(9000, 0, 0, 0, 0) == DemoPorts(9000, 9001, 9002, 9003, 9004)
    assert DemoPorts.derive(9000, 7000, 0, 7500, 0) == DemoPorts(9000, 7000, 7001, 7500, 7003)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ([], "complaintdesk demo\n"),
        (["DEMO_PORT=9100"], "complaintdesk demo --port 9100\n"),
        (
            ["DEMO_PORT=9100", "DEMO_SIMULATOR_PORT=9200"],
            "complaintdesk demo --port 9100 --simulator-port 9200\n",
        ),
    ],
)
def test_make_demo_passes_the_ports_on(variables: list[str], expected: str) -> None:
    result = subprocess.run(
        ["make", "-s", "-n", "-o", ".venv/.installed", "demo", *variables],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("DEMO_")},
    )  # fmt: skip
    assert result.stdout.endswith(expected.replace("complaintdesk", ".venv/bin/complaintdesk", 1))


def _fc_list(directory: Path, output: str) -> None:
    directory.mkdir()
    script = directory / "fc-list"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\n", encoding="utf-8")
    script.chmod(0o755)


def test_font_check_reports_a_machine_without_a_cjk_font(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fc_list(tmp_path / "none", "")
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert cjk_font_missing()
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # no fontconfig at all
    assert cjk_font_missing()
    assert FONT_FIX == "apt-get install -y fonts-wqy-microhei"


def test_font_check_accepts_an_installed_cjk_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fc_list(tmp_path / "some", "WenQuanYi Micro Hei,文泉驿微米黑\\n")
    monkeypatch.setenv("PATH", str(tmp_path / "some"))
    assert not cjk_font_missing()
