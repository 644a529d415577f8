"""fencing tokens and leases for outbox sends and media downloads

Revision: 0005 (after 0004), 2026-12-04

``outbound_action.fence`` / ``media_link.fence`` count the claims of a row; ``lease_until`` is when the
current claim may be taken over. A sender or downloader acts only while its fence is the row's.
``inbox_event.claimed_at`` is no longer used (kept: dropping it would rebuild a large table on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from complaintdesk.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("outbound_action", "media_link"):
        op.add_column(table, sa.Column("fence", sa.Integer(), nullable=False, server_default="0"))
        op.add_column(table, sa.Column("lease_until", UTCDateTime(), nullable=True))
    # Notifications no longer carry claims (one job per complaint processes them): a claim left by the
    # previous version is released. An action left ``sending`` has no lease, so it is taken over as
    # ``uncertain`` (its history is read before any resend).
    op.execute("UPDATE inbox_event SET status = 'pending', claimed_at = NULL WHERE status = 'processing'")


def downgrade() -> None:
    for table in ("outbound_action", "media_link"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lease_until")
            batch.drop_column("fence")
