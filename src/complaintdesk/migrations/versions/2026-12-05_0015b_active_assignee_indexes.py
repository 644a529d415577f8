"""partial indexes on the active complaints by assignee: "mine" and "unassigned" views and badges

Revision: 0015b (after 0014a), 2026-12-05

"Mine" (``assignee_id = :me``) and "unassigned" (``COALESCE(assignee_id, 0) = 0``) among the active
complaints were read by a bitmap of every active complaint (a tenth of the table): 14 and 18 ms of the
inbox badges' 41 ms at 1,000,000 complaints on PostgreSQL (``bench/console.py``). These indexes hold
only active complaints, so both read at most the rows they count. See ``core/workflow/models.py``
(``INBOX_INDEXES``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015b"
down_revision = "0014a"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('open', 'responded', 'in_platform', 'unknown')")


def upgrade() -> None:
    op.create_index(
        "ix_complaint_active_assignee",
        "complaint",
        ["assignee_id", "sla_due_at", "id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_index(
        "ix_complaint_active_unassigned",
        "complaint",
        [sa.text("COALESCE(assignee_id, 0)"), "sla_due_at", "id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_active_unassigned", table_name="complaint")
    op.drop_index("ix_complaint_active_assignee", table_name="complaint")
