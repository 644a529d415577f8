"""alerts: a counter shared by every process (refused webhook signatures per account and window)

Revision: 0009a (after 0008l), 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from complaintdesk.db import UTCDateTime

revision = "0009a"
down_revision = "0008l"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_counter",
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_alert_counter"),
    )
    op.create_index("ix_alert_counter_window_start", "alert_counter", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_alert_counter_window_start", table_name="alert_counter")
    op.drop_table("alert_counter")
