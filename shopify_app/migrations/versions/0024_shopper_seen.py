"""shopper seen (issue 19): the newest message the shopper's widget reported on screen, so a
staff reply they never saw is emailed after a delay

Revision ID: 0024_shopper_seen
Revises: 0023_delivery_status
Create Date: 2026-12-05 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_shopper_seen"
down_revision = "0023_delivery_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "conversations", sa.Column("shopper_seen_message_id", sa.Integer(), nullable=True)
    )
    # Replies sent before the widget reported what it saw count as seen: otherwise the first
    # sweep after the upgrade would email every reply of the last two days sent to a shopper
    # who was online.
    op.execute(
        "UPDATE conversations SET shopper_seen_message_id = ("
        " SELECT MAX(m.id) FROM conversation_messages m"
        " WHERE m.conversation_id = conversations.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("shopper_seen_message_id")
