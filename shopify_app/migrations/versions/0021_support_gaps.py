"""support gaps (issue 21): flagged referrals held for review, undo from the audit, clicks
on one share's link

Revision ID: 0021_support_gaps
Revises: 0020_conversations
Create Date: 2026-12-05 00:45:00

Columns are added in place (no batch copy): `referrals` has children, and on SQLite a batch
migration would drop and recreate it under them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_support_gaps"
down_revision = "0020_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("referrals", sa.Column("flagged_at", sa.DateTime(), nullable=True))
    op.add_column("referrals", sa.Column("flag_reason", sa.Text(), nullable=True))
    op.add_column("audit_entries", sa.Column("undone_by_id", sa.Integer(), nullable=True))
    op.add_column("referral_clicks", sa.Column("share_token", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral_clicks", schema=None) as batch_op:
        batch_op.drop_column("share_token")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_column("undone_by_id")
    op.drop_column("referrals", "flag_reason")
    op.drop_column("referrals", "flagged_at")
