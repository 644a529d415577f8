from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from complaintdesk.core.views.search import SEARCH_OBJECTS
from complaintdesk.db import make_engine
from complaintdesk.migrate import current_revision
from complaintdesk.models import Base


def _ours(name: str | None, type_: str, _parent: object) -> bool:
    """Outside the ORM metadata: the console's search index (FTS5 tables, trigram index) and
    procrastinate's job tables (its own schema, installed by ``migrate.install_job_schema``)."""
    return name not in SEARCH_OBJECTS and not (name or "").startswith(("procrastinate_", "idx_procrastinate"))


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_create_exactly_the_models(db_url: str) -> None:
    engine = make_engine(db_url, pool_size=0)
    try:
        assert current_revision(engine) is not None
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": False, "include_name": _ours}),
                Base.metadata,
            )
        assert diff == []
    finally:
        engine.dispose()
