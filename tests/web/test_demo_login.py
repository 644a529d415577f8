"""``complaintdesk demo`` prints a console login that works."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.test_cli import free_port_run

pytestmark = pytest.mark.slow


def test_the_demo_prints_a_console_login_that_signs_in(tmp_path: Path) -> None:
    port = free_port_run(5)
    sim_port = port + 1
    proc = subprocess.Popen(
        [sys.executable, "-m", "complaintdesk.cli.main", "demo", "--port", str(port),
         "--simulator-port", str(sim_port), "--complaints", "3"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTDESK_")},
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        login = None
        while login is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            login = re.search(r"console +(http://127\.0\.0\.1:\d+/) +login: admin / (\S+)", line)
        assert login, "".join(lines)
        url, password = login.group(1), login.group(2)
        assert url == f"http://127.0.0.1:{port}/"
        with httpx.Client(base_url=url, timeout=10) as client:
            form = client.get("/login").text
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', form)
            assert csrf
            answer = client.post(
                "/login", data={"username": "admin", "password": password, "csrf_token": csrf.group(1)}
            )
            assert answer.status_code == 303
            inbox = client.get("/")
            assert inbox.status_code == 200 and 'data-testid="inbox"' in inbox.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
