"""the live console: a change feed every process follows, and who has a complaint open

Revision: 0008l (after 0007a), 2026-12-04

``live_event`` gets a row for each complaint whose row, timeline or actions changed, in the transaction
that changed it (pruned after minutes). ``console_presence`` has one row per open complaint page.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from complaintdesk.db import UTCDateTime

revision = "0008l"
down_revision = "0007a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_live_event"),
    )
    op.create_index("ix_live_event_at", "live_event", ["at"])
    op.create_table(
        "console_presence",
        sa.Column("tab_id", sa.String(36), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaint.id"],
            name="fk_console_presence_complaint_id_complaint",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_console_presence_user_id_app_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tab_id", name="pk_console_presence"),
    )
    op.create_index("ix_console_presence_complaint", "console_presence", ["complaint_id", "seen_at"])


def downgrade() -> None:
    op.drop_index("ix_console_presence_complaint", table_name="console_presence")
    op.drop_table("console_presence")
    op.drop_index("ix_live_event_at", table_name="live_event")
    op.drop_table("live_event")
