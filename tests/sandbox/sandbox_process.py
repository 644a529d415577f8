"""A real ``complaintdesk sandbox wechatpay`` process on a free loopback port, for tests."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    """A port free right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_sandbox(state_dir: Path, *options: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Start the process with ``options``; yields its base URL and ``GET /sandbox/merchants``; stops it."""
    port = free_port()
    command = [sys.executable, "-m", "complaintdesk.cli.main", "sandbox", "wechatpay", "--port", str(port)]
    command += ["--state-dir", str(state_dir), *options]
    log_path = state_dir / "process.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            yield base, _wait_ready(base, process, log_path)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def _wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path) -> list[dict[str, Any]]:
    """Poll the control endpoint until the process serves (start-up, not a timed assertion)."""
    for _ in range(600):
        if process.poll() is not None:
            pytest.fail(log_path.read_text(encoding="utf-8", errors="replace"))
        try:
            data: list[dict[str, Any]] = httpx.get(f"{base}/sandbox/merchants", timeout=2).json()["data"]
            return data
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the sandbox process did not start serving")
