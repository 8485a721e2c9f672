"""message kinds (issue 20): a message is text, a cart event, a product link, a discount code
or an image; what is not text keeps its facts in `payload` and a readable `body` fallback

Revision ID: 0025_message_kinds
Revises: 0024_shopper_seen
Create Date: 2026-12-05 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_message_kinds"
down_revision = "0024_shopper_seen"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="text")
        )
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation_messages", schema=None) as batch_op:
        batch_op.drop_column("payload")
        batch_op.drop_column("kind")
