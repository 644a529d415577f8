"""Issue #15: `complaintdesk --help` lists every command without importing the application (fast start).

No timing is asserted (machines differ): the test checks the cause instead — the heavy modules (the web
app, SQLAlchemy, the channels) are not imported by the top-level help, and each command still loads.
"""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from complaintdesk.cli.main import LAZY, app

_PROBE = """
import sys
from typer.testing import CliRunner
from complaintdesk.cli.main import app
result = CliRunner().invoke(app, ["--help"])
assert result.exit_code == 0, result.output
heavy = [m for m in ("fastapi", "sqlalchemy", "complaintdesk.app", "complaintdesk.channels.registry",
                     "cryptography.hazmat.primitives.serialization") if m in sys.modules]
print("HEAVY", heavy)
print(result.output)
"""


def test_top_level_help_lists_every_command_without_importing_the_application() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stdout, done.stdout[:500]
    for name in (*LAZY, "serve", "worker"):
        assert name in done.stdout, name


def test_each_lazy_command_loads_and_shows_its_own_help() -> None:
    for name in LAZY:
        result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output and name in result.output
    replies = CliRunner().invoke(app, ["complaints", "--help"])
    assert all(verb in replies.output for verb in ("reply", "complete", "refund"))


def test_version_names_the_installed_distribution_and_runs_no_command() -> None:
    from importlib.metadata import version

    done = subprocess.run(
        [sys.executable, "-m", "complaintdesk.cli.main", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == f"complaintdesk {version('complaintdesk')}"
