"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), settings, contexts."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session
from tests.s3server import MotoS3, start_moto_s3

from complaintdesk.db import make_engine, make_session_factory
from complaintdesk.migrate import upgrade
from complaintdesk.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "COMPLAINTDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_pg_state: dict[str, object] = {}


def _postgres_available() -> str | None:
    """Return a fresh test database URL, or None when PostgreSQL cannot be reached."""
    if "url" in _pg_state:
        return _pg_state["url"]  # type: ignore[return-value]
    url: str | None = None
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        name = f"complaintdesk_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        _pg_state["name"] = name
    except Exception as exc:
        _pg_state["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    _pg_state["url"] = url
    return url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    name = _pg_state.get("name")
    if name:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _pg_state.get("url"):
        terminalreporter.write_line(
            f"database tests ran on SQLite and PostgreSQL ({PG_ADMIN_URL.split('@')[-1]})"
        )
    elif "error" in _pg_state:
        terminalreporter.write_line(
            f"PostgreSQL SKIPPED: not reachable at {PG_ADMIN_URL.split('@')[-1]} ({_pg_state['error']}); "
            "database tests ran on SQLite only. Set COMPLAINTDESK_TEST_POSTGRES_URL to test PostgreSQL.",
            yellow=True,
        )


_pg_engine: dict[str, Engine] = {}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL: a SQLite file, or the shared PostgreSQL test database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    url = _postgres_available()
    if url is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]}: {_pg_state.get('error')}")
    engine = _pg_engine.get(url)
    if engine is None:
        engine = _pg_engine[url] = make_engine(url, pool_size=0)
        upgrade(engine)
    yield url
    with engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db(db_url: str) -> Iterator[Session]:
    """An ORM session on the test's database (nothing committed unless the test commits)."""
    engine = make_engine(db_url, pool_size=0)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own database and data directory, fast schedules."""
    return Settings(
        database_url=db_url,
        data_dir=tmp_path,
        data_key=secrets.token_urlsafe(40),
        job_poll_seconds=0.05,
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    """A real S3-compatible server (moto, server mode) on 127.0.0.1, shared by the session's tests."""
    server = start_moto_s3(tmp_path_factory.mktemp("s3-secrets"))
    yield server
    server.server.stop()
