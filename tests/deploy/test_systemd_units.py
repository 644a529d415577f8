"""The systemd units in deploy/systemd: hardened, and accepted by ``systemd-analyze verify``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
NAMES = ("complaintdesk.service", "complaintdesk-worker.service")
INSTALLED = "/opt/complaintdesk/venv/bin/complaintdesk"


def directives(text: str) -> dict[str, list[str]]:
    """Each ``Key=value`` line of a unit, by key (comments and sections dropped)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize("name", NAMES)
def test_unit_is_hardened_and_reads_secrets_from_an_environment_file(name: str) -> None:
    unit = directives((UNITS / name).read_text(encoding="utf-8"))
    assert unit["User"] == ["complaintdesk"] and unit["Group"] == ["complaintdesk"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ProtectHome"] == ["yes"] and unit["PrivateTmp"] == ["yes"]
    assert unit["CapabilityBoundingSet"] == [""]
    assert unit["EnvironmentFile"] == ["/etc/complaintdesk/complaintdesk.env"]
    assert unit["StateDirectory"] == ["complaintdesk"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ExecStart"][0].startswith(INSTALLED + " ")


def test_web_unit_leaves_jobs_to_the_worker_unit() -> None:
    web = directives((UNITS / "complaintdesk.service").read_text(encoding="utf-8"))
    worker = directives((UNITS / "complaintdesk-worker.service").read_text(encoding="utf-8"))
    assert web["ExecStart"] == [f"{INSTALLED} serve --workers 2 --no-jobs"]
    assert worker["ExecStart"] == [f"{INSTALLED} worker"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_both_units(tmp_path: Path) -> None:
    # The units name the installed path; point them at this environment's entry point, which exists.
    entry_point = Path(sys.executable).parent / "complaintdesk"
    assert entry_point.exists()
    for name in NAMES:
        text = (UNITS / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace(INSTALLED, str(entry_point)), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / n) for n in NAMES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Unknown or misplaced keys are only warnings: none is allowed either.
    assert result.stderr.strip() == "", result.stderr
