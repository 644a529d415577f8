"""console sessions (revoked by sign-out) and who uploaded each evidence file

Revision: 0006s (after 0006t), 2026-12-04

``console_session`` holds one row per signed-in browser (the SHA-256 of the id its cookie carries);
signing out deletes it. ``media_upload`` records who uploaded a file and for which merchant accounts,
so an action may use an uploaded image only on a complaint of those accounts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from complaintdesk.db import UTCDateTime

revision = "0006s"
down_revision = "0006t"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_console_session_user_id_app_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id_hash", name="pk_console_session"),
    )
    op.create_index("ix_console_session_user_id", "console_session", ["user_id"])
    op.create_table(
        "media_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(128), nullable=False),
        sa.Column("all_accounts", sa.Boolean(), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["media_file.sha256"], name="fk_media_upload_sha256_media_file"),
        sa.PrimaryKeyConstraint("id", name="pk_media_upload"),
    )
    op.create_index("ix_media_upload_sha256", "media_upload", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_media_upload_sha256", table_name="media_upload")
    op.drop_table("media_upload")
    op.drop_index("ix_console_session_user_id", table_name="console_session")
    op.drop_table("console_session")
