"""Alembic environment: runs against the connection handed over by ``complaintdesk.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from complaintdesk.core.views.search import SEARCH_OBJECTS
from complaintdesk.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=lambda name, _type, _parent: name not in SEARCH_OBJECTS,  # console search index
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    from complaintdesk.db import make_engine

    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
else:
    _run(connection)
