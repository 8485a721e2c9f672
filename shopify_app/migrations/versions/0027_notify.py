"""notify (issue 20, F7): the unread streak of a conversation, the assignee emailed once per
streak, the shop's delay before that email, and an index for the unread count in the nav

Revision ID: 0027_notify
Revises: 0026_assign
Create Date: 2026-12-05 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_notify"
down_revision = "0026_assign"
branch_labels = None
depends_on = None

UNREAD = "unread_for_staff > 0"


def upgrade() -> None:
    op.add_column(
        "shops",
        sa.Column("unread_email_minutes", sa.Integer(), nullable=False, server_default="10"),
    )
    # Left empty for conversations already unread: their next shopper message starts a
    # streak, so the first sweep after the upgrade emails nothing old.
    op.add_column(
        "conversations", sa.Column("unread_since_message_id", sa.Integer(), nullable=True)
    )
    op.add_column(
        "conversations", sa.Column("assignee_notified_message_id", sa.Integer(), nullable=True)
    )
    op.create_index(
        "ix_conversations_unread",
        "conversations",
        ["shop_id", "archived_at"],
        postgresql_where=sa.text(UNREAD),
        sqlite_where=sa.text(UNREAD),
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_unread", table_name="conversations")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("assignee_notified_message_id")
        batch_op.drop_column("unread_since_message_id")
    # Not a batch (a copy of the table): triggers on other tables name `shops`, and SQLite
    # (3.35+) drops a column in place.
    op.drop_column("shops", "unread_email_minutes")
