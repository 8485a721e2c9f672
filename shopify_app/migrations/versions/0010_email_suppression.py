"""email suppression list (one-click unsubscribe, staff) and send quotas (share limits per
advocate, recipient, IP and shop)

Revision ID: 0010_email_suppression
Revises: 0009_file_storage_and_erasure
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_email_suppression"
down_revision = "0009_file_storage_and_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_suppressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_canonical", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_email_suppressions_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_suppressions")),
        sa.UniqueConstraint("shop_id", "email", name="uq_email_suppressions_shop_id_email"),
    )
    op.create_index(
        "ix_email_suppressions_shop_canonical",
        "email_suppressions",
        ["shop_id", "email_canonical"],
    )
    op.create_table(
        "send_quotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_send_quotas_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_quotas")),
        sa.UniqueConstraint(
            "shop_id", "scope", "key", "period", name="uq_send_quotas_shop_id_scope_key_period"
        ),
    )
    op.create_index("ix_send_quotas_expires_at", "send_quotas", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_send_quotas_expires_at", table_name="send_quotas")
    op.drop_table("send_quotas")
    op.drop_index("ix_email_suppressions_shop_canonical", table_name="email_suppressions")
    op.drop_table("email_suppressions")
