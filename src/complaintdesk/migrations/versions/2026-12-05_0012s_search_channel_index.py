"""a channel's inbox in deadline order: indexes on complaint (channel, sla_due_at, id) and
(channel, sla_state, sla_due_at, id)

Revision: 0012s (after 0010r), 2026-12-05

The channel had no index: a channel filter walked the deadline index and read every row to check the
channel, and reading a channel's ids (the narrow-filter search) read every active row; with an SLA state
(a small set: "huishouqian, breached") the second index holds exactly the filter, in deadline order. See
``core/workflow/models.py`` (``INBOX_INDEXES``) and ``core/views/search.py``.
"""

from __future__ import annotations

from alembic import op

revision = "0012s"
down_revision = "0010r"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_complaint_channel_due", "complaint", ["channel", "sla_due_at", "id"])
    op.create_index(
        "ix_complaint_channel_state_due", "complaint", ["channel", "sla_state", "sla_due_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_channel_state_due", table_name="complaint")
    op.drop_index("ix_complaint_channel_due", table_name="complaint")
