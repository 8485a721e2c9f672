"""delivery status (issue 21, D3): the Message-ID and sender of each email the app sends,
and what the mail system later reported about it (delivered / bounced / complained)

Revision ID: 0023_delivery_status
Revises: 0022_dashboard
Create Date: 2026-12-05 01:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_delivery_status"
down_revision = "0022_dashboard"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("email_messages", sa.Column("message_id_header", sa.String(255), nullable=True))
    op.add_column("email_messages", sa.Column("sender", sa.String(320), nullable=True))
    op.add_column("email_messages", sa.Column("delivery_status", sa.String(16), nullable=True))
    op.add_column("email_messages", sa.Column("delivery_detail", sa.Text(), nullable=True))
    op.add_column("email_messages", sa.Column("delivery_reported_at", sa.DateTime(), nullable=True))
    op.create_index("ix_email_messages_message_id_header", "email_messages", ["message_id_header"])


def downgrade() -> None:
    op.drop_index("ix_email_messages_message_id_header", table_name="email_messages")
    with op.batch_alter_table("email_messages", schema=None) as batch_op:
        batch_op.drop_column("delivery_reported_at")
        batch_op.drop_column("delivery_detail")
        batch_op.drop_column("delivery_status")
        batch_op.drop_column("sender")
        batch_op.drop_column("message_id_header")
