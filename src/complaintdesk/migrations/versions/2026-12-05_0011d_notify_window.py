"""inbox: the sliding dedupe window of notifications without an id (Huishouqian)

Revision: 0011d (after 0009r), 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011d"
down_revision = "0009r"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_window",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(100), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "account_id", "identity", name="pk_notify_window"),
    )


def downgrade() -> None:
    op.drop_table("notify_window")
