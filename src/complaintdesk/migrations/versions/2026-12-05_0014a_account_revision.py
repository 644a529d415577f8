"""merchant_account.revision: every process drops a runtime built from an older revision

Revision: 0014a (after 0013c), 2026-12-05

An account's runtime (keys, certificates, HTTP client) is built once per process and cached. An edit in
the console, a disable or a downloaded platform certificate bumps ``revision``; each process compares the
revisions of its cached runtimes every few seconds (``account_recheck_seconds``) and rebuilds the stale
ones, so a rotated key reaches every web and job process without a restart.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014a"
down_revision = "0013c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("merchant_account", sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy would drop a table others reference.
    op.drop_column("merchant_account", "revision")
