"""a date range's inbox phases read through one index: complaint (complained_at, sla_due_at, id)

Revision: 0013c (after 0012s), 2026-12-05

A date-range filter ("one week") is split by the deadline sort into the rows with a deadline and those
without; reading either phase's ids (the narrow-filter search, ``core/views/search.py``) went through
``ix_complaint_complained`` and read every row of the range to test ``sla_due_at``. With the deadline in
the index the range is read from the index alone. See ``core/workflow/models.py`` (``INBOX_INDEXES``).
"""

from __future__ import annotations

from alembic import op

revision = "0013c"
down_revision = "0012s"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_complaint_complained_due", "complaint", ["complained_at", "sla_due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_complaint_complained_due", table_name="complaint")
