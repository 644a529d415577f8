"""report roll-up: daily sums per account and channel for the dashboard, stale-day marks

Revision: 0010r (after 0011d), 2026-12-05

The tables start empty: ``complaintdesk reports refresh`` (or the ``refresh_reports`` periodic job)
fills them; until then every day is read live (see ``core/reports/rollup_models.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010r"
down_revision = "0011d"
branch_labels = None
depends_on = None

_COUNTS = (
    "received", "finished", "breached", "warned", "requested", "approved", "rejected",
    "times_1", "times_2", "times_3", "times_4", "times_6", "returning_payer",
)  # fmt: skip
_AMOUNTS = ("requested_fen", "approved_fen", "rejected_fen")


def _key() -> list[sa.Column[object]]:
    return [
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("merchant_account_id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "report_day",
        *_key(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _AMOUNTS),
    )
    op.create_table(
        "report_day_problem",
        *_key(),
        sa.Column("problem_type", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_table(
        "report_day_duration",
        *_key(),
        sa.Column("metric", sa.String(16), primary_key=True),
        sa.Column("bucket", sa.Integer(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("min_seconds", sa.Float(), nullable=False),
        sa.Column("max_seconds", sa.Float(), nullable=False),
    )
    op.create_table(
        "report_day_operator",
        *_key(),
        sa.Column("operator", sa.String(128), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    # what a report reads, the summed columns included (index-only scans)
    op.create_index("ix_report_day_merchant", "report_day", ["merchant_account_id", "day"])
    op.create_index(
        "ix_report_day_problem_merchant",
        "report_day_problem",
        ["merchant_account_id", "day", "problem_type", "n"],
    )
    op.create_index(
        "ix_report_day_duration_merchant",
        "report_day_duration",
        ["merchant_account_id", "day", "metric", "bucket", "n", "min_seconds", "max_seconds"],
    )
    op.create_index(
        "ix_report_day_operator_merchant",
        "report_day_operator",
        ["merchant_account_id", "day", "operator", "n"],
    )
    op.create_table(
        "report_rollup_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("complete_until", sa.Date(), nullable=True),
    )
    op.create_table("report_stale_day", sa.Column("day", sa.Date(), primary_key=True))
    # what the live part reads: actions per day, and whether a payer complained about a merchant before
    op.create_index("ix_outbound_action_created", "outbound_action", ["created_at"])
    op.create_index(
        "ix_complaint_payer_merchant", "complaint", ["payer_openid", "merchant_account_id", "complained_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_payer_merchant", table_name="complaint")
    op.drop_index("ix_outbound_action_created", table_name="outbound_action")
    for table in ("report_stale_day", "report_rollup_state"):
        op.drop_table(table)
    for table in ("report_day_operator", "report_day_duration", "report_day_problem", "report_day"):
        op.drop_index(f"ix_{table}_merchant", table_name=table)
        op.drop_table(table)
