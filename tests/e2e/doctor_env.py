"""Loopback servers for the doctor's tests: our own app (the public callback URL) and the simulators."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from tests.e2e.test_crash import free_port

from complaintdesk.app import create_app
from complaintdesk.core.accounts import service as account_service
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings


class Loopback:
    """One ASGI app served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:  # startup, not a timed assertion
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def desk(settings: Settings) -> tuple[Settings, Loopback]:
    """Our app on loopback, and settings whose ``public_base_url`` is its address."""
    port = free_port()
    public = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})
    return public, Loopback(create_app(ctx=AppContext(public), run_jobs=False), port)


def secret_file(directory: Path, name: str, value: str | bytes) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(value.encode("utf-8") if isinstance(value, str) else value)
    path.chmod(0o600)
    return f"file:{path}"


def add_account(ctx: AppContext, **fields: Any) -> None:
    with ctx.session() as session:
        account_service.create(session=session, **fields)
