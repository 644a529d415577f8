"""A built wheel installs into a fresh virtualenv and serves: package data (templates, static files,
.po catalogs, migrations, API docs assets) travels with it. Installs from the package index the
machine's pip is set up with, pinned by constraints.txt."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.deploy.nginx_harness import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PACKAGE_DATA = """
import importlib.resources as r, sys
root = r.files("complaintdesk")
assert not str(root).startswith(sys.argv[1]), root  # installed, not the source tree
for path in sys.argv[2:]:
    assert (root / path).is_file(), path
print(root)
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTDESK_") and k != "PYTHONPATH"}
    return {**env, **extra}


def _run(*args: str | Path, cwd: Path) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    project = work / "project"  # a copy: building never leaves build/ or *.egg-info in the checkout
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", project, cwd=work)
    (wheel,) = (work / "dist").glob("complaintdesk-*.whl")
    _run(sys.executable, "-m", "venv", work / "venv", cwd=work)
    _run(work / "venv/bin/pip", "install", "-q", "-c", ROOT / "constraints.txt", wheel, cwd=work)
    return work / "venv"


def test_the_wheel_carries_its_package_data(venv: Path, tmp_path: Path) -> None:
    files = [
        "py.typed",
        "migrations/env.py",
        "migrations/script.py.mako",
        "migrations/versions/2026-11-22_0001_initial_schema.py",
        "web/console/templates/login.html",
        "web/console/static/console.css",
        "web/console/static/live.js",
        "web/console/locale/zh_CN/LC_MESSAGES/messages.po",
        "web/console/locale/en/LC_MESSAGES/messages.po",
    ]
    _run(venv / "bin/python", "-c", PACKAGE_DATA, ROOT, *files, cwd=tmp_path)


def test_the_installed_command_starts(venv: Path, tmp_path: Path) -> None:
    out = _run(venv / "bin/complaintdesk", "--help", cwd=tmp_path)
    for command in ("serve", "worker", "demo", "doctor"):
        assert command in out


def test_the_installed_server_serves_console_api_and_docs_on_sqlite(venv: Path, tmp_path: Path) -> None:
    port = free_port()
    key = tmp_path / "data_key.txt"
    key.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "cd.db"}"\ndata_dir = "{tmp_path}"\n'
        f'data_key_file = "{key}"\npublic_base_url = "http://127.0.0.1:{port}"\n',
        encoding="utf-8",
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(venv / "bin/complaintdesk"), "serve", "--port", str(port)],
            cwd=tmp_path, env=_env(COMPLAINTDESK_CONFIG=str(config)), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            login = client.get("/login", headers={"Accept-Language": "zh-CN"})
            assert login.status_code == 200 and "登录" in login.text  # template + compiled catalog
            assert client.get("/static/console/console.css").status_code == 200
            assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
            assert client.get("/openapi.json").json()["info"]["title"] == "complaintdesk"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text(errors="replace")
    with sqlite3.connect(tmp_path / "cd.db") as db:  # the migrations ran from the installed package
        assert db.execute("select version_num from alembic_version").fetchone()[0]
