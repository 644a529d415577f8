from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from complaintdesk.db import make_engine
from complaintdesk.migrate import current_revision
from complaintdesk.models import Base


def test_migrations_create_exactly_the_models(db_url: str) -> None:
    engine = make_engine(db_url, pool_size=0)
    try:
        assert current_revision(engine) is not None
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata
            )
        assert diff == []
    finally:
        engine.dispose()
