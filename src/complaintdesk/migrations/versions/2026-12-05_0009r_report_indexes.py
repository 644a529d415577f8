"""report indexes: incremental pulls by updated_at, finishes per day, SLA events and refund decisions

Revision: 0009r (after 0009a), 2026-12-05

No new table: see ``core/reports/models.py`` for what reads each index.
"""

from __future__ import annotations

from alembic import op

revision = "0009r"
down_revision = "0009a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_complaint_updated", "complaint", ["updated_at", "id"])
    op.create_index("ix_complaint_resolved", "complaint", ["resolved_at"])
    op.create_index("ix_timeline_kind_complaint", "timeline_entry", ["kind", "complaint_id"])
    op.create_index("ix_outbound_action_kind_status", "outbound_action", ["kind", "status", "complaint_id"])


def downgrade() -> None:
    op.drop_index("ix_outbound_action_kind_status", table_name="outbound_action")
    op.drop_index("ix_timeline_kind_complaint", table_name="timeline_entry")
    op.drop_index("ix_complaint_resolved", table_name="complaint")
    op.drop_index("ix_complaint_updated", table_name="complaint")
