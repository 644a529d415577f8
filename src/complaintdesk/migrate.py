"""Run Alembic migrations programmatically (``complaintdesk db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str = "") -> Config:
    """Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (and, on PostgreSQL, install procrastinate's)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        if connection.dialect.name == "postgresql":
            install_job_schema(connection)


def install_job_schema(connection: Connection) -> bool:
    """Create procrastinate's tables, types and functions unless they exist; True when created.

    The schema is the one of the pinned procrastinate version. Upgrading procrastinate means applying
    its migrations first (``docs/operations.md``, "Upgrading").
    """
    exists = connection.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar()
    if exists:
        return False
    from procrastinate.schema import SchemaManager

    cursor = connection.connection.cursor()  # the driver's own: no parameters, so '%' stays as written
    try:
        cursor.execute(SchemaManager.get_schema())
    finally:
        cursor.close()
    return True


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
