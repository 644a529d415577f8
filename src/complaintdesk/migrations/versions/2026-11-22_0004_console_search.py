"""console search index (SQLite FTS5 trigram table + triggers; PostgreSQL pg_trgm GIN index)

Revision: 0004 (after 0003), 2026-11-22

Manual operations only: the objects live outside the ORM metadata and are described in
``complaintdesk.core.views.search`` (``install`` is idempotent and can be re-run after a migration that
rebuilds the ``complaint`` table in SQLite batch mode, which drops its triggers).
"""

from __future__ import annotations

from alembic import op

from complaintdesk.core.views import search

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    search.install(op.get_bind())


def downgrade() -> None:
    search.uninstall(op.get_bind())
