"""chat permission (issue 20): the shop owner grants staff who opened the app the right to
chat with shoppers (the account owner always has it)

Revision ID: 0026_assign
Revises: 0025_message_kinds
Create Date: 2026-12-05 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_assign"
down_revision = "0025_message_kinds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("chat_permission", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_column("chat_permission")
